"""The approval gate (docs/POLICY.md "Approval"): pending until a signed
approve arrives; a signed reject is final for that digest and rule; unsigned or mis-signed approvals
are ignored with the reason and nothing is recorded; `status` shows who approved or rejected, and why."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from promoter.entry import handle
from promoter.ports import SignedApproval
from tests.unit.fakes import World, rule, world

APPROVER = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENVELOPE = {"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": []}


@dataclass
class FakeApprovals:
    """Answers what promoter.attest would: the signed approval, or why it does not count."""

    refusal: str | None = None
    signed_reason: str = "release board said yes"
    asked: list[dict[str, Any]] = field(default_factory=list)

    def verify(self, attestation: Mapping[str, Any] | None, digest: str, **expected: Any) -> SignedApproval | str:
        self.asked.append({"digest": digest, **expected})
        if self.refusal is not None:
            return self.refusal
        envelope = hashlib.sha256(repr((attestation, digest, expected)).encode()).hexdigest()
        return SignedApproval(APPROVER, self.signed_reason, f"sha256:{envelope}")


def gated(verifier: FakeApprovals | None, **require: Any) -> tuple[World, str, str, str]:
    suffix = uuid.uuid4().hex[:8]
    dev, prod = f"dev-{suffix}", f"prod-{suffix}"
    policy = {
        "rules": [rule(dev, prod, name="to-prod", require={"approval": {"signed_by": [APPROVER]}, **require})],
        "allow_override": True,
    }
    w = world(policy)
    w.services = replace(w.services, approvals=verifier)
    return w, dev, prod, w.images.add(dev, "v1")


def approval(dev: str, action: str = "approve", *, signed: bool = True, **extra: Any) -> dict[str, Any]:
    event = {"action": action, "repository": dev, "tag": "v1", "rule": "to-prod", "reason": "ship it", **extra}
    if signed:
        event["attestation"] = ENVELOPE
    return event


def decide(w: World, event: dict[str, Any]) -> tuple[str, list[str]]:
    response = handle(event, w.services)
    assert "error" not in response, response
    (decision,) = response["decisions"]
    return decision["outcome"], decision["reasons"]


def push(dev: str, digest: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "source": "aws.ecr",
        "detail-type": "ECR Image Action",
        "time": "2026-11-29T11:00:00Z",
        "detail": {"action-type": "PUSH", "result": "SUCCESS", "repository-name": dev, "image-digest": digest},
    }


def test_a_rule_requiring_approval_is_pending_until_one_arrives() -> None:
    w, dev, _, digest = gated(FakeApprovals())

    assert decide(w, push(dev, digest)) == ("pending", ["approval: none yet"])
    assert w.images.copies == []


def test_a_signed_approval_is_recorded_and_promotes() -> None:
    verifier = FakeApprovals()
    w, dev, prod, digest = gated(verifier)

    outcome, reasons = decide(w, approval(dev))

    assert outcome == "promoted"
    assert reasons == [f"approval: approved by {APPROVER}: release board said yes"]
    assert w.images.digest_for_tag(prod, "v1") == digest
    # Then the verifier was asked about the resolved digest, this rule, this decision and its keys
    assert verifier.asked == [
        {"digest": digest, "rule": "to-prod", "decision": "approve", "repository": dev, "trusted": (APPROVER,)}
    ]


def test_an_approval_alone_does_not_skip_the_other_gates() -> None:
    w, dev, _, _ = gated(FakeApprovals(), tests=["e2e"])

    outcome, reasons = decide(w, approval(dev))

    assert outcome == "pending"
    assert reasons == ["tests: e2e has no result yet", f"approval: approved by {APPROVER}: release board said yes"]


def test_a_signed_reject_is_final_for_that_digest_and_rule() -> None:
    w, dev, prod, _ = gated(FakeApprovals(signed_reason="CVE under review"))

    rejected = decide(w, approval(dev, "reject"))
    later_approve = decide(w, approval(dev, reason="try again"))

    expected = ("rejected", [f"approval: rejected by {APPROVER}: CVE under review"])
    assert rejected == expected
    assert later_approve == expected
    assert w.images.digest_for_tag(prod, "v1") is None


def test_an_unsigned_approval_is_ignored_and_nothing_is_recorded() -> None:
    w, dev, _, _ = gated(FakeApprovals())

    outcome = decide(w, approval(dev, signed=False))

    assert outcome == (
        "ignored",
        [f"approval not trusted: unsigned, and rule 'to-prod' accepts only approvals signed by {APPROVER}"],
    )
    assert w.ledger.writes == 0


def test_a_mis_signed_approval_is_ignored_with_the_verifiers_reason() -> None:
    w, dev, _, _ = gated(FakeApprovals(refusal="the approval is signed for rule 'other', not 'to-prod'"))

    outcome = decide(w, approval(dev))

    assert outcome == ("ignored", ["approval not trusted: the approval is signed for rule 'other', not 'to-prod'"])
    assert w.ledger.writes == 0


def test_without_a_verifier_wired_in_no_approval_counts() -> None:
    w, dev, _, _ = gated(None)

    outcome = decide(w, approval(dev))

    assert outcome == ("ignored", ["approval not trusted: this function has no verifier for signed approvals wired in"])
    assert w.ledger.writes == 0


def test_an_approval_for_a_rule_that_does_not_need_one_or_does_not_exist_is_ignored() -> None:
    w, dev, _, _ = gated(FakeApprovals())
    w.images.add(f"{dev}-other", "v1")

    unknown = decide(w, approval(dev, rule="nope"))
    elsewhere = decide(w, approval(f"{dev}-other", rule="to-prod"))

    assert unknown == ("ignored", ["approval not counted: the policy has no rule 'nope'"])
    assert elsewhere[1] == [f"approval not counted: rule 'to-prod' does not promote from {dev}-other"]
    assert w.ledger.writes == 0


def test_an_approval_for_an_image_that_does_not_exist_is_an_error() -> None:
    w, dev, _, _ = gated(FakeApprovals())

    response = handle(approval(dev, tag="v9"), w.services)

    assert response == {"decisions": [], "error": f"{dev}:v9 not found"}


def test_an_override_never_replaces_an_approval() -> None:
    w, dev, _, _ = gated(FakeApprovals())

    request = {"action": "promote", "repository": dev, "tag": "v1", "override": {"reason": "hotfix"}}
    outcome = decide(w, request)

    assert outcome == ("pending", ["override refused: an approval needs a signature", "approval: none yet"])


def test_status_shows_approvals_and_rejections_with_key_ids_and_reasons() -> None:
    w, dev, _, _ = gated(FakeApprovals(signed_reason="not this one"))
    decide(w, approval(dev, "reject"))

    status = handle({"action": "status", "repository": dev, "tag": "v1"}, w.services)["status"]

    (shown,) = status["approvals"]
    assert {k: shown[k] for k in ("rule", "decision", "key_id", "reason")} == {
        "rule": "to-prod",
        "decision": "reject",
        "key_id": APPROVER,
        "reason": "not this one",
    }


def test_an_approval_request_must_name_a_rule_and_a_reason() -> None:
    w, dev, _, _ = gated(FakeApprovals())

    no_rule = handle({"action": "approve", "repository": dev, "tag": "v1", "reason": "ok"}, w.services)
    blank = handle({**approval(dev), "reason": " "}, w.services)

    assert no_rule == {"decisions": [], "error": "rule: Field required"}
    assert blank["decisions"] == [] and "'reason' must say why" in blank["error"]
    assert w.ledger.writes == 0
