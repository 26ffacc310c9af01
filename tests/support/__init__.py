"""Helpers shared by the test tiers (unit, integration, infra, reliability): no tier imports another's."""
