"""Benchmarks: each prints ratios measured in one run, and `run` rewrites BENCHMARKS.md."""
