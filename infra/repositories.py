"""ECR repositories this app owns: scan on push; immutable, retained and optionally write-protected targets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import RemovalPolicy, aws_ecr, aws_iam
from constructs import Construct

from promoter.contract import TARGET_MUTABLE_TAG_FILTERS, TARGET_TAG_MUTABILITY

# Release tags never move; the `sha256-*` tag-schema tags (cosign `.att`/`.sig`, referrers fallback index) may.
TARGET_TAG_RULE = aws_ecr.TagMutability(TARGET_TAG_MUTABILITY)


def mutable_tag_filters() -> list[aws_ecr.ImageTagMutabilityExclusionFilter]:
    return [aws_ecr.ImageTagMutabilityExclusionFilter.wildcard(pattern) for pattern in TARGET_MUTABLE_TAG_FILTERS]


class ImageRepositories(Construct):
    """`mutable`: reference source repositories (a demo convenience, removed with the stack, images too).

    `immutable`: promotion targets. A promoted tag must never move, and what was promoted (and maybe
    replicated) outlives the stack: RETAIN, so `cdk destroy` never deletes images. `policy` statements
    (the write protection of infra.write_protection) go into each target's repository policy.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        mutable: Iterable[str] = (),
        immutable: Iterable[str] = (),
        policy: Sequence[aws_iam.PolicyStatement] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.repositories: dict[str, aws_ecr.Repository] = {}
        for name in mutable:
            self.repositories[name] = aws_ecr.Repository(
                self,
                name,
                repository_name=name,
                image_scan_on_push=True,
                image_tag_mutability=aws_ecr.TagMutability.MUTABLE,
                removal_policy=RemovalPolicy.DESTROY,
                empty_on_delete=True,
            )
        for name in immutable:
            repository = aws_ecr.Repository(
                self,
                name,
                repository_name=name,
                image_scan_on_push=True,
                # Immutability turns a re-push of a promoted tag into a visible conflict.
                image_tag_mutability=TARGET_TAG_RULE,
                image_tag_mutability_exclusion_filters=mutable_tag_filters(),
                removal_policy=RemovalPolicy.RETAIN,
            )
            for statement in policy:
                repository.add_to_resource_policy(statement)
            self.repositories[name] = repository
