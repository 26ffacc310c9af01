"""Registry setting BLOB_MOUNTING=ENABLED, so promotion mounts layers instead of copying them.

Superseded by `infra.registry_settings.SourceRegistrySettings` (merges instead of replacing); this module
goes once `infra/source_stack.py` uses that.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, aws_iam, aws_logs, custom_resources
from constructs import Construct

from infra.nag import acknowledge

SETTING = "BLOB_MOUNTING"


def _put_setting(value: str) -> custom_resources.AwsSdkCall:
    return custom_resources.AwsSdkCall(
        service="ECR",
        action="putAccountSetting",
        parameters={"name": SETTING, "value": value},
        physical_resource_id=custom_resources.PhysicalResourceId.of(SETTING),
    )


class BlobMountingSetting(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # Own role and log group: the default role would carry the AWSLambdaBasicExecutionRole managed policy.
        role = aws_iam.Role(self, "Role", assumed_by=aws_iam.ServicePrincipal("lambda.amazonaws.com"))
        logs = aws_logs.LogGroup(
            self, "Logs", retention=aws_logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        logs.grant_write(role)
        # No CloudFormation resource exists for ECR account settings: call the API on create/update/delete.
        self.resource = custom_resources.AwsCustomResource(
            self,
            "Setting",
            on_create=_put_setting("ENABLED"),
            on_update=_put_setting("ENABLED"),
            on_delete=_put_setting("DISABLED"),
            policy=custom_resources.AwsCustomResourcePolicy.from_statements(
                [aws_iam.PolicyStatement(actions=["ecr:PutAccountSetting"], resources=["*"])]
            ),
            role=role,
            log_group=logs,
            # The SDK in the Lambda runtime knows PutAccountSetting; nothing is downloaded at deploy time.
            install_latest_aws_sdk=False,
        )
        acknowledge(
            self.resource,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:PutAccountSetting is a registry-level action with no resource type; it is the only action granted.",
        )
