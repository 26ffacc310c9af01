"""Registry-wide ECR settings, merged with what the account already has instead of replacing it.

The replication configuration and the registry policy are one per registry; so is `BLOB_MOUNTING`. The
CloudFormation resources for the first two replace the whole value, so here a custom resource
(`infra/custom_resources/registry_settings.py`) reads, merges ours in, writes, and on delete removes only ours
and puts `BLOB_MOUNTING` back to its prior value. One small Lambda per stack, with its own role that may call
only the ECR actions of the settings that stack manages.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack, aws_iam, aws_lambda, aws_logs, custom_resources
from constructs import Construct

from infra.custom_resources.registry_settings import BLOB_MOUNTING, REGISTRY_POLICY_STATEMENT, REPLICATION_RULE
from infra.nag import acknowledge

HANDLER_SOURCE = Path(__file__).resolve().parent / "custom_resources"
HANDLER = "registry_settings.on_event"
REPLICATION_ACTIONS = ("ecr:CreateRepository", "ecr:ReplicateImage")
# PutReplicationConfiguration: "The first time the PutReplicationConfiguration API is called, a service-linked
# IAM role is created in your account for the replication process" (ECR API Reference).
REPLICATION_SERVICE = "replication.ecr.amazonaws.com"
REPLICATION_ROLE_PATH = f"role/aws-service-role/{REPLICATION_SERVICE}/AWSServiceRoleForECRReplication"


def registry_policy_sid(source_account: str) -> str:
    """Our statement's Sid: one per source account, so two sources replicating here do not overwrite each other."""
    return f"EcrPromoterReplicationFrom{source_account}"


class RegistrySettingsProvider(Construct):
    """The merge Lambda and the CDK Provider framework in front of it; `actions` are the ECR calls it may make."""

    def __init__(self, scope: Construct, construct_id: str, *, actions: list[str]) -> None:
        super().__init__(scope, construct_id)
        self.role = aws_iam.Role(
            self,
            "Role",
            assumed_by=aws_iam.ServicePrincipal("lambda.amazonaws.com"),
            description="ecr-promoter: merge its registry-wide ECR settings with the account's",
        )
        logs = aws_logs.LogGroup(
            self, "Logs", retention=aws_logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.DESTROY
        )
        logs.grant_write(self.role)
        self.role.add_to_policy(aws_iam.PolicyStatement(actions=actions, resources=["*"]))
        handler = aws_lambda.Function(
            self,
            "Function",
            description="ecr-promoter: merge replication rules / registry policy / BLOB_MOUNTING (custom resource)",
            runtime=aws_lambda.Runtime.PYTHON_3_14,
            architecture=aws_lambda.Architecture.ARM_64,
            handler=HANDLER,
            code=aws_lambda.Code.from_asset(str(HANDLER_SOURCE), exclude=["**/__pycache__", "**/*.pyc"]),
            role=self.role,
            log_group=logs,
            timeout=Duration.minutes(1),
            memory_size=256,
        )
        framework_role = aws_iam.Role(
            self, "FrameworkRole", assumed_by=aws_iam.ServicePrincipal("lambda.amazonaws.com")
        )
        framework_logs = aws_logs.LogGroup(
            self, "FrameworkLogs", retention=aws_logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.DESTROY
        )
        framework_logs.grant_write(framework_role)
        self.provider = custom_resources.Provider(
            self,
            "Provider",
            on_event_handler=handler,
            framework_on_event_role=framework_role,
            log_group=framework_logs,
        )
        acknowledge(
            self,
            "AwsSolutions-IAM5[Resource::*]",
            "The registry-level ECR actions granted here (DescribeRegistry, Put/GetAccountSetting, "
            "PutReplicationConfiguration, Get/Put/DeleteRegistryPolicy) have no resource type; "
            "they are the only actions on '*'.",
        )
        handler_id = Stack.of(self).get_logical_id(handler.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            self,
            f"AwsSolutions-IAM5[Resource::<{handler_id}.Arn>:*]",
            "The CDK Provider framework invokes the handler's versions and aliases (Arn:*); nothing else.",
        )

    def resource(self, construct_id: str, resource_type: str, properties: dict[str, str]) -> CustomResource:
        return CustomResource(
            self,
            construct_id,
            service_token=self.provider.service_token,
            resource_type=resource_type,
            properties=properties,
        )


class SourceRegistrySettings(Construct):
    """Source account: our replication rule (prefix → destination) and BLOB_MOUNTING=ENABLED, both merged."""

    def __init__(
        self, scope: Construct, construct_id: str, *, prefix: str, destination_account: str, destination_region: str
    ) -> None:
        super().__init__(scope, construct_id)
        provider = RegistrySettingsProvider(
            self,
            "RegistrySettings",
            actions=[
                "ecr:DescribeRegistry",
                "ecr:PutReplicationConfiguration",
                "ecr:GetAccountSetting",
                "ecr:PutAccountSetting",
            ],
        )
        provider.role.add_to_policy(
            aws_iam.PolicyStatement(
                actions=["iam:CreateServiceLinkedRole"],
                resources=[Stack.of(self).format_arn(service="iam", region="", resource=REPLICATION_ROLE_PATH)],
                conditions={"StringEquals": {"iam:AWSServiceName": REPLICATION_SERVICE}},
            )
        )
        # ECR can filter replication only by repository-name prefix, which is why promotion copies into `prod-…`.
        self.replication = provider.resource(
            "ReplicationRule",
            "Custom::EcrReplicationRule",
            {
                "Setting": REPLICATION_RULE,
                "Prefix": prefix,
                "DestinationRegistryId": destination_account,
                "DestinationRegion": destination_region,
            },
        )
        # Promotion mounts layers instead of copying them when the registry allows it.
        self.blob_mounting = provider.resource(
            "BlobMounting", "Custom::EcrBlobMounting", {"Setting": BLOB_MOUNTING, "Value": "ENABLED"}
        )


class DestinationRegistryPolicy(Construct):
    """Destination account: the source account may replicate into (and create) `<prefix>*`; merged by Sid."""

    def __init__(
        self, scope: Construct, construct_id: str, *, source_account: str, partition: str, repository_arn: str
    ) -> None:
        super().__init__(scope, construct_id)
        provider = RegistrySettingsProvider(
            self,
            "RegistrySettings",
            actions=["ecr:GetRegistryPolicy", "ecr:PutRegistryPolicy", "ecr:DeleteRegistryPolicy"],
        )
        self.statement = {
            "Sid": registry_policy_sid(source_account),
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{source_account}:root"},
            "Action": list(REPLICATION_ACTIONS),
            "Resource": repository_arn,
        }
        self.resource = provider.resource(
            "Statement",
            "Custom::EcrRegistryPolicyStatement",
            {"Setting": REGISTRY_POLICY_STATEMENT, "Statement": json.dumps(self.statement, sort_keys=True)},
        )
