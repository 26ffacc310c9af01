"""Destination registry policy: the source account may replicate into (and create) `<prefix>*` repositories."""

from __future__ import annotations

from aws_cdk import aws_ecr
from constructs import Construct

from infra.config import AccountRegion

REPLICATION_ACTIONS = ("ecr:CreateRepository", "ecr:ReplicateImage")


class ReplicationPermissions(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, source: AccountRegion, destination: AccountRegion, prefix: str
    ) -> None:
        super().__init__(scope, construct_id)
        # One per registry, like the replication configuration on the other side.
        aws_ecr.CfnRegistryPolicy(
            self,
            "Policy",
            policy_text={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ReplicationAccessCrossAccount",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:{source.partition}:iam::{source.account}:root"},
                        "Action": list(REPLICATION_ACTIONS),
                        "Resource": destination.repository_arn(f"{prefix}*"),
                    }
                ],
            },
        )
