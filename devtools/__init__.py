"""Development helpers shared by tests, the demo and the benchmarks (not part of the Lambda asset)."""
