"""Sign DSSE envelopes with AWS KMS and verify them through `kms:Verify`, with boto3 only.

Why KMS on both sides: the Lambda runtime has boto3 but not `cryptography`, and a KMS key policy is
where "only CI may sign test results, only the function may sign promotions" is enforced. The
scheme (docs/POLICY.md "Trust"): ECC_NIST_P256 key, `ECDSA_SHA_256`, DER signature,
over the DSSE PAE — `MessageType=RAW` with the PAE, or `DIGEST` with SHA-256(PAE), which is the
same ECDSA signature ("A message and its hash digest are considered to be the same message",
KMS Verify API reference). RAW messages are limited to 4096 bytes (KMS Sign/Verify API
reference), so a larger PAE goes as its digest.

Trust is a list of KEY refs (key ARN, key id or alias ARN), resolved once per verifier with
DescribeKey and cached: an alias that is re-pointed takes effect at the next cold start. A
signature counts only if its `keyid` names a trusted key — in any of the spellings docs/POLICY.md allows
for KEY: as configured, its key ARN, its key id, or one of its aliases (name or ARN, listed once
with ListAliases) — and KMS says it verifies. The keyid only picks the key; attacker-chosen
strings are never sent to KMS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from .dsse import INTOTO_PAYLOAD_TYPE, Envelope, Signature, pae
from .errors import UntrustedEvidence
from .intoto import Statement

SIGNING_ALGORITHM = "ECDSA_SHA_256"
KEY_SPEC = "ECC_NIST_P256"
KEY_USAGE = "SIGN_VERIFY"
RAW_MESSAGE_LIMIT = 4096

# kms:Verify answers these for a signature or key that cannot verify this message: the evidence does
# not count, but retrying the event would not change that. Anything else (throttling, 5xx, access
# denied) is raised so the invocation fails visibly and is retried.
_REFUSED = frozenset(
    {
        "KMSInvalidSignatureException",
        "ValidationException",
        "DisabledException",
        "KMSInvalidStateException",
        "NotFoundException",
        "InvalidKeyUsageException",
    }
)


_ALIASES_UNAVAILABLE = frozenset({"AccessDeniedException", "NotFoundException", "InvalidArnException"})


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def kms_message(pae_bytes: bytes, *, prehash: bool = False) -> dict[str, Any]:
    """The Message/MessageType arguments for Sign or Verify over one PAE."""
    if prehash or len(pae_bytes) > RAW_MESSAGE_LIMIT:
        return {"Message": hashlib.sha256(pae_bytes).digest(), "MessageType": "DIGEST"}
    return {"Message": pae_bytes, "MessageType": "RAW"}


class KmsSigner:
    """Signs payloads as DSSE envelopes with one KMS key; the signature's keyid is the key's ARN."""

    def __init__(self, kms_client: Any, key_id: str, *, prehash: bool = False) -> None:
        self._kms = kms_client
        self._key_id = key_id
        self._prehash = prehash

    def sign(self, payload_type: str, body: bytes) -> Envelope:
        response = self._kms.sign(
            KeyId=self._key_id,
            SigningAlgorithm=SIGNING_ALGORITHM,
            **kms_message(pae(payload_type, body), prehash=self._prehash),
        )
        return Envelope(payload_type, body, (Signature(str(response["KeyId"]), bytes(response["Signature"])),))

    def sign_statement(self, statement: Statement) -> Envelope:
        return self.sign(INTOTO_PAYLOAD_TYPE, statement.to_json())


class KmsVerifier:
    """Verifies envelopes through kms:Verify against a fixed list of trusted keys."""

    def __init__(self, kms_client: Any, trusted: Sequence[str]) -> None:
        self._kms = kms_client
        self._trusted = tuple(dict.fromkeys(trusted))
        self._names: dict[str, str] | None = None
        self._unusable: dict[str, str] = {}

    def _describe(self, ref: str) -> Mapping[str, Any] | None:
        try:
            metadata: Mapping[str, Any] = self._kms.describe_key(KeyId=ref)["KeyMetadata"]
        except ClientError as error:
            if _code(error) == "NotFoundException":
                self._unusable[ref] = "does not exist"
                return None
            raise
        spec = metadata.get("KeySpec", metadata.get("CustomerMasterKeySpec"))
        if metadata.get("KeyUsage") != KEY_USAGE or spec != KEY_SPEC:
            self._unusable[ref] = f"is not an {KEY_SPEC} {KEY_USAGE} key"
            return None
        return metadata

    def _alias_spellings(self, arn: str) -> list[str]:
        """The key's alias names and ARNs. Best effort: they only widen which keyid spellings are
        recognised, so a key in another account (ListAliases lists only this account's) or a missing
        kms:ListAliases permission leaves the key ARN, key id and configured ref as its names."""
        spellings: list[str] = []
        try:
            for page in self._kms.get_paginator("list_aliases").paginate(KeyId=arn):
                for alias in page.get("Aliases", []):
                    spellings += [str(alias[k]) for k in ("AliasName", "AliasArn") if alias.get(k)]
        except ClientError as error:
            if _code(error) not in _ALIASES_UNAVAILABLE:
                raise
        return spellings

    def trusted_keys(self) -> Mapping[str, str]:
        """Every accepted keyid spelling mapped to its key ARN; resolved once per verifier."""
        if self._names is None:
            names: dict[str, str] = {}
            for ref in self._trusted:
                metadata = self._describe(ref)
                if metadata is None:
                    continue
                arn = str(metadata["Arn"])
                for spelling in (ref, arn, str(metadata.get("KeyId", arn)), *self._alias_spellings(arn)):
                    names[spelling] = arn
            self._names = names
        return self._names

    def _refusal(self, signature: Signature, names: Mapping[str, str]) -> str | None:
        if signature.keyid in names:
            return None
        if not signature.keyid:
            return "a signature has no keyid"
        if signature.keyid in self._unusable:
            return f"trusted key {signature.keyid} {self._unusable[signature.keyid]}"
        return f"key {signature.keyid[:200]!r} is not trusted"

    def verify(self, envelope: Envelope) -> str:
        """The ARN of the trusted key whose signature verifies; else `UntrustedEvidence` with the reasons."""
        names = self.trusted_keys()
        message = kms_message(envelope.pae())
        reasons: list[str] = []
        for signature in envelope.signatures:
            refusal = self._refusal(signature, names)
            if refusal is not None:
                reasons.append(refusal)
                continue
            arn = names[signature.keyid]
            try:
                response = self._kms.verify(
                    KeyId=arn, SigningAlgorithm=SIGNING_ALGORITHM, Signature=signature.sig, **message
                )
            except ClientError as error:
                if _code(error) not in _REFUSED:
                    raise
                reasons.append(f"signature by {arn} does not verify ({_code(error)})")
                continue
            if response.get("SignatureValid") is True and response.get("KeyId") == arn:
                return arn
            reasons.append(f"signature by {arn} does not verify")
        raise UntrustedEvidence("not signed by a trusted key: " + "; ".join(dict.fromkeys(reasons)))
