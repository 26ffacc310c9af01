"""The repository policy that makes the promoter the only writer of a target repository.

Whatever ends up in a target repository replicates to production, so an ordinary ECR write right
(PowerUser, a CI role) must not be enough to put an image there. An explicit Deny in the repository
policy binds every principal of the account, whatever its IAM policies allow (an SCP is still needed
for account admins who can change the policy's exempted roles; see docs/DEPLOY.md). Exempted, by
`aws:PrincipalArn` (the role's ARN for an assumed-role session):
- image writes: only the promoter function's role;
- repository changes and deletion: that role (it sets this policy on repositories it creates) and
  the CloudFormation execution role (it updates and deletes the repositories the stack owns).
The same document goes on stack-created targets, on adopted ones, and (as JSON in the function's
environment) on the targets the function creates for `{name}` rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import DefaultStackSynthesizer, Stack, aws_iam

# Everything that puts or moves an image: only the promoter may do it.
IMAGE_WRITE_ACTIONS = (
    "ecr:PutImage",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
)
# Everything that removes images or lifts the protection itself (policy, tag immutability, the repository).
REPOSITORY_CHANGE_ACTIONS = (
    "ecr:BatchDeleteImage",
    "ecr:SetRepositoryPolicy",
    "ecr:DeleteRepositoryPolicy",
    "ecr:PutImageTagMutability",
    "ecr:DeleteRepository",
)
PRINCIPAL_ARN = "aws:PrincipalArn"


def cloudformation_execution_role_arn(stack: Stack, partition: str) -> str | None:
    """The role CloudFormation deploys `stack` with (cdk bootstrap's), or None with a custom synthesizer."""
    synthesizer = stack.synthesizer
    if not isinstance(synthesizer, DefaultStackSynthesizer):
        return None
    # The bootstrap template's name, with the account and region of an environment-specific stack.
    return synthesizer.cloud_formation_execution_role_arn.replace("${AWS::Partition}", partition)


def protection_statements(writer_role_arn: str, deployer_role_arns: Sequence[str]) -> list[aws_iam.PolicyStatement]:
    """Deny statements for a target repository's policy (no Resource: a repository policy names none)."""
    return [
        aws_iam.PolicyStatement(
            sid="OnlyThePromoterWritesImages",
            effect=aws_iam.Effect.DENY,
            principals=[aws_iam.AnyPrincipal()],
            actions=list(IMAGE_WRITE_ACTIONS),
            conditions={"ArnNotLike": {PRINCIPAL_ARN: [writer_role_arn]}},
        ),
        aws_iam.PolicyStatement(
            sid="OnlyThePromoterOrItsDeploymentChangesTheRepository",
            effect=aws_iam.Effect.DENY,
            principals=[aws_iam.AnyPrincipal()],
            actions=list(REPOSITORY_CHANGE_ACTIONS),
            conditions={"ArnNotLike": {PRINCIPAL_ARN: [writer_role_arn, *deployer_role_arns]}},
        ),
    ]


def protection_document(writer_role_arn: str, deployer_role_arns: Sequence[str]) -> dict[str, Any]:
    """The whole repository policy as a JSON-able document (tokens resolve at deploy time)."""
    document: dict[str, Any] = aws_iam.PolicyDocument(
        statements=protection_statements(writer_role_arn, deployer_role_arns)
    ).to_json()
    return document
