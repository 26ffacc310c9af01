"""ecr-promoter: gated promotion of container images between ECR repositories."""
