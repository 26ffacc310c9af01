"""Events out: what the function tells the rest of the account after a decision that changes state.

Why this module exists: a deploy pipeline for the next stage, a chat notifier or an audit consumer
subscribes to `Image Promoted`, `Promotion Rejected`, `Promotion Conflict` and `Unrecorded Image` on
the bus named by EVENT_BUS (source `ecr-promoter`, README "What it tells others"). ECR delivers its
events at least once, so the same decision is reached again on a redelivery; the contract is *one*
event per state change (docs/POLICY.md: "One event per decision that changes state, even under duplicate
delivery"). `OnceOnlyEvents` makes that so with a conditional ledger write per
(image, rule, target, detail-type) taken before the put and given back when the put fails, so a
retry of the Lambda event can still emit it.

PutEvents answers HTTP 200 even when an entry was refused: the refusal is in `FailedEntryCount` and
the entry's `ErrorCode` (EventBridge API reference, PutEvents; user guide "Sending events with
PutEvents": "You must detect unsuccessful entries"). A refused entry raises `EventNotPublished`, a
transient fault: Lambda's async retry delivers the trigger again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from botocore.exceptions import ClientError

from promoter.contract import DetailType, LedgerKey, Outcome, Source
from promoter.decision import Decision

PK, SK = LedgerKey.PARTITION.value, LedgerKey.SORT.value

OUTCOME_DETAIL_TYPE: dict[Outcome, DetailType] = {
    Outcome.PROMOTED: DetailType.IMAGE_PROMOTED,
    Outcome.REJECTED: DetailType.PROMOTION_REJECTED,
    Outcome.CONFLICT: DetailType.PROMOTION_CONFLICT,
}
"""The outcomes that change state and the detail-type each is announced with; others emit nothing."""


class EventNotPublished(RuntimeError):
    """EventBridge refused an entry (throttled, internal failure): raised so Lambda retries the trigger."""


class EventPublisher(Protocol):
    def publish(self, detail_type: DetailType, detail: Mapping[str, Any]) -> None:
        """Put one event (source `ecr-promoter`); raise EventNotPublished when it was not accepted."""
        ...


def decision_detail(decision: Decision, attestation_digest: str | None = None) -> dict[str, Any]:
    """The event detail of a decision: exactly the documented keys (plus `attestation-digest` for a promotion)."""
    detail: dict[str, Any] = {
        "rule": decision.rule,
        "source-repository": decision.source_repository,
        "target-repository": decision.target_repository,
        "digest": decision.digest,
        "tags": list(decision.tags),
        "reasons": list(decision.reasons),
    }
    if decision.outcome is Outcome.PROMOTED:
        detail["attestation-digest"] = attestation_digest
    return detail


def event_for(decision: Decision, attestation_digest: str | None = None) -> tuple[DetailType, dict[str, Any]] | None:
    """(detail-type, detail) announcing `decision`, or None when its outcome changes nothing."""
    detail_type = OUTCOME_DETAIL_TYPE.get(decision.outcome)
    if detail_type is None or decision.rule is None or decision.digest is None:
        return None
    return detail_type, decision_detail(decision, attestation_digest)


class EventBridgePublisher:
    """PutEvents on one bus; `client` is a boto3 `events` client (moto, Stubber or real)."""

    def __init__(self, bus_name: str, client: Any) -> None:
        self._bus = bus_name
        self._client = client

    def publish(self, detail_type: DetailType, detail: Mapping[str, Any]) -> None:
        entry = {
            "Source": Source.PROMOTER.value,
            "DetailType": detail_type.value,
            "Detail": json.dumps(detail, sort_keys=True),
            "EventBusName": self._bus,
        }
        answer = self._client.put_events(Entries=[entry])
        if answer.get("FailedEntryCount", 0):
            failed: dict[str, Any] = next((item for item in answer.get("Entries", []) if item.get("ErrorCode")), {})
            code = str(failed.get("ErrorCode", "unknown"))[:64]
            raise EventNotPublished(f"EventBridge refused the {detail_type} event on {self._bus}: {code}")


class NoEvents:
    """EVENT_BUS unset: the stack (or `--local`) asked for no events."""

    def publish(self, detail_type: DetailType, detail: Mapping[str, Any]) -> None:
        return None


@dataclass
class RecordedEvents:
    """An EventPublisher for tests: keeps every (detail-type, detail) it is given."""

    events: list[tuple[DetailType, dict[str, Any]]] = field(default_factory=list)

    def publish(self, detail_type: DetailType, detail: Mapping[str, Any]) -> None:
        self.events.append((detail_type, dict(detail)))


def publisher_for(bus_name: str | None, client: Any) -> EventPublisher:
    """The publisher for Settings' EVENT_BUS value: none when unset or blank."""
    if not bus_name or not bus_name.strip():
        return NoEvents()
    return EventBridgePublisher(bus_name.strip(), client)


# ---- once per state change --------------------------------------------------------------------


class EmissionGuard(Protocol):
    """A ledger mark per announced state change: taken once, given back when the put failed."""

    def claim(self, repository: str, digest: str, key: str) -> bool:
        """True only for the first caller for (repository, digest, key)."""
        ...

    def release(self, repository: str, digest: str, key: str) -> None: ...


def _image_key(repository: str, digest: str) -> str:
    return f"IMAGE#{repository}@{digest}"  # the same partition as promoter.ledger: one query reads it all


class DynamoEmissionGuard:
    """Item `IMAGE#<repo>@<digest>` / `EVENT#<detail-type>#<rule>#<target>`, created by a conditional put."""

    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    def claim(self, repository: str, digest: str, key: str) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={PK: {"S": _image_key(repository, digest)}, SK: {"S": f"EVENT#{key}"}},
                ConditionExpression=f"attribute_not_exists({PK})",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, repository: str, digest: str, key: str) -> None:
        self._client.delete_item(
            TableName=self._table, Key={PK: {"S": _image_key(repository, digest)}, SK: {"S": f"EVENT#{key}"}}
        )


@dataclass
class InMemoryEmissionGuard:
    claimed: set[tuple[str, str, str]] = field(default_factory=set)

    def claim(self, repository: str, digest: str, key: str) -> bool:
        if (repository, digest, key) in self.claimed:
            return False
        self.claimed.add((repository, digest, key))
        return True

    def release(self, repository: str, digest: str, key: str) -> None:
        self.claimed.discard((repository, digest, key))


class OnceOnlyEvents:
    """Announces decisions, each state change once however often the trigger is delivered.

    The guard key is (source image, detail-type, rule, target): a second delivery of the push, a
    later scan of a rejected image or a reconcile that finds the same conflict all reach the same
    decision and are not announced again; a rejected image that later passes is announced promoted.
    """

    def __init__(self, publisher: EventPublisher, guard: EmissionGuard) -> None:
        self._publisher = publisher
        self._guard = guard

    def announce(self, decision: Decision, attestation_digest: str | None = None) -> bool:
        """Publish the decision's event unless it was already announced; True when published now.

        Call it for decisions that were acted on (never a dry run). An `already-promoted` decision is
        announced as `Image Promoted` when no promotion of it was announced yet: that is the retry of a
        delivery whose put failed after the copy (the retry finds the image in place), and the one
        announcement the first delivery would have made.
        """
        if decision.outcome is Outcome.ALREADY_PROMOTED:
            decision = replace(decision, outcome=Outcome.PROMOTED)
        event = event_for(decision, attestation_digest)
        if event is None:
            return False
        detail_type, detail = event
        assert decision.source_repository is not None and decision.digest is not None
        key = f"{detail_type.value}#{decision.rule}#{decision.target_repository}"
        return self.publish_once(decision.source_repository, decision.digest, key, detail_type, detail)

    def publish_once(
        self, repository: str, digest: str, key: str, detail_type: DetailType, detail: Mapping[str, Any]
    ) -> bool:
        if isinstance(self._publisher, NoEvents):
            return False  # no bus: no ledger mark either, so enabling the bus later loses nothing
        if not self._guard.claim(repository, digest, key):
            return False
        try:
            self._publisher.publish(detail_type, detail)
        except BaseException:
            self._guard.release(repository, digest, key)  # the retry of this trigger may announce it
            raise
        return True
