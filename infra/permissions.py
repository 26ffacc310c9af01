"""Least privilege for the promoter: read only the policy's sources, write only its targets, one ledger table."""

from __future__ import annotations

from aws_cdk import aws_dynamodb, aws_iam

from infra.config import DeployConfig
from infra.nag import acknowledge

# Pull an image: manifests, blobs, tags and scan findings of a source repository.
# Cross-repository blob mount reads the `from` repository, which needs ecr:GetDownloadUrlForLayer on it
# (https://docs.aws.amazon.com/AmazonECR/latest/userguide/blob-mounting.html) — granted here on sources.
ECR_READ_ACTIONS = (
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
    "ecr:DescribeImages",
    "ecr:DescribeImageScanFindings",
    "ecr:ListImages",
)
# Push an image into a target; BatchGetImage/DescribeImages tell "already promoted" from "tag conflict".
ECR_WRITE_ACTIONS = (
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
)
# Exactly the calls promoter.ledger makes (conditional puts, updates, pending clean-up, queries).
LEDGER_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
)


def promotion_statements(config: DeployConfig, table_arn: str) -> list[aws_iam.PolicyStatement]:
    source, policy = config.source, config.policy
    return [
        aws_iam.PolicyStatement(
            sid="ReadSourceRepositories",
            actions=list(ECR_READ_ACTIONS),
            resources=[source.repository_arn(pattern) for pattern in policy.source_patterns],
        ),
        aws_iam.PolicyStatement(
            sid="WriteTargetRepositories",
            actions=list(ECR_WRITE_ACTIONS),
            resources=[source.repository_arn(pattern) for pattern in policy.target_patterns],
        ),
        # GetAuthorizationToken has no resource type: `*` is the only valid resource.
        aws_iam.PolicyStatement(sid="RegistryToken", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
        aws_iam.PolicyStatement(sid="Ledger", actions=list(LEDGER_ACTIONS), resources=[table_arn]),
        # A CodePipeline success event carries no commit; the promoter reads it from the execution.
        aws_iam.PolicyStatement(
            sid="PipelineRevisions",
            actions=["codepipeline:GetPipelineExecution"],
            resources=[source.arn("codepipeline", "*")],
        ),
    ]


def grant_promotion(role: aws_iam.Role, config: DeployConfig, table: aws_dynamodb.ITable) -> None:
    for statement in promotion_statements(config, table.table_arn):
        role.add_to_principal_policy(statement)
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "ecr:GetAuthorizationToken and the X-Ray actions (xray:PutTraceSegments, xray:PutTelemetryRecords) "
        "support no resource-level permissions; every other action is scoped to named resources.",
    )
    acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::{config.source.arn('codepipeline', '*')}]",
        "Any pipeline of this account may build the images a rule watches; the only action is the read-only "
        "codepipeline:GetPipelineExecution, needed to learn the commit of a successful run.",
    )
    for kind, patterns in (("source", config.policy.source_patterns), ("target", config.policy.target_patterns)):
        for pattern in patterns:
            if "*" in pattern:
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Resource::{config.source.repository_arn(pattern)}]",
                    f"The promotion policy names {kind} repositories by the glob {pattern!r}: the wildcard is "
                    "exactly the set of repositories the policy may promote from/into, nothing wider.",
                )
