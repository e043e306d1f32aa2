"""AppSync's data plane: HTTP and WebSocket endpoints, auth, execution, limits, fan-out."""
