"""The edge, locally: CloudFront running the edge function, and Route 53 answering it."""
