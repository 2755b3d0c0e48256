"""Benchmark scripts (run with ``python -m benchmarks.<name>``)."""
