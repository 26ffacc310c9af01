"""Events out: the PutEvents request/response shapes (Stubber), an end-to-end put through moto's
EventBridge to an SQS target, and once-only announcement under duplicate delivery.

Shapes pinned from the EventBridge API reference, PutEvents
(https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html): request
`Entries[].Source/DetailType/Detail/EventBusName`; response `FailedEntryCount` and `Entries[]` with
`EventId` on success or `ErrorCode`/`ErrorMessage` on failure, in request order. The user guide
("Sending events with PutEvents", eb-putevents.html): "if an individual entry within a request fails,
EventBridge continues processing ... You must detect unsuccessful entries" - the call itself succeeds.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from promoter.adapters.event_bus import (
    EventBridgePublisher,
    EventNotPublished,
    InMemoryEmissionGuard,
    NoEvents,
    OnceOnlyEvents,
    RecordedEvents,
    event_for,
    publisher_for,
)
from promoter.contract import DetailType, Outcome
from promoter.decision import Decision
from tests.unit.fakes import new_digest


def decision(outcome: Outcome, **overrides: Any) -> Decision:
    values: dict[str, Any] = {
        "rule": "microservice",
        "source_repository": "dev-microservice",
        "digest": new_digest(),
        "target_repository": "prod-microservice",
        "tags": ("v1.2.3",),
        "outcome": outcome,
        "reasons": ("all gates passed",),
    }
    values.update(overrides)
    return Decision(**values)


@pytest.fixture
def events_client() -> Iterator[Any]:
    client = boto3.client("events", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")
    yield client


# ---- mapping --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "detail_type"),
    [
        (Outcome.PROMOTED, DetailType.IMAGE_PROMOTED),
        (Outcome.REJECTED, DetailType.PROMOTION_REJECTED),
        (Outcome.CONFLICT, DetailType.PROMOTION_CONFLICT),
    ],
)
def test_state_changing_outcomes_map_to_their_detail_type(outcome: Outcome, detail_type: DetailType) -> None:
    # Given a decision that changes state / When it is mapped
    made = decision(outcome)
    event = event_for(made, attestation_digest="sha256:" + "a" * 64)

    # Then the detail-type is the contract's and the detail holds exactly the documented keys
    assert event is not None
    assert event[0] is detail_type
    keys = {"rule", "source-repository", "target-repository", "digest", "tags", "reasons"}
    assert set(event[1]) == (keys | {"attestation-digest"} if outcome is Outcome.PROMOTED else keys)
    assert event[1]["digest"] == made.digest
    assert event[1]["tags"] == ["v1.2.3"]


@pytest.mark.parametrize("outcome", [Outcome.PENDING, Outcome.IGNORED, Outcome.DRY_RUN, Outcome.ALREADY_PROMOTED])
def test_outcomes_that_change_nothing_emit_nothing(outcome: Outcome) -> None:
    assert event_for(decision(outcome)) is None


def test_a_promotion_carries_its_attestation_digest_even_when_there_is_none() -> None:
    event = event_for(decision(Outcome.PROMOTED))
    assert event is not None and event[1]["attestation-digest"] is None


# ---- PutEvents shapes (Stubber) ---------------------------------------------------------------


def test_put_events_request_shape(events_client: Any) -> None:
    # Given a publisher on the default bus
    made = decision(Outcome.PROMOTED)
    _, detail = event_for(made, "sha256:" + "b" * 64) or (None, {})
    with Stubber(events_client) as stubber:
        stubber.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": str(uuid.uuid4())}]},
            {
                "Entries": [
                    {
                        "Source": "ecr-promoter",
                        "DetailType": "Image Promoted",
                        "Detail": json.dumps(detail, sort_keys=True),
                        "EventBusName": "default",
                    }
                ]
            },
        )
        # When it publishes / Then the request is exactly that (Stubber checks the parameters)
        EventBridgePublisher("default", events_client).publish(DetailType.IMAGE_PROMOTED, detail)
        stubber.assert_no_pending_responses()


def test_a_refused_entry_raises_so_lambda_retries(events_client: Any) -> None:
    # Given EventBridge answers 200 with one failed entry (throttled)
    with Stubber(events_client) as stubber:
        stubber.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}],
            },
        )
        # When it publishes / Then the refusal is a transient error naming the code
        with pytest.raises(EventNotPublished, match="ThrottlingException"):
            EventBridgePublisher("default", events_client).publish(DetailType.PROMOTION_REJECTED, {"rule": "r"})


def test_no_bus_means_no_events() -> None:
    assert isinstance(publisher_for(None, object()), NoEvents)
    assert isinstance(publisher_for("  ", object()), NoEvents)
    assert isinstance(publisher_for("default", object()), EventBridgePublisher)


# ---- once only --------------------------------------------------------------------------------


def test_duplicate_delivery_announces_once() -> None:
    # Given one promotion decided twice (a redelivered push)
    recorded = RecordedEvents()
    events = OnceOnlyEvents(recorded, InMemoryEmissionGuard())
    made = decision(Outcome.PROMOTED)

    # When both are announced
    first, second = events.announce(made), events.announce(made)

    # Then exactly one event went out
    assert (first, second) == (True, False)
    assert [event[0] for event in recorded.events] == [DetailType.IMAGE_PROMOTED]


def test_a_rejection_then_a_promotion_are_two_state_changes() -> None:
    recorded = RecordedEvents()
    events = OnceOnlyEvents(recorded, InMemoryEmissionGuard())
    digest = new_digest()

    events.announce(decision(Outcome.REJECTED, digest=digest))
    events.announce(decision(Outcome.REJECTED, digest=digest, reasons=("scan: 1 CRITICAL",)))
    events.announce(decision(Outcome.PROMOTED, digest=digest))

    assert [event[0] for event in recorded.events] == [DetailType.PROMOTION_REJECTED, DetailType.IMAGE_PROMOTED]


class FailingOnce(RecordedEvents):
    failures: int = 1

    def publish(self, detail_type: DetailType, detail: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise EventNotPublished("throttled")
        super().publish(detail_type, detail)


def test_a_failed_put_gives_the_mark_back_so_the_retry_announces() -> None:
    # Given a bus that refuses the first put
    publisher = FailingOnce()
    events = OnceOnlyEvents(publisher, InMemoryEmissionGuard())
    made = decision(Outcome.CONFLICT)

    # When the first attempt fails and Lambda retries
    with pytest.raises(EventNotPublished):
        events.announce(made)
    retried = events.announce(made)

    # Then the retry publishes it
    assert retried is True
    assert [event[0] for event in publisher.events] == [DetailType.PROMOTION_CONFLICT]


def test_a_retry_that_finds_the_image_in_place_announces_the_promotion_once() -> None:
    # Given the first delivery copied the image but its put failed (so it raised and Lambda retried)
    publisher = FailingOnce()
    events = OnceOnlyEvents(publisher, InMemoryEmissionGuard())
    digest = new_digest()
    with pytest.raises(EventNotPublished):
        events.announce(decision(Outcome.PROMOTED, digest=digest))

    # When the retry decides already-promoted, and a third delivery does too
    retried = events.announce(decision(Outcome.ALREADY_PROMOTED, digest=digest))
    third = events.announce(decision(Outcome.ALREADY_PROMOTED, digest=digest))

    # Then exactly one Image Promoted went out
    assert (retried, third) == (True, False)
    assert [event[0] for event in publisher.events] == [DetailType.IMAGE_PROMOTED]


def test_without_a_bus_nothing_is_marked() -> None:
    guard = InMemoryEmissionGuard()
    assert OnceOnlyEvents(NoEvents(), guard).announce(decision(Outcome.PROMOTED)) is False
    assert guard.claimed == set()


# ---- end to end through moto's EventBridge --------------------------------------------------
