"""`make bench`: ecr-promoter against skopeo on real local registries; writes BENCHMARKS.md."""
