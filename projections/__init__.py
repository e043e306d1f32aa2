"""The read side: key design, builders, the stream handler and readers."""
