"""What a promotion's attestation lists as its inputs, through promoter.entry.handle: the digest of the signed
test-result envelope the gate passed on (kept when the result was verified), the scan and the approvals."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from devtools.eventfactory import ci_result_event, push_event
from promoter.adapters.test_envelopes import InMemoryTestEnvelopes
from promoter.attest.dsse import canonical_bytes
from promoter.attest.intoto import ResourceDescriptor
from promoter.attested_copy import AttestedPromotion
from promoter.entry import handle
from tests.unit.fakes import FakeImageStore, rule, world

KEY = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENVELOPE = {
    "payloadType": "application/vnd.in-toto+json",
    "payload": "e30=",
    "signatures": [{"keyid": KEY, "sig": "AA=="}],
}


class Trusting:
    def verify(self, attestation: Mapping[str, Any] | None, digest: str, suite: str, result: str) -> str | None:
        return None if attestation is not None else "unsigned"


@dataclass
class RecordingAttestor:
    """Stands in for AttestedCopies: copies through the fake store and keeps what it was asked to attest."""

    images: FakeImageStore
    inputs: list[Sequence[ResourceDescriptor]] = field(default_factory=list)

    def promote(
        self, source: str, digest: str, target: str, tags: tuple[str, ...], *, rule: str, inputs: Any
    ) -> AttestedPromotion:
        self.inputs.append(list(inputs))
        return AttestedPromotion(self.images.promote(source, digest, target, tags), "sha256:" + "ab" * 32)


def test_the_signed_envelope_of_the_passing_result_is_an_input_of_the_attestation() -> None:
    # Given a trusted, signed test result for a gated rule, and attestation on
    suffix = uuid.uuid4().hex[:8]
    dev, prod = f"dev-{suffix}", f"prod-{suffix}"
    policy = {"rules": [rule(dev, prod, require={"tests": ["it"]})], "trust": {"test_results": {"signed_by": [KEY]}}}
    w = world(policy)
    attestor = RecordingAttestor(w.images)
    services = replace(w.services, test_results=Trusting(), attested=attestor, test_envelopes=InMemoryTestEnvelopes())
    digest = w.images.add(dev, "v1")
    handle(push_event(dev, digest, "v1"), services)
    event = ci_result_event(dev, digest, "it", "PASSED")
    event["detail"]["attestation"] = ENVELOPE

    # When the result promotes the image
    (decision,) = handle(event, services)["decisions"]

    # Then the decision carries the attestation digest and the VSA lists the envelope's sha256
    assert decision["outcome"] == "promoted" and decision["attestation_digest"] == "sha256:" + "ab" * 32
    expected = hashlib.sha256(canonical_bytes(ENVELOPE)).hexdigest()
    assert [item.digest for item in attestor.inputs[0]] == [{"sha256": expected}]


def test_without_attestation_the_decision_has_no_attestation_digest() -> None:
    suffix = uuid.uuid4().hex[:8]
    dev, prod = f"dev-{suffix}", f"prod-{suffix}"
    w = world({"rules": [rule(dev, prod)]})
    digest = w.images.add(dev, "v1")

    (decision,) = handle(push_event(dev, digest, "v1"), w.services)["decisions"]

    assert decision["outcome"] == "promoted" and "attestation_digest" not in decision


def test_the_ledger_table_keeps_the_newest_results_envelope(monkeypatch: Any) -> None:
    import boto3
    from moto import mock_aws

    from devtools.lambda_local import LEDGER_TABLE, create_ledger_table
    from promoter.adapters.test_envelopes import DynamoTestEnvelopes
    from promoter.ledger import DynamoLedger

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-west-2")
        create_ledger_table(client)
        kept = DynamoTestEnvelopes(LEDGER_TABLE, client)
        digest = "sha256:" + "1" * 64
        newer, older = datetime(2026, 11, 29, 10, tzinfo=UTC), datetime(2026, 11, 29, 9, tzinfo=UTC)

        kept.record("dev-a", digest, "it", "sha256:new", newer)
        kept.record("dev-a", digest, "it", "sha256:old", older)

        assert kept.of("dev-a", digest, "it") == "sha256:new"
        assert kept.of("dev-a", digest, "other") is None
        # the ledger's own reading of the image ignores the item
        assert DynamoLedger(LEDGER_TABLE, client).image_record("dev-a", digest).evidence.tests == {}


def test_the_vsa_lists_only_the_approvals_of_the_rule_it_attests() -> None:
    from promoter.attested_copy import evidence_inputs
    from promoter.gates import ApprovalRecord, Evidence

    # Given an image approved for two rules (two stages of a chain)
    at = datetime.now(UTC)
    mine = ApprovalRecord("to-prod", "approve", "key-a", "CAB-1", at, "sha256:" + "a" * 64)
    other = ApprovalRecord("to-staging", "approve", "key-b", "CAB-2", at, "sha256:" + "b" * 64)
    evidence = Evidence(approvals=(mine, other))

    # When the inputs of the to-prod promotion's attestation are built
    inputs = evidence_inputs(evidence, (), rule="to-prod")

    # Then only to-prod's approval is listed
    assert [descriptor.digest for descriptor in inputs] == [{"sha256": "a" * 64}]
