"""The PEM of a KMS key's public key, as a custom-resource attribute a stack output can carry.

One small Lambda (infra/custom_resources/public_key_pem.py) with its own role that may call
kms:GetPublicKey on that one key, and its own log group.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy, aws_iam, aws_lambda, aws_logs
from constructs import Construct

from infra.custom_resources.public_key_pem import KEY_PROPERTY, PEM_ATTRIBUTE

HANDLER_SOURCE = Path(__file__).resolve().parent / "custom_resources"
HANDLER = "public_key_pem.on_event"


class PublicKeyPem(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key_arn: str) -> None:
        super().__init__(scope, construct_id)
        role = aws_iam.Role(
            self,
            "Role",
            assumed_by=aws_iam.ServicePrincipal("lambda.amazonaws.com"),
            description="ecr-promoter: read the attestation key's public key for a stack output",
        )
        logs = aws_logs.LogGroup(
            self, "Logs", retention=aws_logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.DESTROY
        )
        logs.grant_write(role)
        role.add_to_policy(aws_iam.PolicyStatement(actions=["kms:GetPublicKey"], resources=[key_arn]))
        handler = aws_lambda.Function(
            self,
            "Function",
            description="ecr-promoter: a KMS public key as PEM (custom resource)",
            runtime=aws_lambda.Runtime.PYTHON_3_14,
            architecture=aws_lambda.Architecture.ARM_64,
            handler=HANDLER,
            code=aws_lambda.Code.from_asset(str(HANDLER_SOURCE), exclude=["**/__pycache__", "**/*.pyc"]),
            role=role,
            log_group=logs,
            timeout=Duration.minutes(1),
            memory_size=128,
        )
        resource = CustomResource(
            self,
            "Resource",
            service_token=handler.function_arn,
            resource_type="Custom::KmsPublicKeyPem",
            properties={KEY_PROPERTY: key_arn},
        )
        self.pem: str = resource.get_att_string(PEM_ATTRIBUTE)
