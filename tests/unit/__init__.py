"""Unit tests: the domain and the projections, with in-memory fakes and no sockets."""
