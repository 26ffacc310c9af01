"""Backfill over 1,000 images in moto ECR, through the real service, in bounded invocations.

The ledger is the in-memory twin here: with moto's DynamoDB the same run took 98 s on this machine
(about 4 moto calls per image), while the listing under test is ECR's; the DynamoDB ledger's writes are
covered by tests/integration/test_promotion.py and the audit test next to this one.

moto 5.2.5's DescribeImages ignores `maxResults`/`nextToken` and answers every image at once (checked in
moto/ecr/responses.py: `describe_images` passes neither to the backend); real ECR pages as its API
reference says (pinned with Stubber in tests/unit/test_backfill.py). So this test also shows the
adapter keeps each invocation to its batch when a page is larger than asked for.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from promoter.adapters.memory import InMemoryLedger
from promoter.adapters.repository_listing import EcrRepositoryImages
from promoter.aws import EcrImageStore
from promoter.backfill import BackfillRequest, run_backfill
from promoter.contract import Outcome
from promoter.decision import Decision, RuleMatch, Trigger
from promoter.image_batches import Cursor
from promoter.policy import load_policy
from promoter.promotion import PromotionService, Services
from promoter.registry import RegistryClient

REGION = "us-west-2"
POLICY = load_policy(
    json.dumps(
        {
            "rules": [
                {
                    "name": "services",
                    "source": "dev-*",
                    "target": "prod-{name}",
                    "tags": ["v*"],
                    "require": {"tests": ["integration"]},
                }
            ]
        }
    )
)


@pytest.fixture
def ecr(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("ecr", region_name=REGION)


def push(ecr: Any, repository: str, count: int) -> set[str]:
    ecr.create_repository(repositoryName=repository)
    digests = set()
    for index in range(count):
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "0" * 64},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": index, "digest": _digest()}
            ],
        }
        image = ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=f"v{index}")
        digests.add(image["image"]["imageId"]["imageDigest"])
    return digests


@pytest.mark.slow
def test_backfill_of_1000_images_finishes_in_bounded_invocations(ecr: Any) -> None:
    # Given 1,000 images pushed before the policy existed, in two source repositories, and one other repository
    expected = push(ecr, "dev-a", 600) | push(ecr, "dev-b", 400)
    push(ecr, "other", 5)
    ledger = InMemoryLedger()
    images = EcrImageStore(RegistryClient.for_endpoint("http://127.0.0.1:9"), ecr)  # copies never happen here
    service = PromotionService(Services(policy=POLICY, ledger=ledger, images=images))
    listing = EcrRepositoryImages(ecr)

    def evaluate(repository: str, digest: str, matches: list[RuleMatch]) -> list[Decision]:
        return service.evaluate(repository, digest, matches, Trigger("backfill", _now(), "backfill"))

    # When the CLI follows the cursor with batches of 50
    decisions: list[Decision] = []
    request, invocations, started = BackfillRequest(), 0, time.monotonic()
    while True:
        invocations += 1
        result = run_backfill(POLICY, listing, request, evaluate, batch_size=50)
        assert result.images <= 50
        decisions += result.decisions
        if result.cursor is None:
            break
        request = BackfillRequest(cursor=Cursor.decode(result.cursor))
    elapsed = time.monotonic() - started

    # Then 20 invocations decided every source image once: pending (no test result yet), remembered for reconcile
    assert invocations == 20
    assert sorted(d.digest for d in decisions if d.digest) == sorted(expected)
    assert {d.outcome for d in decisions} == {Outcome.PENDING}
    assert len(ledger.pending()) == 1000
    print(f"backfill of 1000 images over moto: {invocations} invocations, {elapsed:.1f} s")


def _digest() -> str:
    return "sha256:" + uuid.uuid4().hex * 2


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
