"""CDK infrastructure of ecr-promoter: validated config, two stacks, one construct per concern."""
