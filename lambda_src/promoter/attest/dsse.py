"""DSSE v1 envelopes: the pre-authentication encoding that is signed, and strict (de)serialisation.

Why our own: the signing scheme must be byte-identical for the Lambda (boto3 only, no
`cryptography`), the CLI and a CI that signs with the AWS CLI, so the PAE lives in one small pure
function (spec: secure-systems-lab/dsse protocol.md). Envelopes come from untrusted events, so
parsing is strict and bounded: duplicate JSON keys, unknown fields, non-string values, mixed or
malformed base64 and oversized inputs are all `InvalidEnvelope` with a reason, before any
signature is checked.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import InvalidEnvelope

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"

# An EventBridge event is at most 256 KiB, so no legitimate envelope in an event is bigger.
MAX_ENVELOPE_BYTES = 256 * 1024
MAX_SIGNATURES = 8
MAX_PAYLOAD_TYPE_BYTES = 256
# A KMS key or alias ARN is at most 2048 characters (KMS API reference, KeyId).
MAX_KEYID_CHARS = 2048
# DER ECDSA P-256 is at most 72 bytes; leave room for other algorithms without accepting junk.
MAX_SIGNATURE_BYTES = 1024

_STD_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URL_B64 = re.compile(r"[A-Za-z0-9\-_]*={0,2}")
_ENVELOPE_KEYS = frozenset({"payloadType", "payload", "signatures"})
_SIGNATURE_KEYS = frozenset({"keyid", "sig"})


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate, from a JSON \ud800 escape
        raise InvalidEnvelope(f"{what} is not valid Unicode") from error


def pae(payload_type: str, body: bytes) -> bytes:
    """PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN = ASCII decimal byte length."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(body), body)


def b64encode(data: bytes) -> str:
    """Standard, padded base64: what cosign decodes the payload with (base64.StdEncoding)."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, what: str) -> bytes:
    """Standard or URL-safe base64, padded or not (DSSE: verifiers MUST accept either alphabet)."""
    if _STD_B64.fullmatch(text):
        alphabet = text
    elif _URL_B64.fullmatch(text):
        alphabet = text.replace("-", "+").replace("_", "/")
    else:
        raise InvalidEnvelope(f"{what} is not base64")
    unpadded = alphabet.rstrip("=")
    if len(unpadded) % 4 == 1:
        raise InvalidEnvelope(f"{what} is not base64 (bad length)")
    try:
        return base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidEnvelope(f"{what} is not base64") from error


@dataclass(frozen=True)
class Signature:
    """One DSSE signature: `keyid` is an unauthenticated hint (here: the signing KMS key's ARN)."""

    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A parsed DSSE envelope; `payload` is the decoded SERIALIZED_BODY."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def pae(self) -> bytes:
        """The bytes every signature covers."""
        return pae(self.payload_type, self.payload)

    def to_dict(self) -> dict[str, Any]:
        return {
            "payloadType": self.payload_type,
            "payload": b64encode(self.payload),
            "signatures": [{"keyid": s.keyid, "sig": b64encode(s.sig)} for s in self.signatures],
        }

    def to_json(self) -> bytes:
        """Compact, key-sorted JSON: the bytes to store, push as a layer and digest."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode("utf-8")


class EnvelopeVerifier(Protocol):
    """Checks an envelope's signatures: returns the id of the trusted key that verified one of them,
    or raises `UntrustedEvidence` saying why none did. KMS (`kms.KmsVerifier`) and an offline PEM key
    (`pubkey.PublicKeyVerifier`) both fit, so the gates and the CLI share the evidence checks."""

    def verify(self, envelope: Envelope) -> str: ...


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers reading different values for one key is how signed-content confusion starts.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidEnvelope(f"duplicate JSON key {key!r}")
        result[key] = value
    return result


def _load(data: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    raw = canonical_bytes(data)
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise InvalidEnvelope(f"envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
    if isinstance(data, Mapping):
        return data
    try:
        loaded = json.loads(raw, object_pairs_hook=_reject_duplicates)
    except InvalidEnvelope:
        raise
    except (ValueError, RecursionError) as error:
        raise InvalidEnvelope("envelope is not valid JSON") from error
    if not isinstance(loaded, dict):
        raise InvalidEnvelope("envelope is not a JSON object")
    return loaded


def _string(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise InvalidEnvelope(f"{where}.{key} must be a string")
    return value


def _signature(index: int, item: object) -> Signature:
    where = f"signatures[{index}]"
    if not isinstance(item, dict):
        raise InvalidEnvelope(f"{where} is not an object")
    unknown = set(item) - _SIGNATURE_KEYS
    if unknown:
        raise InvalidEnvelope(f"{where} has unknown fields {sorted(unknown)}")
    keyid = item.get("keyid", "")
    if not isinstance(keyid, str) or len(keyid) > MAX_KEYID_CHARS:
        raise InvalidEnvelope(f"{where}.keyid must be a string of at most {MAX_KEYID_CHARS} characters")
    sig = b64decode(_string(item, "sig", where), f"{where}.sig")
    if not sig or len(sig) > MAX_SIGNATURE_BYTES:
        raise InvalidEnvelope(f"{where}.sig must be 1 to {MAX_SIGNATURE_BYTES} bytes")
    return Signature(keyid=keyid, sig=sig)


def parse_envelope(data: str | bytes | Mapping[str, Any]) -> Envelope:
    """Parse a DSSE JSON envelope (text, bytes or an already-decoded object from an event).

    Checks shape only; the signature is checked by a verifier, the payload by the statement parser.
    """
    obj = _load(data)
    unknown = set(obj) - _ENVELOPE_KEYS
    if unknown:
        raise InvalidEnvelope(f"envelope has unknown fields {sorted(unknown)}")
    payload_type = _string(obj, "payloadType", "envelope")
    if not payload_type or len(_utf8(payload_type, "envelope.payloadType")) > MAX_PAYLOAD_TYPE_BYTES:
        raise InvalidEnvelope(f"envelope.payloadType must be 1 to {MAX_PAYLOAD_TYPE_BYTES} bytes")
    payload = b64decode(_string(obj, "payload", "envelope"), "envelope.payload")
    if len(payload) > MAX_ENVELOPE_BYTES:
        raise InvalidEnvelope(f"envelope.payload is larger than {MAX_ENVELOPE_BYTES} bytes")
    signatures = obj.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise InvalidEnvelope("envelope is unsigned (no signatures)")
    if len(signatures) > MAX_SIGNATURES:
        raise InvalidEnvelope(f"envelope has more than {MAX_SIGNATURES} signatures")
    return Envelope(
        payload_type=payload_type,
        payload=payload,
        signatures=tuple(_signature(i, item) for i, item in enumerate(signatures)),
    )


def canonical_bytes(data: str | bytes | Mapping[str, Any]) -> bytes:
    """The envelope bytes as stored: text/bytes as given, a decoded object as compact key-sorted JSON."""
    if isinstance(data, Mapping):
        try:
            return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as error:
            raise InvalidEnvelope("envelope is not JSON-serialisable") from error
    if isinstance(data, str):
        return _utf8(data, "envelope")
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    # Events are untrusted JSON: a number or a list here must not become bytes by accident.
    raise InvalidEnvelope("envelope must be a JSON object or its text")
