"""Does this signed test result, approval or promotion attestation count for this image digest?

Why: an event is a trigger, never evidence. With a trust section in the policy, a test result or an
approval counts only when its DSSE envelope is signed by a trusted key *and* the signed statement
says what the event claims — same digest, same predicate, same suite and result, same decision
and rule. Anything else raises `UntrustedEvidence` whose message is the reason the decision records
as `ignored`. The checks run in the DSSE protocol's order: shape, payload type, signature, and only
then parse the signed payload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .dsse import INTOTO_PAYLOAD_TYPE, EnvelopeVerifier, canonical_bytes, parse_envelope
from .errors import UntrustedEvidence
from .intoto import (
    PASSED,
    ResourceDescriptor,
    Statement,
    parse_statement,
    read_approval,
    read_test_result,
    read_vsa,
    sha256_hex,
)

EnvelopeInput = str | bytes | Mapping[str, Any] | None


def attestation_digest(envelope_bytes: bytes) -> str:
    """`sha256:<hex>` of the envelope JSON bytes as stored: what a VSA lists in `inputAttestations`."""
    return "sha256:" + hashlib.sha256(envelope_bytes).hexdigest()


@dataclass(frozen=True)
class VerifiedTestResult:
    digest: str
    suite: str
    result: str
    url: str | None
    key_id: str
    envelope_bytes: bytes
    attestation_digest: str


@dataclass(frozen=True)
class VerifiedApproval:
    digest: str
    decision: str
    reason: str
    rule: str
    repository: str | None
    tag: str | None
    key_id: str
    envelope_bytes: bytes
    attestation_digest: str


def _verified_statement(envelope_json: EnvelopeInput, digest: str, verifier: EnvelopeVerifier) -> tuple[Statement, str]:
    if envelope_json is None or envelope_json in ("", b""):
        raise UntrustedEvidence("unsigned: no attestation")
    envelope = parse_envelope(envelope_json)
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE:
        raise UntrustedEvidence(f"payloadType {envelope.payload_type[:100]!r} is not {INTOTO_PAYLOAD_TYPE}")
    key_id = verifier.verify(envelope)
    statement = parse_statement(envelope.payload)
    if not statement.names_digest(digest):
        raise UntrustedEvidence(f"the signed statement is not about {digest}")
    return statement, key_id


def verify_test_result(
    envelope_json: EnvelopeInput,
    expected_digest: str,
    expected_suite: str,
    expected_result: str,
    verifier: EnvelopeVerifier,
) -> VerifiedTestResult:
    """The test result, if signed by a trusted key and agreeing with the event's digest, suite and result."""
    statement, key_id = _verified_statement(envelope_json, expected_digest, verifier)
    signed = read_test_result(statement)
    if signed.suite != expected_suite:
        raise UntrustedEvidence(
            f"the event's suite {expected_suite!r} disagrees with the signed suite {signed.suite!r}"
        )
    if signed.result != expected_result:
        raise UntrustedEvidence(f"the event's result {expected_result!r} disagrees with the signed {signed.result!r}")
    stored = canonical_bytes(envelope_json) if envelope_json is not None else b""
    return VerifiedTestResult(
        digest=expected_digest,
        suite=signed.suite,
        result=signed.result,
        url=signed.url,
        key_id=key_id,
        envelope_bytes=stored,
        attestation_digest=attestation_digest(stored),
    )


def verify_approval(
    envelope_json: EnvelopeInput,
    expected_digest: str,
    expected_decision: str,
    expected_rule: str,
    verifier: EnvelopeVerifier,
    *,
    expected_repository: str | None = None,
) -> VerifiedApproval:
    """The approval, if signed by a trusted key for this digest and rule, with the event's decision.

    The rule is part of what is signed so an approval for one stage cannot be replayed for another
    stage of the same digest; a signed repository, if present, must be the event's.
    """
    statement, key_id = _verified_statement(envelope_json, expected_digest, verifier)
    signed = read_approval(statement)
    if signed.decision != expected_decision:
        raise UntrustedEvidence(
            f"the event's action {expected_decision!r} disagrees with the signed {signed.decision!r}"
        )
    if signed.rule != expected_rule:
        raise UntrustedEvidence(f"the approval is signed for rule {signed.rule!r}, not {expected_rule!r}")
    if signed.repository is not None and expected_repository is not None and signed.repository != expected_repository:
        raise UntrustedEvidence(f"the approval is signed for {signed.repository!r}, not {expected_repository!r}")
    stored = canonical_bytes(envelope_json) if envelope_json is not None else b""
    return VerifiedApproval(
        digest=expected_digest,
        decision=signed.decision,
        reason=signed.reason,
        rule=signed.rule,
        repository=signed.repository,
        tag=signed.tag,
        key_id=key_id,
        envelope_bytes=stored,
        attestation_digest=attestation_digest(stored),
    )


@dataclass(frozen=True)
class VerifiedSummary:
    digest: str
    key_id: str
    verifier_id: str
    resource_uri: str
    policy_uri: str
    policy_digest: str | None
    time_verified: str | None
    input_attestations: tuple[ResourceDescriptor, ...]


def verify_vsa(
    envelope_json: EnvelopeInput,
    expected_digest: str,
    verifier: EnvelopeVerifier,
    *,
    expected_policy_digest: str | None = None,
    expected_verifier_id: str | None = None,
) -> VerifiedSummary:
    """A promotion attestation (SLSA VSA) for this digest, signed by the trusted key, with result PASSED
    and, when asked, this policy digest and verifier id (SLSA "How to verify" steps 1-4 and 6)."""
    statement, key_id = _verified_statement(envelope_json, expected_digest, verifier)
    summary = read_vsa(statement)
    if summary.result != PASSED:
        raise UntrustedEvidence(f"verificationResult is {summary.result}")
    policy_digest = summary.policy_digest.get("sha256")
    if expected_policy_digest is not None and policy_digest != sha256_hex(expected_policy_digest):
        raise UntrustedEvidence(f"policy digest is {policy_digest}, expected {sha256_hex(expected_policy_digest)}")
    if expected_verifier_id is not None and summary.verifier_id != expected_verifier_id:
        raise UntrustedEvidence(f"verifier is {summary.verifier_id!r}, expected {expected_verifier_id!r}")
    return VerifiedSummary(
        digest=expected_digest,
        key_id=key_id,
        verifier_id=summary.verifier_id,
        resource_uri=summary.resource_uri,
        policy_uri=summary.policy_uri,
        policy_digest=policy_digest,
        time_verified=summary.time_verified,
        input_attestations=summary.input_attestations,
    )
