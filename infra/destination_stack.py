"""Destination account (prod): who may replicate in, and pre-created `prod-…` repositories with safe settings."""

from __future__ import annotations

from typing import Any

from aws_cdk import Environment, Stack
from constructs import Construct

from infra.config import DeployConfig
from infra.registry_policy import ReplicationPermissions
from infra.repositories import ImageRepositories


class DestinationStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=config.destination.account, region=config.destination.region),
            description="ecr-promoter: replication target registry (destination account)",
            **kwargs,
        )
        ReplicationPermissions(
            self,
            "ReplicationPermissions",
            source=config.source,
            destination=config.destination,
            prefix=config.replication_prefix,
        )
        # Replication creates missing repositories with default (mutable, unscanned) settings, and creation
        # templates cannot use the prefix `prod-`: create the policy's named targets up front instead.
        ImageRepositories(self, "Repositories", immutable=config.named_targets)
