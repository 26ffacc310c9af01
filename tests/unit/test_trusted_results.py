"""With a trust section, a test result counts only when signed by a trusted key and agreeing with its
event (docs/POLICY.md "Trust"); anything else is ignored with its reason and nothing is recorded."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from devtools.eventfactory import ci_result_event
from promoter.entry import handle
from tests.unit.fakes import World, rule, world

KEY = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENVELOPE = {
    "payloadType": "application/vnd.in-toto+json",
    "payload": "e30=",
    "signatures": [{"keyid": KEY, "sig": "AA=="}],
}


@dataclass
class FakeVerifier:
    """Answers what promoter.attest would: None when verified, else why not."""

    answer: str | None = None
    asked: list[tuple[str, str, str]] = field(default_factory=list)

    def verify(self, attestation: Mapping[str, Any] | None, digest: str, suite: str, result: str) -> str | None:
        self.asked.append((digest, suite, result))
        return self.answer


def trusting(verifier: FakeVerifier | None) -> tuple[World, str, str]:
    suffix = uuid.uuid4().hex[:8]
    dev, prod = f"dev-{suffix}", f"prod-{suffix}"
    policy = {"rules": [rule(dev, prod, require={"tests": ["it"]})], "trust": {"test_results": {"signed_by": [KEY]}}}
    w = world(policy)
    w.services = replace(w.services, test_results=verifier)
    return w, dev, w.images.add(dev, "v1")


def signed(dev: str, digest: str, result: str = "PASSED") -> dict:
    event = ci_result_event(dev, digest, "it", result)
    event["detail"]["attestation"] = ENVELOPE
    return event


def decide(w: World, event: dict) -> tuple[str, list[str]]:
    (decision,) = handle(event, w.services)["decisions"]
    return decision["outcome"], decision["reasons"]


def test_an_unsigned_result_is_ignored_and_not_recorded() -> None:
    w, dev, digest = trusting(FakeVerifier())

    outcome = decide(w, ci_result_event(dev, digest, "it", "PASSED"))

    assert outcome == (
        "ignored",
        [f"test result not trusted: unsigned, and the policy trusts only results signed by {KEY}"],
    )
    assert w.ledger.writes == 0


def test_a_verified_result_is_recorded_and_promotes() -> None:
    verifier = FakeVerifier()
    w, dev, digest = trusting(verifier)

    outcome = decide(w, signed(dev, digest))

    assert outcome[0] == "promoted"
    assert verifier.asked == [(digest, "it", "PASSED")]


def test_a_mis_signed_or_disagreeing_result_is_ignored_with_the_verifiers_reason() -> None:
    w, dev, digest = trusting(FakeVerifier("the event's result 'PASSED' disagrees with the signed 'FAILED'"))

    outcome = decide(w, signed(dev, digest))

    assert outcome == (
        "ignored",
        ["test result not trusted: the event's result 'PASSED' disagrees with the signed 'FAILED'"],
    )
    assert w.ledger.writes == 0


def test_without_a_verifier_wired_signed_results_are_refused_not_trusted() -> None:
    w, dev, digest = trusting(None)

    outcome = decide(w, signed(dev, digest))

    assert outcome == (
        "ignored",
        ["test result not trusted: this function has no verifier for signed results wired in"],
    )


def test_without_a_trust_section_an_attestation_is_carried_but_not_required() -> None:
    suffix = uuid.uuid4().hex[:8]
    w = world({"rules": [rule(f"dev-{suffix}", f"prod-{suffix}", require={"tests": ["it"]})]})
    digest = w.images.add(f"dev-{suffix}", "v1")

    outcome = decide(w, signed(f"dev-{suffix}", digest))

    assert outcome[0] == "promoted"


def test_a_signed_result_resent_in_another_event_is_a_replay_but_a_redelivery_is_not() -> None:
    # Given a verified, signed PASSED recorded for an image (two suites required, so it stays pending)
    w, dev, digest = trusting(FakeVerifier())
    first = signed(dev, digest)
    first["id"] = str(uuid.uuid4())
    assert decide(w, first)[0] == "promoted"

    # When EventBridge redelivers the same event, Then it is handled again (already promoted, no replay)
    assert decide(w, first)[0] == "already-promoted"

    # When the same envelope comes back in a new event, Then it is refused as a replay
    replay = signed(dev, digest)
    replay["id"] = str(uuid.uuid4())
    assert decide(w, replay) == ("ignored", ["test result not trusted: this signed result was already used"])


def test_a_result_dated_in_the_future_counts_as_received_now() -> None:
    # Given a signed PASSED dated a year ahead (the event's time is the sender's)
    w, dev, digest = trusting(FakeVerifier())
    future = signed(dev, digest)
    future["time"] = "2099-01-01T00:00:00Z"

    # When it is recorded, Then its time is capped at the function's clock
    decide(w, future)
    (stored,) = w.ledger.images[(dev, digest)].tests.values()
    assert stored.at <= w.services.clock()


def test_a_signed_pass_redelivered_with_a_new_time_after_a_fail_changes_nothing() -> None:
    # Given a signed PASSED (event E), then a signed FAILED of the same suite: rejected
    w2, dev2, digest2 = trusting(FakeVerifier())
    first = signed(dev2, digest2)
    first["detail"]["attestation"] = {**ENVELOPE, "payload": "eyJwYXNzZWQiOiB0cnVlfQ=="}
    failed = signed(dev2, digest2, "FAILED")
    failed["detail"]["attestation"] = {**ENVELOPE, "payload": "eyJmYWlsZWQiOiB0cnVlfQ=="}

    # When the PASSED is recorded, then the FAILED, then E is re-sent with the same id and a later time
    decide(w2, first)
    assert decide(w2, failed)[0] == "rejected"
    again = {**first, "time": "2099-01-01T00:00:00Z"}

    # Then it is a redelivery: nothing is recorded again, the image stays rejected
    assert decide(w2, again)[0] == "rejected"
