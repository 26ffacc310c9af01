"""The next pipeline's view of the function's events: an EventBridge rule on the bus, with an SQS queue as
its target, in the local moto server.

What a deployment pipeline subscribes to (DESIGN.md, "Outputs added": `source: ecr-promoter`,
`Image Promoted`, …) is what the demo shows: events go through moto's EventBridge and its rule
matching, and only the matching ones land in the queue the demo reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from devtools.demo.scenario import DUMMY_CREDENTIALS


def _client(service: str, endpoint: str, region: str) -> Any:
    import boto3  # noqa: PLC0415 - boto3 is imported only once the demo runs

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@dataclass(frozen=True)
class Subscriber:
    """An SQS queue receiving the events a rule's pattern matches."""

    sqs: Any
    queue_url: str
    rule: str

    def received(self) -> list[dict[str, Any]]:
        """Every event delivered since the last call (removed from the queue)."""
        events: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = answer.get("Messages") or []
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def subscribe(endpoint: str, region: str, bus: str, name: str, pattern: dict[str, Any]) -> Subscriber:
    """A rule `name` on `bus` with `pattern`, delivering to a new queue of the same name."""
    events, sqs = _client("events", endpoint, region), _client("sqs", endpoint, region)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": name, "Arn": arn}])
    return Subscriber(sqs, queue_url, name)
