"""verify_vsa's refusals, signed offline with a local P-256 key (the same DER ECDSA over the PAE KMS makes)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from promoter.attest.dsse import INTOTO_PAYLOAD_TYPE, Envelope, Signature, pae
from promoter.attest.errors import UntrustedEvidence
from promoter.attest.evidence import verify_vsa
from promoter.attest.intoto import Statement, build_vsa
from promoter.attest.pubkey import PublicKeyVerifier

VERIFIER_ID = "arn:aws:lambda:us-west-2:111122223333:function:promoter"


def _key() -> tuple[ec.EllipticCurvePrivateKey, PublicKeyVerifier]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, PublicKeyVerifier(pem)


def _sign(private: ec.EllipticCurvePrivateKey, statement: Statement) -> bytes:
    body = statement.to_json()
    signature = private.sign(pae(INTOTO_PAYLOAD_TYPE, body), ec.ECDSA(hashes.SHA256()))
    return Envelope(INTOTO_PAYLOAD_TYPE, body, (Signature("local", signature),)).to_json()


def _vsa(digest: str) -> Statement:
    return build_vsa(
        digest,
        verifier_id=VERIFIER_ID,
        verifier_version={"ecr-promoter": "0.1.0"},
        time_verified=datetime.now(UTC),
        resource_uri="prod-x@" + digest,
        policy_uri="r",
        policy_digest="f" * 64,
    )


def _digest() -> str:
    return "sha256:" + hashlib.sha256(secrets.token_bytes(8)).hexdigest()


def test_a_passed_vsa_verifies_with_its_policy_and_verifier() -> None:
    private, verifier = _key()
    digest = _digest()
    summary = verify_vsa(
        _sign(private, _vsa(digest)),
        digest,
        verifier,
        expected_policy_digest="f" * 64,
        expected_verifier_id=VERIFIER_ID,
    )
    assert (summary.key_id, summary.policy_digest, summary.verifier_id) == (verifier.key_id, "f" * 64, VERIFIER_ID)


def test_a_failed_vsa_another_verifier_or_a_non_vsa_is_refused() -> None:
    private, verifier = _key()
    digest = _digest()
    passed = _vsa(digest)
    failed = Statement(passed.subjects, passed.predicate_type, {**passed.predicate, "verificationResult": "FAILED"})
    with pytest.raises(UntrustedEvidence, match="verificationResult is FAILED"):
        verify_vsa(_sign(private, failed), digest, verifier)
    with pytest.raises(UntrustedEvidence, match="verifier is"):
        verify_vsa(_sign(private, passed), digest, verifier, expected_verifier_id="someone-else")
    other_type = Statement(passed.subjects, "https://slsa.dev/provenance/v1", passed.predicate)
    with pytest.raises(UntrustedEvidence, match=re.escape("expected https://slsa.dev/verification_summary/v1")):
        verify_vsa(_sign(private, other_type), digest, verifier)


def test_a_vsa_signed_by_another_key_is_refused_before_its_content_is_read() -> None:
    private, _ = _key()
    _, verifier = _key()
    digest = _digest()
    with pytest.raises(UntrustedEvidence, match="no signature verifies"):
        verify_vsa(_sign(private, _vsa(digest)), digest, verifier)


def test_the_pem_verifier_refuses_keys_it_cannot_use() -> None:
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    rsa_pem = rsa.generate_private_key(65537, 2048).public_key().public_bytes(serialization.Encoding.PEM, public)
    p384_pem = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(serialization.Encoding.PEM, public)
    for pem in (rsa_pem, p384_pem):
        with pytest.raises(ValueError, match="not an ECDSA P-256 key"):
            PublicKeyVerifier(pem)
    with pytest.raises(ValueError, match="not a PEM public key"):
        PublicKeyVerifier(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
