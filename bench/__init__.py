"""Benchmarks of the platform: `python -m bench` runs them all and writes docs/benchmarks.md.

Each benchmark is also a module of its own (`python -m bench.search --help`). Results go to
`bench/results/` (git-ignored) as JSON; `python -m bench.report` turns them into the page.
"""
