"""Builds the adapters from Settings: the one place that knows which concrete clients the logic gets.

Called once per cold start by the handler, and by every in-process caller (`--local` CLI, demo,
tests) together with promoter.entry.handle.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from promoter.adapters.audit_state import DynamoAuditState
from promoter.adapters.ecr_targets import EcrTargetRepositories
from promoter.adapters.event_bus import DynamoEmissionGuard, OnceOnlyEvents, publisher_for
from promoter.adapters.evidence import CodeBuildRuns, CodePipelineRuns, EcrScans
from promoter.adapters.repository_listing import EcrManifests, EcrRepositoryImages, OciRepositoryImages
from promoter.adapters.signed_results import KmsApprovals, KmsTestResults
from promoter.adapters.test_envelopes import DynamoTestEnvelopes
from promoter.attest.kms import KmsSigner
from promoter.attested_copy import AttestedCopies
from promoter.audit import Manifests, RegistryManifests
from promoter.aws import EcrImageStore
from promoter.config import Settings
from promoter.contract import SERVICE_NAME
from promoter.image_batches import RepositoryImages
from promoter.images import OciImageStore
from promoter.ledger import DynamoLedger
from promoter.ports import BuildConfirmer, ImageStore, PipelineConfirmer, ScanSource, TargetRepositories
from promoter.promotion import Services
from promoter.registry import RegistryClient


def _client(service: str, region: str | None) -> Any:
    import boto3  # noqa: PLC0415 - only the paths that talk to AWS pay for boto3
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(service, region_name=region, config=Config(retries={"mode": "standard", "max_attempts": 5}))


def _attested(settings: Settings, client: RegistryClient, verifier_id: str) -> AttestedCopies | None:
    """ATTESTATION_KEY set: promotions are attested, signed by that key through KMS."""
    if settings.attestation_key is None:
        return None
    if settings.policy_json is None:
        raise ValueError("the policy JSON text is needed to attest promotions (Settings.from_environ keeps it)")
    signer = KmsSigner(_client("kms", settings.region), settings.attestation_key)
    return AttestedCopies(client, signer, policy_json=settings.policy_json, verifier_id=verifier_id, clock=_now)


def _now() -> datetime:
    return datetime.now(UTC)


def build_services(settings: Settings, account_id: str | None) -> Services:
    """Adapters for a deployed function (ECR of `account_id`) or, with REGISTRY_ENDPOINT, a plain registry.

    With ECR, scans and CI runs are read from their APIs (events are triggers). With a plain registry
    there are no such APIs: the service takes the events' payloads as the evidence. The verifier
    named in promotion attestations is Settings.verifier_id (the function's ARN), else SERVICE_NAME.
    """
    images: ImageStore
    scans: ScanSource | None = None
    pipeline_runs: PipelineConfirmer | None = None
    build_runs: BuildConfirmer | None = None
    targets: TargetRepositories | None = None  # a plain registry creates repositories on push: nothing to create
    listing: RepositoryImages
    manifests: Manifests
    region = settings.region
    if settings.events_are_evidence:
        assert settings.registry_endpoint is not None
        registry = RegistryClient.for_endpoint(settings.registry_endpoint)
        client = registry
        images = OciImageStore(registry)
        listing, manifests = OciRepositoryImages(registry), RegistryManifests(registry)
        account_id = None  # no registry of an account here: any account's event names this registry
    else:
        if not account_id or not region:
            raise ValueError("the account id and AWS_REGION are needed to reach this account's ECR registry")
        ecr = _client("ecr", region)
        host = f"{account_id}.dkr.ecr.{region}.amazonaws.com"
        client = RegistryClient.for_host(host, ecr_client_factory=lambda: ecr)
        images = EcrImageStore(client, ecr)
        scans = EcrScans(lambda: ecr)
        pipeline_runs = CodePipelineRuns(lambda: _client("codepipeline", region))
        build_runs = CodeBuildRuns(lambda: _client("codebuild", region))
        listing, manifests = EcrRepositoryImages(ecr), EcrManifests(ecr)
        if settings.target_repository_policy is not None:
            targets = EcrTargetRepositories(ecr, settings.target_repository_policy)
    trust = settings.policy.trust.test_results
    needs_approvals = any(rule.require.approval is not None for rule in settings.policy.rules)
    dynamodb = _client("dynamodb", region)
    publisher = publisher_for(settings.event_bus, _client("events", region) if settings.event_bus else None)
    return Services(
        policy=settings.policy,
        ledger=DynamoLedger(settings.ledger_table, dynamodb),
        images=images,
        scans=scans,
        pipeline_runs=pipeline_runs,
        build_runs=build_runs,
        account_id=account_id,
        # Signatures are checked by KMS in local mode too (moto's, in the tests): there is no other verifier.
        test_results=KmsTestResults(lambda: _client("kms", region), trust.signed_by) if trust else None,
        targets=targets,
        approvals=KmsApprovals(lambda: _client("kms", region)) if needs_approvals else None,
        events=OnceOnlyEvents(publisher, DynamoEmissionGuard(settings.ledger_table, dynamodb)),
        publisher=publisher,
        listing=listing,
        manifests=manifests,
        audit_state=DynamoAuditState(settings.ledger_table, dynamodb),
        attested=_attested(settings, client, settings.verifier_id or SERVICE_NAME),
        test_envelopes=DynamoTestEnvelopes(settings.ledger_table, dynamodb) if settings.attestation_key else None,
    )
