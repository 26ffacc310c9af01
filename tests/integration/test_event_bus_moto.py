"""Events out through moto: an end-to-end put to a bus, and the DynamoDB guard that makes them once-only.

The Stubber-pinned documented shapes are in the unit test of the same name; these cases use moto where it
models the call correctly.
"""

from __future__ import annotations

import json
import uuid

import boto3
from moto import mock_aws

from promoter.adapters.event_bus import (
    EventBridgePublisher,
    InMemoryEmissionGuard,
    OnceOnlyEvents,
)
from promoter.contract import DetailType, Outcome, Source
from promoter.decision import Decision


def decision(outcome: Outcome) -> Decision:
    return Decision(
        rule="microservice",
        source_repository="dev-microservice",
        digest="sha256:" + uuid.uuid4().hex * 2,
        target_repository="prod-microservice",
        tags=("v1.2.3",),
        outcome=outcome,
        reasons=("all gates passed",),
    )


@mock_aws
def test_the_event_reaches_a_rule_on_the_bus() -> None:
    # Given the default bus with a rule on our source that targets a queue
    region = "us-west-2"
    events = boto3.client("events", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    queue_url = sqs.create_queue(QueueName="promoted")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [Source.PROMOTER.value], "detail-type": [DetailType.IMAGE_PROMOTED.value]}
    events.put_rule(Name="next-stage", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="next-stage", Targets=[{"Id": "queue", "Arn": queue_arn}])
    made = decision(Outcome.PROMOTED)

    # When the promotion is announced (twice: a duplicate delivery)
    once = OnceOnlyEvents(EventBridgePublisher("default", events), InMemoryEmissionGuard())
    once.announce(made, "sha256:" + "c" * 64)
    once.announce(made, "sha256:" + "c" * 64)

    # Then the queue holds one event with the contract's shape
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert body["source"] == "ecr-promoter"
    assert body["detail-type"] == "Image Promoted"
    assert body["detail"] == {
        "rule": "microservice",
        "source-repository": "dev-microservice",
        "target-repository": "prod-microservice",
        "digest": made.digest,
        "tags": ["v1.2.3"],
        "reasons": ["all gates passed"],
        "attestation-digest": "sha256:" + "c" * 64,
    }


@mock_aws
def test_the_dynamodb_guard_is_a_conditional_put_given_back_on_release() -> None:
    from devtools.lambda_local import create_ledger_table
    from promoter.adapters.event_bus import DynamoEmissionGuard

    # Given the ledger table
    client = boto3.client("dynamodb", region_name="us-west-2")
    create_ledger_table(client, "ledger")
    guard = DynamoEmissionGuard("ledger", client)
    digest = "sha256:" + uuid.uuid4().hex * 2
    key = "Image Promoted#microservice#prod-microservice"

    # When the same mark is claimed twice, released, claimed again
    claims = [guard.claim("dev-microservice", digest, key), guard.claim("dev-microservice", digest, key)]
    guard.release("dev-microservice", digest, key)
    again = guard.claim("dev-microservice", digest, key)

    # Then only the first and the post-release claim won, in the image's own partition
    assert (claims, again) == ([True, False], True)
    items = client.scan(TableName="ledger")["Items"]
    assert [(item["pk"]["S"], item["sk"]["S"]) for item in items] == [
        (f"IMAGE#dev-microservice@{digest}", f"EVENT#{key}")
    ]
