"""Benchmarks: `python -m benchmarks.run_all [--quick]` runs every benchmarks/bench_*.py.

Results go to benchmarks/out/ (git-ignored); docs/PERFORMANCE.md records the figures,
the exact commands and the machine they were measured on.
"""
