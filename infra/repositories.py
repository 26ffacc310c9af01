"""ECR repositories this app owns: scan on push, immutable tags where promoted images land."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import RemovalPolicy, aws_ecr
from constructs import Construct


class ImageRepositories(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, mutable: Iterable[str] = (), immutable: Iterable[str] = ()
    ) -> None:
        super().__init__(scope, construct_id)
        self.repositories: dict[str, aws_ecr.Repository] = {}
        for names, mutability in (
            (mutable, aws_ecr.TagMutability.MUTABLE),
            # A promoted tag must never move: immutability turns a re-push into a visible conflict.
            (immutable, aws_ecr.TagMutability.IMMUTABLE),
        ):
            for name in names:
                self.repositories[name] = aws_ecr.Repository(
                    self,
                    name,
                    repository_name=name,
                    image_scan_on_push=True,
                    image_tag_mutability=mutability,
                    # `make destroy` is the scenario's whole clean-up, images included.
                    removal_policy=RemovalPolicy.DESTROY,
                    empty_on_delete=True,
                )
