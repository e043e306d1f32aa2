"""The local AppSync: regional endpoints, auth, fan-out, streams and replication."""
