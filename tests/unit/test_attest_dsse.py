"""DSSE v1: the PAE against the spec's published vectors, and strict envelope parsing of hostile input."""

from __future__ import annotations

import base64
import json
import secrets

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from promoter.attest.dsse import (
    INTOTO_PAYLOAD_TYPE,
    MAX_ENVELOPE_BYTES,
    MAX_SIGNATURES,
    Envelope,
    Signature,
    canonical_bytes,
    pae,
    parse_envelope,
)
from promoter.attest.errors import InvalidEnvelope, UntrustedEvidence

# secure-systems-lab/dsse protocol.md (commit 0110cc2e89df500345148a36c780d883922443ca), "Test Vectors":
#   SERIALIZED_BODY: hello world
#   PAYLOAD_TYPE:    http://example.com/HelloWorld
#   PAE:             DSSEv1 29 http://example.com/HelloWorld 11 hello world
#   Algorithm: ECDSA over NIST P-256 and SHA-256, with deterministic-rfc6979
#   Signature: raw concatenation of r and s (Cryptodome binary encoding)
#   X: 46950820868899156662930047687818585632848591499744589407958293238635476079160
#   Y: 5640078356564379163099075877009565129882514886557779369047442380624545832820
#   {"payload": "aGVsbG8gd29ybGQ=", "payloadType": "http://example.com/HelloWorld",
#    "signatures": [{"sig":
#        "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}]}
SPEC_X = 46950820868899156662930047687818585632848591499744589407958293238635476079160
SPEC_Y = 5640078356564379163099075877009565129882514886557779369047442380624545832820
SPEC_ENVELOPE = {
    "payload": "aGVsbG8gd29ybGQ=",
    "payloadType": "http://example.com/HelloWorld",
    "signatures": [{"sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}],
}

# secure-systems-lab/dsse testvectors/vectors.json (commit 82043adf78bb4e67c208f9ffa72b38804ea6a0c4): the
# "non-ascii-payload-type" vector (LEN(type) is the byte length, 29, not the 28 characters) and "empty-payload"
# (an empty body is signed as "... 0 " with a trailing space), both signed by ed25519 key "A".
VECTOR_KEY_A = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
STATEMENT_B64 = "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ=="
ED25519_VECTORS = [
    (
        "application/vnd.exämple+json",
        STATEMENT_B64,
        "445353457631203239206170706c69636174696f6e2f766e642e6578c3a46d706c652b6a736f6e203433207b225f74797065223a2268"
        "747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d",
        "xmSk/ug66ysT7ayhkCIjhAq42zgZXSsEWuzUaNL7w2eGAdF/NU6/fRXPtmfN+5DNSAs5/i2lUnHjbbjPsu0tAw==",
    ),
    (
        INTOTO_PAYLOAD_TYPE,
        "",
        "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203020",
        "gSggCAaTLTYyRH6FIDBem6meyIynsYy8RTHVzwx9tnTb7Bg/1jMWnuVgI/gffqmbsC2VX5/jHfkkDqsj7CDbDg==",
    ),
]


def test_pae_matches_the_spec_vector_and_its_published_signature_verifies_over_it() -> None:
    # Given the spec's envelope, parsed by our parser
    envelope = parse_envelope(SPEC_ENVELOPE)

    # When we compute the PAE
    encoded = envelope.pae()

    # Then it is the spec's PAE byte for byte, and the spec's ECDSA signature verifies over our bytes
    assert encoded == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    raw = envelope.signatures[0].sig
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public = ec.EllipticCurvePublicNumbers(SPEC_X, SPEC_Y, ec.SECP256R1()).public_key()
    public.verify(der, encoded, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(("payload_type", "payload_b64", "pae_hex", "sig_b64"), ED25519_VECTORS)
def test_pae_uses_byte_lengths_and_keeps_the_trailing_space_of_an_empty_body(
    payload_type: str, payload_b64: str, pae_hex: str, sig_b64: str
) -> None:
    # Given a published vector
    body = base64.b64decode(payload_b64)

    # When we encode it
    encoded = pae(payload_type, body)

    # Then it is the vector's PAE and the vector's ed25519 signature verifies over it
    assert encoded.hex() == pae_hex
    ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(VECTOR_KEY_A)).verify(base64.b64decode(sig_b64), encoded)


def _envelope(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "payloadType": INTOTO_PAYLOAD_TYPE,
        "payload": base64.b64encode(b'{"_type":"x"}').decode(),
        "signatures": [
            {"keyid": "arn:aws:kms:us-west-2:111122223333:key/k", "sig": base64.b64encode(b"\x30\x06").decode()}
        ],
    }
    body.update(overrides)
    return body


def test_an_envelope_round_trips_through_json_text_bytes_and_objects() -> None:
    # Given an envelope with a random payload and signature
    original = Envelope(INTOTO_PAYLOAD_TYPE, secrets.token_bytes(40), (Signature("kid", secrets.token_bytes(70)),))

    # When it is serialised and parsed back in each accepted form
    text = original.to_json()

    # Then every form gives the same envelope, and the stored bytes are the JSON as given
    assert parse_envelope(text) == original
    assert parse_envelope(text.decode()) == original
    assert parse_envelope(json.loads(text)) == original
    assert canonical_bytes(json.loads(text)) == text


def test_url_safe_and_unpadded_base64_are_accepted_as_dsse_requires() -> None:
    # Given payload bytes whose base64 uses the alphabet's last two characters
    payload = b"\xfb\xff\xbf>?"
    url_safe = base64.urlsafe_b64encode(payload).decode().rstrip("=")

    # When parsed
    envelope = parse_envelope(_envelope(payload=url_safe))

    # Then the bytes are the same as with standard base64
    assert "-" in url_safe or "_" in url_safe
    assert envelope.payload == payload


HOSTILE = [
    ("[]", "not a JSON object"),
    ("{", "not valid JSON"),
    ('{"payloadType": "a", "payloadType": "b", "payload": "", "signatures": []}', "duplicate JSON key"),
    (json.dumps(_envelope(signatures=[])), "unsigned"),
    (json.dumps({k: v for k, v in _envelope().items() if k != "signatures"}), "unsigned"),
    (json.dumps(_envelope(signatures="x")), "unsigned"),
    (json.dumps(_envelope(extra=1)), "unknown fields"),
    (json.dumps(_envelope(payloadType=7)), "payloadType must be a string"),
    (json.dumps(_envelope(payloadType="")), "payloadType must be 1 to"),
    (json.dumps(_envelope(payloadType="t" * 300)), "payloadType must be 1 to"),
    (json.dumps(_envelope(payload=None)), "payload must be a string"),
    (json.dumps(_envelope(payload="ab+c-d==")), "not base64"),
    (json.dumps(_envelope(payload="a")), "bad length"),
    (json.dumps(_envelope(payload="ab=c")), "not base64"),
    (json.dumps(_envelope(signatures=["sig"])), "signatures[0] is not an object"),
    (json.dumps(_envelope(signatures=[{"sig": ""}])), "signatures[0].sig must be 1 to"),
    (json.dumps(_envelope(signatures=[{"sig": "AAAA", "cert": "x"}])), "unknown fields"),
    (json.dumps(_envelope(signatures=[{"sig": "AAAA", "keyid": 3}])), "keyid must be a string"),
    (json.dumps(_envelope(signatures=[{"sig": "AAAA", "keyid": "k" * 3000}])), "keyid must be a string"),
    (json.dumps(_envelope(signatures=[{"sig": base64.b64encode(b"x" * 2000).decode()}])), "sig must be 1 to"),
    (json.dumps(_envelope(signatures=[{"sig": "AAAA"}] * (MAX_SIGNATURES + 1))), "more than"),
    ("[" * 150_000 + "]" * 150_000, "larger than"),
    ('{"a":' * 50_000 + "1" + "}" * 50_000, "larger than"),
    ("[" * 20_000 + "]" * 20_000, "not valid JSON"),
]


@pytest.mark.parametrize(("raw", "reason"), HOSTILE)
def test_hostile_envelopes_are_refused_with_a_reason(raw: str, reason: str) -> None:
    # Given a malformed or hostile envelope
    # When parsed
    with pytest.raises(InvalidEnvelope) as refused:
        parse_envelope(raw)

    # Then the refusal says why, and it is an UntrustedEvidence (one class for callers to catch)
    assert reason in str(refused.value)
    assert isinstance(refused.value, UntrustedEvidence)


def test_an_envelope_over_the_size_limit_is_refused_before_parsing() -> None:
    # Given a syntactically valid envelope whose payload alone fills the limit
    padding = "A" * (MAX_ENVELOPE_BYTES)
    raw = json.dumps(_envelope(payload=padding))

    # When parsed (as text and as an already-decoded object)
    # Then both are refused on size
    for form in (raw, json.loads(raw)):
        with pytest.raises(InvalidEnvelope, match="larger than"):
            parse_envelope(form)


def test_a_decoded_object_that_is_not_json_serialisable_is_refused() -> None:
    with pytest.raises(InvalidEnvelope, match="not JSON-serialisable"):
        parse_envelope({"payloadType": object()})


def test_a_missing_keyid_is_an_empty_hint_as_dsse_allows() -> None:
    envelope = parse_envelope(_envelope(signatures=[{"sig": "AAAA"}]))
    assert envelope.signatures == (Signature("", b"\x00\x00\x00"),)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("\ud800", "not valid Unicode"),
        (
            '{"payloadType": "\\ud800", "payload": "", "signatures": [{"sig": "AAAA"}]}',
            "payloadType is not valid Unicode",
        ),
        (5, "must be a JSON object or its text"),
        ([1, 2], "must be a JSON object or its text"),
    ],
)
def test_values_an_untrusted_event_can_carry_are_refused_not_coerced(value: object, reason: str) -> None:
    # Given what a hand-written event could put in detail.attestation (a lone surrogate, a number, a list)
    # When parsed, then it is an InvalidEnvelope, never bytes(5) or a UnicodeEncodeError
    with pytest.raises(InvalidEnvelope, match=reason):
        parse_envelope(value)  # type: ignore[arg-type]
