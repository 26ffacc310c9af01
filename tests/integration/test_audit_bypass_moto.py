"""The bypass audit against moto: ECR (DescribeRepositories/DescribeImages/BatchGetImage), the DynamoDB
ledger and audit state, and EventBridge delivering `Unrecorded Image` to an SQS queue.

Given a target repository holding one promoted image (recorded by the ledger's claim), its attestation
(an OCI 1.1 referrer whose `subject` is the promoted image) and one image pushed straight into the
target, the audit reports exactly the pushed one, once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devtools.lambda_local import create_ledger_table
from promoter.adapters.audit_state import DynamoAuditState
from promoter.adapters.event_bus import EventBridgePublisher
from promoter.adapters.repository_listing import EcrManifests, EcrRepositoryImages
from promoter.audit import BypassAudit
from promoter.contract import DetailType, Source
from promoter.ledger import DynamoLedger
from promoter.policy import load_policy

REGION = "us-west-2"
TABLE = "ledger"
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
POLICY = load_policy(json.dumps({"rules": [{"name": "svc", "source": "dev-*", "target": "prod-{name}"}]}))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        clients = {name: boto3.client(name, region_name=REGION) for name in ("ecr", "dynamodb", "events", "sqs")}
        create_ledger_table(clients["dynamodb"], TABLE)
        yield clients


def _digest() -> str:
    return "sha256:" + uuid.uuid4().hex * 2


def put(ecr: Any, repository: str, tag: str, *, subject: str | None = None, layer: str = "tar+gzip") -> str:
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _digest(), "size": 2},
        "layers": [{"mediaType": f"application/vnd.oci.image.layer.v1.{layer}", "digest": _digest(), "size": 10}],
    }
    if subject is not None:
        manifest["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject, "size": 100}
    image = ecr.put_image(
        repositoryName=repository, imageManifest=json.dumps(manifest), imageManifestMediaType=OCI_MANIFEST, imageTag=tag
    )
    return str(image["image"]["imageId"]["imageDigest"])


def queue_for(clients: dict[str, Any]) -> str:
    """A queue receiving every `Unrecorded Image` on the default bus (what an alerting rule would do)."""
    sqs, events = clients["sqs"], clients["events"]
    url = sqs.create_queue(QueueName="unrecorded")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [Source.PROMOTER.value], "detail-type": [DetailType.UNRECORDED_IMAGE.value]}
    events.put_rule(Name="bypass-alert", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="bypass-alert", Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


def audit(clients: dict[str, Any]) -> BypassAudit:
    return BypassAudit(
        POLICY,
        records=DynamoLedger(TABLE, clients["dynamodb"]),
        lister=EcrRepositoryImages(clients["ecr"]),
        manifests=EcrManifests(clients["ecr"]),
        state=DynamoAuditState(TABLE, clients["dynamodb"]),
        publisher=EventBridgePublisher("default", clients["events"]),
        clock=lambda: NOW,
    )


def test_an_image_pushed_straight_into_a_target_is_reported(aws: dict[str, Any]) -> None:
    # Given prod-api with a promoted image, its attestation, and an image pushed into it directly
    ecr = aws["ecr"]
    for repository in ("dev-api", "prod-api", "unrelated"):
        ecr.create_repository(repositoryName=repository)
    promoted = put(ecr, "prod-api", "v1.0.0")
    DynamoLedger(TABLE, aws["dynamodb"]).claim_promotion(
        "dev-api", promoted, target="prod-api", tag="v1.0.0", rule="svc", event_id="e1", at=NOW
    )
    put(ecr, "prod-api", f"sha256-{promoted.removeprefix('sha256:')}", subject=promoted, layer="empty")
    bypass = put(ecr, "prod-api", "v6.6.6")
    put(ecr, "unrelated", "v1")
    url = queue_for(aws)

    # When the scheduled audit runs twice
    first = audit(aws).run()
    second = audit(aws).run()

    # Then the pushed image alone was reported, once: event, ledger mark, cursor cleared after a full pass
    assert [finding.digest for finding in first.findings] == [bypass]
    assert first.scanned == 3 and first.pass_complete and second.findings == []
    messages = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    event = json.loads(messages[0]["Body"])
    assert (event["source"], event["detail-type"]) == ("ecr-promoter", "Unrecorded Image")
    assert event["detail"]["digest"] == bypass and event["detail"]["target-repository"] == "prod-api"
    assert event["detail"]["source-repository"] == "dev-api" and event["detail"]["tags"] == ["v6.6.6"]
    state = DynamoAuditState(TABLE, aws["dynamodb"])
    assert state.unrecorded("prod-api", bypass) is not None
    assert state.unrecorded("prod-api", promoted) is None
    assert state.audit_cursor() is None
