"""The GraphQL contract: strawberry types by feature, exported to ``schema.graphql``."""
