"""Destination account (prod): who may replicate in, and pre-created `prod-…` repositories that outlive the stack."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Environment, RemovalPolicy, Stack, aws_ecr
from constructs import Construct

from infra.config import DeployConfig
from infra.notifications import AlarmNotifications
from infra.registry_settings import DestinationRegistryPolicy
from infra.replication_alarm import ReplicationFailureAlarm
from infra.repositories import TARGET_TAG_RULE, mutable_tag_filters


class DestinationStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        alarm_topic_arns: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=config.destination.account, region=config.destination.region),
            description="ecr-promoter: replication target registry (destination account)",
            **kwargs,
        )
        # Merged into the registry policy the account already has; on delete only this statement goes.
        self.registry_policy = DestinationRegistryPolicy(
            self,
            "ReplicationPermissions",
            source_account=config.source.account,
            partition=config.destination.partition,
            repository_arn=config.destination.repository_arn(f"{config.replication_prefix}*"),
        )
        # Replication creates missing repositories with default (mutable, unscanned) settings, and creation
        # templates cannot use the prefix `prod-`: create the policy's named targets up front instead.
        self.repositories: dict[str, aws_ecr.Repository] = {}
        for name in config.named_targets:
            self.repositories[name] = aws_ecr.Repository(
                self,
                name,
                repository_name=name,
                image_scan_on_push=True,
                # A promoted tag must never move: immutability turns a re-push into a visible conflict.
                image_tag_mutability=TARGET_TAG_RULE,
                # Replication must be able to move the `sha256-*` attestation/signature tags it ships.
                image_tag_mutability_exclusion_filters=mutable_tag_filters(),
                # Production images outlive the stack: `make destroy` lists them and how to delete them by hand.
                # RETAIN also lets `cdk import` adopt a repository that already exists (DEPLOY.md).
                removal_policy=RemovalPolicy.RETAIN,
            )
        # Replication fails where images land: in this registry. Alarm here, to the same e-mail/topics.
        self.notifications = AlarmNotifications(
            self, "Notifications", email=config.alarm_email, topic_arns=alarm_topic_arns
        )
        ReplicationFailureAlarm(
            self,
            "ReplicationFailures",
            notifications=self.notifications,
            source_account=config.source.account,
            repository_prefix=config.replication_prefix,
        )
