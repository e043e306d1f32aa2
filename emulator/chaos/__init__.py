"""Faults injected into a running local deployment."""
