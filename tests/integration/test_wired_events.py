"""Events out, backfill and the bypass audit as wired by build_services: moto EventBridge -> SQS, moto
DynamoDB (the once-only marks), the real registry (listing for the backfill and the audit)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3

from devtools.eventfactory import push_event
from promoter.contract import DetailType, Env, Source
from tests.support.promotion import Promoter, only, rule

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
REGION = "us-west-2"


def subscribe(promoter: Promoter) -> tuple[Any, str]:
    """A rule on the default bus sending every ecr-promoter event to a fresh queue (what a consumer does)."""
    promoter.monkeypatch.setenv(Env.EVENT_BUS, "default")
    sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
    url = sqs.create_queue(QueueName="promoter-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="to-queue", EventPattern=json.dumps({"source": [Source.PROMOTER.value]}))
    events.put_targets(Rule="to-queue", Targets=[{"Id": "q", "Arn": arn}])
    return sqs, url


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(message["Body"]) for message in batch]
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def test_a_duplicate_push_is_announced_once_on_the_bus(promoter: Promoter, repo_name: Any) -> None:
    # Given EVENT_BUS=default, a consumer queue and an ungated rule
    sqs, url = subscribe(promoter)
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod, tags=["v*"])]})
    image = promoter.push(dev, "v1.0.0")
    event = push_event(dev, image.digest, "v1.0.0", at=T0)

    # When the push is delivered twice
    outcomes = [only(promoter.invoke(event))["outcome"] for _ in range(2)]

    # Then the consumer sees exactly one Image Promoted with the documented detail
    assert outcomes == ["promoted", "already-promoted"]
    (message,) = received(sqs, url)
    assert (message["source"], message["detail-type"]) == (Source.PROMOTER.value, DetailType.IMAGE_PROMOTED.value)
    assert message["detail"]["digest"] == image.digest
    assert (message["detail"]["source-repository"], message["detail"]["target-repository"]) == (dev, prod)
    assert message["detail"]["tags"] == ["v1.0.0"]
    assert message["detail"]["attestation-digest"] is None


def test_without_event_bus_nothing_is_sent(promoter: Promoter, repo_name: Any) -> None:
    sqs, url = subscribe(promoter)
    promoter.monkeypatch.delenv(Env.EVENT_BUS)
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod, tags=["v*"])]})
    image = promoter.push(dev, "v1")

    assert only(promoter.invoke(push_event(dev, image.digest, "v1", at=T0)))["outcome"] == "promoted"
    assert received(sqs, url) == []


def test_backfill_and_audit_over_the_real_registry(promoter: Promoter, repo_name: Any) -> None:
    # Given images that were in the source before the policy, and one pushed straight into the target
    sqs, url = subscribe(promoter)
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod, tags=["v*"])]})
    old = [promoter.push(dev, f"v{index}") for index in range(3)]
    bypass = promoter.push(prod, "v9")

    # When the backfill runs to its end, Then every old image is promoted, announced once each
    backfill = promoter.invoke({"action": "reconcile", "scope": "all"})
    assert "cursor" not in backfill and "error" not in backfill, backfill
    assert sorted(d["digest"] for d in backfill["decisions"] if d["outcome"] == "promoted") == sorted(
        image.digest for image in old
    )

    # When the reconcile runs twice, Then the bypass is reported once and shown in status
    promoter.invoke({"action": "reconcile"})
    promoter.invoke({"action": "reconcile"})
    status = promoter.invoke({"action": "status", "repository": prod, "tag": "v9"})

    messages = received(sqs, url)
    kinds = sorted((m["detail-type"], m["detail"]["digest"]) for m in messages)
    assert kinds == sorted(
        [(DetailType.IMAGE_PROMOTED.value, image.digest) for image in old]
        + [(DetailType.UNRECORDED_IMAGE.value, bypass.digest)]
    )
    assert status["status"]["unrecorded"]["tags"] == ["v9"]
