"""locust user classes for the throughput and load benchmarks (run by locust, not imported)."""
