"""Offline verification with a PEM public key, and fetching that PEM from KMS.

Why: production verifies a promotion attestation without access to the source account's KMS
(`promoter verify --public-key PEM_FILE`), and the stack publishes the key as PEM. Verification
needs `cryptography`, which the Lambda runtime does not ship, so it is imported inside the
verifier — importing this module costs nothing. A KMS `ECDSA_SHA_256` signature is a DER ECDSA
signature over SHA-256 of the PAE whether KMS was asked with RAW or DIGEST, so one check covers both.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .dsse import Envelope
from .errors import UntrustedEvidence


def pem_from_der(der: bytes) -> str:
    """SubjectPublicKeyInfo DER (what KMS GetPublicKey returns) as a PEM `PUBLIC KEY` block."""
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def public_key_pem(kms_client: Any, key_id: str) -> str:
    """The KMS key's public key as PEM (needs kms:GetPublicKey, not the private key)."""
    return pem_from_der(bytes(kms_client.get_public_key(KeyId=key_id)["PublicKey"]))


class PublicKeyVerifier:
    """Verifies DSSE envelopes against one ECDSA P-256 public key; the key's id is `sha256:<hex of its DER>`."""

    def __init__(self, pem: str | bytes) -> None:
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - CLI-only dependency
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

        data = pem.encode("ascii") if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as error:
            raise ValueError("not a PEM public key") from error
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("the public key is not an ECDSA P-256 key")
        self._key = key
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.key_id = "sha256:" + hashlib.sha256(der).hexdigest()

    def verify(self, envelope: Envelope) -> str:
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

        message = envelope.pae()
        for signature in envelope.signatures:
            try:
                self._key.verify(signature.sig, message, ec.ECDSA(hashes.SHA256()))
            except (InvalidSignature, ValueError):
                continue
            return self.key_id
        raise UntrustedEvidence(f"no signature verifies under the public key {self.key_id}")
