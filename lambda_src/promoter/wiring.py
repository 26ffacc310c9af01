"""Builds the adapters from Settings: the one place that knows which concrete clients the logic gets.

Called once per cold start by the handler, and by every in-process caller (`--local` CLI, demo,
tests) together with promoter.entry.handle.
"""

from __future__ import annotations

from typing import Any

from promoter.aws import EcrImageStore, EcrScans, PipelineRevisions
from promoter.config import Settings
from promoter.images import OciImageStore
from promoter.ledger import DynamoLedger
from promoter.ports import ImageStore, ScanSource
from promoter.promotion import Services
from promoter.registry import RegistryClient


def _client(service: str, region: str | None) -> Any:
    import boto3  # noqa: PLC0415 - only the paths that talk to AWS pay for boto3
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(service, region_name=region, config=Config(retries={"mode": "standard", "max_attempts": 5}))


class _LazyPipelineRevisions:
    """CodePipeline is needed only for pipeline events: create its client on first use."""

    def __init__(self, region: str | None) -> None:
        self._region = region
        self._revisions: PipelineRevisions | None = None

    def revisions(self, pipeline: str, execution_id: str) -> tuple[str, ...]:
        if self._revisions is None:
            self._revisions = PipelineRevisions(_client("codepipeline", self._region))
        return self._revisions.revisions(pipeline, execution_id)


def build_services(settings: Settings, account_id: str | None) -> Services:
    """Adapters for a deployed function (ECR of `account_id`) or, with REGISTRY_ENDPOINT, a plain registry."""
    images: ImageStore
    scans: ScanSource | None = None
    if settings.registry_endpoint:
        images = OciImageStore(RegistryClient.for_endpoint(settings.registry_endpoint))
    else:
        if not account_id or not settings.region:
            raise ValueError("the account id and AWS_REGION are needed to reach this account's ECR registry")
        ecr = _client("ecr", settings.region)
        host = f"{account_id}.dkr.ecr.{settings.region}.amazonaws.com"
        images = EcrImageStore(RegistryClient.for_host(host, ecr_client_factory=lambda: ecr), ecr)
        scans = EcrScans(ecr)
    return Services(
        policy=settings.policy,
        ledger=DynamoLedger(settings.ledger_table, _client("dynamodb", settings.region)),
        images=images,
        pipelines=_LazyPipelineRevisions(settings.region),
        scans=scans,
    )
