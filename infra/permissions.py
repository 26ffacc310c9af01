"""Least privilege for the promoter: read only the policy's sources, write only its targets, one ledger table."""

from __future__ import annotations

from aws_cdk import aws_dynamodb, aws_iam

from infra.config import DeployConfig
from infra.nag import acknowledge
from promoter.contract import DEFAULT_EVENT_BUS

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
# Push an image into a target; BatchGetImage/DescribeImages tell "already promoted" from "tag conflict";
# ListImages/DescribeImages let the bypass audit list every digest a target holds.
ECR_WRITE_ACTIONS = (
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
    "ecr:ListImages",
)
INSPECTOR_ACTION = "inspector2:ListFindings"
CODEBUILD_ACTION = "codebuild:BatchGetBuilds"
CODEPIPELINE_ACTION = "codepipeline:GetPipelineExecution"
PUT_EVENTS_ACTION = "events:PutEvents"
# The backfill and the bypass audit list the repositories a glob names (promoter.adapters.repository_listing):
# DescribeRepositories without repositoryNames describes the whole registry, so it is not scoped by a pattern.
LIST_REPOSITORIES_ACTION = "ecr:DescribeRepositories"
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
        # Enhanced scanning: DescribeImageScanFindings reads the findings from Amazon Inspector, which
        # needs inspector2:ListFindings (ECR user guide, "IAM permissions required for enhanced scanning").
        # ListFindings has no resource type (Service Authorization Reference, Amazon Inspector2): `*` only.
        aws_iam.PolicyStatement(sid="EnhancedScanFindings", actions=[INSPECTOR_ACTION], resources=["*"]),
        # Decisions go out as events on the account's default bus (Env.EVENT_BUS), and on no other bus.
        aws_iam.PolicyStatement(
            sid="PublishDecisions",
            actions=[PUT_EVENTS_ACTION],
            resources=[source.arn("events", f"event-bus/{DEFAULT_EVENT_BUS}")],
        ),
        *_listing_statements(config),
        *_ci_statements(config),
    ]


def _has_glob(config: DeployConfig) -> bool:
    return any("*" in pattern for pattern in (*config.policy.source_patterns, *config.policy.target_patterns))


def _listing_statements(config: DeployConfig) -> list[aws_iam.PolicyStatement]:
    """Repository names for glob rules only: named repositories are never listed (the function names them)."""
    if not _has_glob(config):
        return []
    return [
        aws_iam.PolicyStatement(
            sid="ListRepositories",
            actions=[LIST_REPOSITORIES_ACTION],
            resources=[config.source.repository_arn("*")],
        )
    ]


def _ci_statements(config: DeployConfig) -> list[aws_iam.PolicyStatement]:
    """Confirm a build/pipeline success (and read its commit) from the API, for the projects the policy names."""
    source, suites = config.source, config.ci_suites
    statements = []
    if suites.codebuild_projects:
        statements.append(
            aws_iam.PolicyStatement(
                sid="ConfirmBuilds",
                actions=[CODEBUILD_ACTION],
                resources=[source.arn("codebuild", f"project/{name}") for name in suites.codebuild_projects],
            )
        )
    if suites.pipelines:
        statements.append(
            aws_iam.PolicyStatement(
                sid="ConfirmPipelineRuns",
                actions=[CODEPIPELINE_ACTION],
                resources=[source.arn("codepipeline", name) for name in suites.pipelines],
            )
        )
    return statements


def grant_promotion(role: aws_iam.Role, config: DeployConfig, table: aws_dynamodb.ITable) -> None:
    for statement in promotion_statements(config, table.table_arn):
        role.add_to_principal_policy(statement)
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        f"ecr:GetAuthorizationToken, {INSPECTOR_ACTION} (read-only; enhanced-scan findings) and the X-Ray actions "
        "(xray:PutTraceSegments, xray:PutTelemetryRecords) support no resource-level permissions (Service "
        "Authorization Reference); every other action is scoped to named resources.",
    )
    if _has_glob(config):
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{config.source.repository_arn('*')}]",
            f"{LIST_REPOSITORIES_ACTION} only: repository names (no images) for the backfill and the bypass audit "
            "of glob rules; listing the registry is not scoped by a name pattern. Images are read only from "
            "the policy's repositories.",
        )
    for kind, patterns in (("source", config.policy.source_patterns), ("target", config.policy.target_patterns)):
        for pattern in patterns:
            if "*" in pattern:
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Resource::{config.source.repository_arn(pattern)}]",
                    f"The promotion policy names {kind} repositories by the glob {pattern!r}: the wildcard is "
                    "exactly the set of repositories the policy may promote from/into (and, for targets, "
                    "create write-protected on first promotion), nothing wider.",
                )
