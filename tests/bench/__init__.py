"""Benchmarks (run as modules, e.g. ``python -m tests.bench.season``; not collected by pytest)."""
