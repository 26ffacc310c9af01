"""The handler counts the bypass audit's findings (metric UnrecordedImage, which the stack alarms on) and
builds its services with the invoked function's unqualified ARN as the attestation verifier."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.lambda_local import FakeContext
from promoter import handler
from promoter.adapters.audit_state import InMemoryAuditState
from promoter.adapters.event_bus import RecordedEvents
from promoter.adapters.repository_listing import InMemoryRepositoryImages
from promoter.config import Settings
from promoter.contract import Metric
from promoter.image_batches import ListedImage
from promoter.promotion import Services
from tests.unit.fakes import World, rule, world

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


class _NoManifests:
    def manifest(self, repository: str, digest: str) -> None:
        return None


def _emitted(out: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for line in out.splitlines():
        try:
            blob: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            values |= {metric["Name"]: blob.get(metric["Name"]) for metric in directive["Metrics"]}
    return values


def test_a_finding_of_the_scheduled_audit_is_counted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an image pushed straight into a target, which the audit lists
    suffix = uuid.uuid4().hex[:8]
    dev, prod = f"dev-{suffix}", f"prod-{suffix}"
    w: World = world({"rules": [rule(dev, prod)]})
    listing = InMemoryRepositoryImages()
    bypass = w.images.add(prod, "latest")
    listing.add(ListedImage(prod, bypass, ("latest",), T0))
    services = replace(
        w.services,
        publisher=RecordedEvents(),
        listing=listing,
        manifests=_NoManifests(),
        audit_state=InMemoryAuditState(),
    )
    seen: list[Settings] = []

    def build(settings: Settings, account_id: str | None) -> Services:
        seen.append(settings)
        return services

    monkeypatch.setenv("PROMOTION_POLICY", json.dumps({"rules": [rule(dev, prod)]}))
    monkeypatch.setenv("LEDGER_TABLE", "unused")
    monkeypatch.setattr(handler.metrics, "namespace", "EcrPromoterTest")
    monkeypatch.setattr(handler, "build_services", build)
    account = f"{random.randrange(10**11, 10**12)}"
    arn = f"arn:aws:lambda:us-west-2:{account}:function:ecr-promoter"

    # When the schedule invokes the function (through an alias)
    handler.lambda_handler({"action": "reconcile"}, FakeContext(invoked_function_arn=f"{arn}:live"))

    # Then the finding is counted once, and the verifier is the function without its qualifier
    assert _emitted(capsys.readouterr().out).get(Metric.UNRECORDED_IMAGE) == [1.0]
    assert [settings.verifier_id for settings in seen] == [arn]
