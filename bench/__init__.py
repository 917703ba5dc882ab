"""The benchmark: `python -m bench.run` (see docs/performance.md for the method and results)."""
