"""Signed test results and approvals: what counts and the recorded reason for what does not (moto KMS)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from promoter.attest.dsse import INTOTO_PAYLOAD_TYPE
from promoter.attest.errors import UntrustedEvidence
from promoter.attest.evidence import attestation_digest, verify_approval, verify_test_result
from promoter.attest.intoto import Statement, Subject, build_approval, build_test_result
from promoter.attest.kms import KmsSigner, KmsVerifier
from promoter.attest.pubkey import PublicKeyVerifier, public_key_pem


class Ci:
    """A CI signing key in moto's KMS and a function-side verifier that trusts it."""

    def __init__(self, kms: Any) -> None:
        self.kms = kms
        self.key_arn = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
        self.signer = KmsSigner(kms, self.key_arn)
        self.verifier = KmsVerifier(kms, [self.key_arn])

    def sign(self, statement: Statement) -> bytes:
        return self.signer.sign_statement(statement).to_json()


@pytest.fixture
def ci(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ci]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield Ci(boto3.client("kms", region_name="us-west-2"))


def _digest() -> str:
    return "sha256:" + hashlib.sha256(secrets.token_bytes(16)).hexdigest()


def test_a_signed_passed_result_counts_with_its_key_and_attestation_digest(ci: Ci) -> None:
    # Given a signed PASSED result for an image, delivered as the event's decoded JSON object
    digest = _digest()
    envelope = ci.sign(build_test_result(digest, "integration", "PASSED", url="https://ci.example/1"))
    as_event_object = json.loads(envelope)

    # When the function checks it against the event's fields
    verified = verify_test_result(as_event_object, digest, "integration", "PASSED", ci.verifier)

    # Then it counts, names the key, and digests the exact bytes it will store
    assert (verified.suite, verified.result, verified.url, verified.key_id) == (
        "integration",
        "PASSED",
        "https://ci.example/1",
        ci.key_arn,
    )
    assert verified.envelope_bytes == envelope
    assert (
        verified.attestation_digest == attestation_digest(envelope) == "sha256:" + hashlib.sha256(envelope).hexdigest()
    )


def test_a_signed_failed_result_counts_too(ci: Ci) -> None:
    digest = _digest()
    envelope = ci.sign(build_test_result(digest, "integration", "FAILED"))
    assert verify_test_result(envelope.decode(), digest, "integration", "FAILED", ci.verifier).result == "FAILED"


def test_an_unsigned_result_is_refused(ci: Ci) -> None:
    for missing in (None, "", b""):
        with pytest.raises(UntrustedEvidence, match="unsigned"):
            verify_test_result(missing, _digest(), "integration", "PASSED", ci.verifier)
    unsigned = json.dumps({"payloadType": INTOTO_PAYLOAD_TYPE, "payload": "e30=", "signatures": []})
    with pytest.raises(UntrustedEvidence, match="unsigned"):
        verify_test_result(unsigned, _digest(), "integration", "PASSED", ci.verifier)


@pytest.mark.parametrize(
    ("event_suite", "event_result", "signed_suite", "signed_result", "reason"),
    [
        ("integration", "PASSED", "unit", "PASSED", "suite 'integration' disagrees with the signed suite 'unit'"),
        ("integration", "PASSED", "integration", "FAILED", "result 'PASSED' disagrees with the signed 'FAILED'"),
    ],
)
def test_event_fields_that_disagree_with_the_signed_statement_are_refused(
    ci: Ci, event_suite: str, event_result: str, signed_suite: str, signed_result: str, reason: str
) -> None:
    # Given a genuinely signed result, and an event that claims something else about it
    digest = _digest()
    envelope = ci.sign(build_test_result(digest, signed_suite, signed_result))

    # When checked against the event's fields, then it is refused with the disagreement as the reason
    with pytest.raises(UntrustedEvidence) as refused:
        verify_test_result(envelope, digest, event_suite, event_result, ci.verifier)
    assert reason in str(refused.value)


def test_a_result_signed_for_another_digest_is_refused(ci: Ci) -> None:
    # Given a PASSED result signed for image A, replayed in an event about image B
    image_a, image_b = _digest(), _digest()
    envelope = ci.sign(build_test_result(image_a, "integration", "PASSED"))

    # Then it does not count for B
    with pytest.raises(UntrustedEvidence, match=f"not about {image_b}"):
        verify_test_result(envelope, image_b, "integration", "PASSED", ci.verifier)


def test_a_result_for_one_of_several_subjects_counts(ci: Ci) -> None:
    image_a, image_b = _digest(), _digest()
    subjects = tuple(Subject({"sha256": d.removeprefix("sha256:")}) for d in (image_a, image_b))
    one = build_test_result(image_a, "integration", "PASSED")
    envelope = ci.sign(Statement(subjects, one.predicate_type, one.predicate))
    assert verify_test_result(envelope, image_b, "integration", "PASSED", ci.verifier).digest == image_b


def test_another_predicate_type_is_refused(ci: Ci) -> None:
    # Given a genuinely signed approval presented as a test result
    digest = _digest()
    envelope = ci.sign(build_approval(digest, "approve", "looks good", "prod"))

    # Then it is refused for its predicate type
    with pytest.raises(UntrustedEvidence, match=re.escape("predicateType is 'https://ecr-promoter.dev/approval/v1'")):
        verify_test_result(envelope, digest, "integration", "PASSED", ci.verifier)


def test_another_payload_type_is_refused_before_any_kms_call(ci: Ci) -> None:
    digest = _digest()
    statement = build_test_result(digest, "integration", "PASSED")
    envelope = ci.signer.sign("application/json", statement.to_json()).to_json()
    with pytest.raises(
        UntrustedEvidence, match=re.escape("payloadType 'application/json' is not application/vnd.in-toto")
    ):
        verify_test_result(envelope, digest, "integration", "PASSED", ci.verifier)


def test_a_result_signed_by_an_untrusted_key_is_refused(ci: Ci) -> None:
    digest = _digest()
    stranger = Ci(ci.kms)
    envelope = stranger.sign(build_test_result(digest, "integration", "PASSED"))
    with pytest.raises(UntrustedEvidence, match="is not trusted"):
        verify_test_result(envelope, digest, "integration", "PASSED", ci.verifier)


def test_a_signature_over_a_non_statement_payload_is_refused_after_verifying(ci: Ci) -> None:
    digest = _digest()
    envelope = ci.signer.sign(INTOTO_PAYLOAD_TYPE, b'{"_type": "https://in-toto.io/Statement/v0.1"}').to_json()
    with pytest.raises(UntrustedEvidence, match=re.escape("_type is not https://in-toto.io/Statement/v1")):
        verify_test_result(envelope, digest, "integration", "PASSED", ci.verifier)


def test_a_signed_approval_counts_for_its_rule_and_decision(ci: Ci) -> None:
    # Given an approver's signed approval of a digest for the prod rule
    digest = _digest()
    envelope = ci.sign(build_approval(digest, "approve", "change CHG-42", "prod", repository="staging-x"))

    # When the approval event is checked
    approval = verify_approval(envelope, digest, "approve", "prod", ci.verifier, expected_repository="staging-x")

    # Then the key id and reason are there to record and show in status
    assert (approval.decision, approval.reason, approval.key_id) == ("approve", "change CHG-42", ci.key_arn)
    assert approval.attestation_digest == attestation_digest(envelope)


@pytest.mark.parametrize(
    ("decision", "rule", "repository", "reason"),
    [
        ("reject", "prod", None, "action 'reject' disagrees with the signed 'approve'"),
        ("approve", "staging", None, "signed for rule 'prod', not 'staging'"),
        ("approve", "prod", "dev-x", "signed for 'staging-x', not 'dev-x'"),
    ],
)
def test_an_approval_replayed_for_another_decision_rule_or_repository_is_refused(
    ci: Ci, decision: str, rule: str, repository: str | None, reason: str
) -> None:
    digest = _digest()
    envelope = ci.sign(build_approval(digest, "approve", "ok", "prod", repository="staging-x"))
    with pytest.raises(UntrustedEvidence) as refused:
        verify_approval(envelope, digest, decision, rule, ci.verifier, expected_repository=repository)
    assert reason in str(refused.value)


def test_the_offline_pem_verifier_gives_the_same_answers(ci: Ci) -> None:
    # Given the CI key's PEM (as production would hold it) and a signed result
    digest = _digest()
    offline = PublicKeyVerifier(public_key_pem(ci.kms, ci.key_arn))
    envelope = ci.sign(build_test_result(digest, "integration", "PASSED"))

    # Then the evidence check passes offline too, and still refuses a replay for another digest
    assert verify_test_result(envelope, digest, "integration", "PASSED", offline).key_id == offline.key_id
    with pytest.raises(UntrustedEvidence, match="not about"):
        verify_test_result(envelope, _digest(), "integration", "PASSED", offline)
