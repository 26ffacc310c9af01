"""KMS signing and verification of DSSE envelopes against moto's KMS (real ECDSA P-256), with botocore's
Stubber where moto diverges from AWS (each divergence cited)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.kms.models import kms_backends
from moto.server import ThreadedMotoServer

from devtools.localregistry import free_port
from promoter.attest.dsse import INTOTO_PAYLOAD_TYPE, Envelope, Signature, pae, parse_envelope
from promoter.attest.errors import UntrustedEvidence
from promoter.attest.evidence import verify_test_result
from promoter.attest.intoto import build_test_result
from promoter.attest.kms import RAW_MESSAGE_LIMIT, KmsSigner, KmsVerifier
from promoter.attest.pubkey import PublicKeyVerifier, public_key_pem

REGION = "us-west-2"


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


def _signing_key(kms: Any, alias: str | None = None) -> dict[str, str]:
    metadata = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
    return {"id": metadata["KeyId"], "arn": metadata["Arn"]}


def _digest() -> str:
    return "sha256:" + hashlib.sha256(secrets.token_bytes(16)).hexdigest()


def _statement_bytes() -> bytes:
    return build_test_result(_digest(), "integration", "PASSED").to_json()


def test_a_kms_signed_envelope_verifies_and_names_the_key_arn(kms: Any) -> None:
    # Given a CI signing key and an envelope it signed (addressed by key id)
    key = _signing_key(kms)
    envelope = KmsSigner(kms, key["id"]).sign(INTOTO_PAYLOAD_TYPE, _statement_bytes())

    # When a verifier that trusts the key checks it after a JSON round trip
    verified = KmsVerifier(kms, [key["arn"]]).verify(parse_envelope(envelope.to_json()))

    # Then it verifies, and the signature's keyid and the answer are the key's ARN
    assert envelope.signatures[0].keyid == key["arn"]
    assert verified == key["arn"]


@pytest.mark.parametrize("trust_form", ["key id", "key ARN", "alias ARN"])
def test_every_form_of_key_reference_can_be_trusted(kms: Any, trust_form: str) -> None:
    # Given a key with an alias, trusted in one of the three forms the policy allows
    alias = f"alias/ci-{secrets.token_hex(4)}"
    key = _signing_key(kms, alias)
    alias_arn = f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT_ID}:{alias}"
    trusted = {"key id": key["id"], "key ARN": key["arn"], "alias ARN": alias_arn}[trust_form]

    # When the CI signs through the alias and the function verifies
    envelope = KmsSigner(kms, alias).sign(INTOTO_PAYLOAD_TYPE, _statement_bytes())
    verified = KmsVerifier(kms, [trusted]).verify(envelope)

    # Then the alias resolved to the key, and the keyid (the ARN KMS reports) is accepted
    assert verified == key["arn"]


def test_a_keyid_that_names_the_trusted_ref_itself_is_accepted(kms: Any) -> None:
    # Given a CI that writes the alias ARN it was configured with as the keyid
    alias = f"alias/ci-{secrets.token_hex(4)}"
    key = _signing_key(kms, alias)
    alias_arn = f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT_ID}:{alias}"
    signed = KmsSigner(kms, alias).sign(INTOTO_PAYLOAD_TYPE, _statement_bytes())
    relabelled = Envelope(signed.payload_type, signed.payload, (Signature(alias_arn, signed.signatures[0].sig),))

    # When verified against a trust list holding that alias ARN
    # Then it verifies under the key the alias points to
    assert KmsVerifier(kms, [alias_arn]).verify(relabelled) == key["arn"]


@pytest.mark.parametrize("spelling", ["key id", "alias name", "alias ARN"])
def test_a_keyid_may_spell_the_trusted_key_any_way_design_allows(kms: Any, spelling: str) -> None:
    # Given a policy that trusts the key ARN, and a CI that writes another spelling of that key as keyid
    alias = f"alias/ci-{secrets.token_hex(4)}"
    key = _signing_key(kms, alias)
    keyid = {
        "key id": key["id"],
        "alias name": alias,
        "alias ARN": f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT_ID}:{alias}",
    }
    signed = KmsSigner(kms, key["arn"]).sign(INTOTO_PAYLOAD_TYPE, _statement_bytes())
    relabelled = Envelope(signed.payload_type, signed.payload, (Signature(keyid[spelling], signed.signatures[0].sig),))

    # When verified, then the spelling is recognised (from DescribeKey and ListAliases, resolved once)
    assert KmsVerifier(kms, [key["arn"]]).verify(relabelled) == key["arn"]


def test_without_list_aliases_permission_the_key_arn_and_id_still_work() -> None:
    # Given a function role without kms:ListAliases (AccessDeniedException, KMS API reference common errors)
    client = boto3.client("kms", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
    arn = f"arn:aws:kms:{REGION}:111122223333:key/{secrets.token_hex(8)}"
    envelope = Envelope(INTOTO_PAYLOAD_TYPE, b"{}", (Signature(arn, b"\x30\x01\x00"),))
    with Stubber(client) as stub:
        stub.add_response(
            "describe_key",
            {"KeyMetadata": {"KeyId": arn, "Arn": arn, "KeyUsage": "SIGN_VERIFY", "KeySpec": "ECC_NIST_P256"}},
        )
        stub.add_client_error("list_aliases", service_error_code="AccessDeniedException", http_status_code=400)
        stub.add_response("verify", {"KeyId": arn, "SignatureValid": True, "SigningAlgorithm": "ECDSA_SHA_256"})

        # When an envelope whose keyid is the key ARN is verified, then it counts
        assert KmsVerifier(client, [arn]).verify(envelope) == arn


def test_a_tampered_payload_does_not_verify(kms: Any) -> None:
    # Given a signed PASSED statement whose payload is then rewritten
    key = _signing_key(kms)
    signed = KmsSigner(kms, key["arn"]).sign(INTOTO_PAYLOAD_TYPE, _statement_bytes())
    tampered = Envelope(signed.payload_type, signed.payload.replace(b"PASSED", b"FAILED"), signed.signatures)

    # When verified
    with pytest.raises(UntrustedEvidence, match="does not verify") as refused:
        KmsVerifier(kms, [key["arn"]]).verify(tampered)

    # Then the reason names the key, and nothing about the signature bytes
    assert key["arn"] in str(refused.value)


def test_a_changed_payload_type_does_not_verify(kms: Any) -> None:
    # Given a signature whose payload type is swapped (DSSE binds the type into the PAE)
    key = _signing_key(kms)
    signed = KmsSigner(kms, key["arn"]).sign(INTOTO_PAYLOAD_TYPE, _statement_bytes())
    swapped = Envelope("application/vnd.other+json", signed.payload, signed.signatures)

    # When verified, then it is refused
    with pytest.raises(UntrustedEvidence, match="does not verify"):
        KmsVerifier(kms, [key["arn"]]).verify(swapped)


def test_another_keys_signature_is_refused_whatever_keyid_it_claims(kms: Any) -> None:
    # Given a trusted key and an attacker's own KMS key
    trusted, other = _signing_key(kms), _signing_key(kms)
    forged = KmsSigner(kms, other["arn"]).sign(INTOTO_PAYLOAD_TYPE, _statement_bytes())
    verifier = KmsVerifier(kms, [trusted["arn"]])

    # When the attacker's envelope is verified as signed, and with the trusted key's ARN as keyid
    with pytest.raises(UntrustedEvidence, match="is not trusted"):
        verifier.verify(forged)
    relabelled = Envelope(forged.payload_type, forged.payload, (Signature(trusted["arn"], forged.signatures[0].sig),))

    # Then both are refused: the keyid picks the key, the signature decides
    with pytest.raises(UntrustedEvidence, match="does not verify"):
        verifier.verify(relabelled)


def test_one_good_signature_among_bad_ones_counts(kms: Any) -> None:
    key, other = _signing_key(kms), _signing_key(kms)
    body = _statement_bytes()
    bad = KmsSigner(kms, other["arn"]).sign(INTOTO_PAYLOAD_TYPE, body).signatures[0]
    good = KmsSigner(kms, key["arn"]).sign(INTOTO_PAYLOAD_TYPE, body).signatures[0]
    envelope = Envelope(INTOTO_PAYLOAD_TYPE, body, (Signature("", b"\x30\x00"), bad, good))
    assert KmsVerifier(kms, [key["arn"]]).verify(envelope) == key["arn"]


def test_the_trust_list_is_resolved_once_and_unusable_keys_say_why(kms: Any) -> None:
    # Given a trust list with a good key, a missing key and a symmetric key
    key = _signing_key(kms)
    symmetric = kms.create_key()["KeyMetadata"]["Arn"]
    missing = f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT_ID}:key/{secrets.token_hex(4)}"
    calls: list[str] = []

    class CountingKms:
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(kms, name)

    verifier = KmsVerifier(CountingKms(), [key["arn"], missing, symmetric])
    envelope = KmsSigner(kms, key["arn"]).sign(INTOTO_PAYLOAD_TYPE, _statement_bytes())

    # When three envelopes are verified, and one claims each unusable key
    for _ in range(3):
        verifier.verify(envelope)
    for unusable, reason in ((missing, "does not exist"), (symmetric, "is not an ECC_NIST_P256 SIGN_VERIFY key")):
        claim = Envelope(envelope.payload_type, envelope.payload, (Signature(unusable, envelope.signatures[0].sig),))
        with pytest.raises(UntrustedEvidence, match=reason):
            verifier.verify(claim)

    # Then DescribeKey ran once per trusted ref, and KMS was asked to verify only the good signatures
    assert calls.count("describe_key") == 3
    assert calls.count("verify") == 3


def _moto_private_key(key_id: str) -> ec.EllipticCurvePrivateKey:
    key = kms_backends[DEFAULT_ACCOUNT_ID][REGION].keys[key_id].private_key.private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def test_a_digest_mode_signature_is_the_same_signature(kms: Any) -> None:
    # AWS: "When the value is DIGEST, KMS skips the hashing step in the signing algorithm" and "A message and
    # its hash digest are considered to be the same message" (KMS Sign/Verify API reference, MessageType and
    # Message). moto 5.2.5 ignores MessageType (moto/kms/models.py verify(): "The MessageType-parameter DIGEST
    # is not yet implemented"; sign() hashes the digest again), so the DIGEST signature is made here exactly as
    # AWS makes it: ECDSA over the given SHA-256, with the moto key's own private key.
    key = _signing_key(kms)
    body = _statement_bytes()
    digest = hashlib.sha256(pae(INTOTO_PAYLOAD_TYPE, body)).digest()
    signature = _moto_private_key(key["id"]).sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    envelope = Envelope(INTOTO_PAYLOAD_TYPE, body, (Signature(key["arn"], signature),))

    # When verified through kms:Verify (RAW over the PAE) and offline with the PEM
    by_kms = KmsVerifier(kms, [key["arn"]]).verify(envelope)
    offline = PublicKeyVerifier(public_key_pem(kms, key["arn"]))

    # Then both accept it
    assert by_kms == key["arn"]
    assert offline.verify(envelope) == offline.key_id


def test_the_signer_sends_a_digest_when_asked_or_when_the_pae_exceeds_kms_raw_limit() -> None:
    # KMS Sign API reference: "Messages can be 0-4096 bytes. To sign a larger message, provide a message digest."
    client = boto3.client("kms", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
    arn = f"arn:aws:kms:{REGION}:111122223333:key/{secrets.token_hex(8)}"
    small, large = b"{}", b"x" * RAW_MESSAGE_LIMIT
    with Stubber(client) as stub:
        for prehash, body in ((True, small), (False, large), (False, small)):
            message = pae(INTOTO_PAYLOAD_TYPE, body)
            digest_mode = prehash or len(message) > RAW_MESSAGE_LIMIT
            expected = {
                "KeyId": arn,
                "SigningAlgorithm": "ECDSA_SHA_256",
                "MessageType": "DIGEST" if digest_mode else "RAW",
                "Message": hashlib.sha256(message).digest() if digest_mode else message,
            }
            stub.add_response("sign", {"KeyId": arn, "Signature": b"\x30\x01\x00"}, expected)
            KmsSigner(client, arn, prehash=prehash).sign(INTOTO_PAYLOAD_TYPE, body)
        stub.assert_no_pending_responses()


def _stubbed_verifier(error_code: str | None) -> tuple[KmsVerifier, Envelope, Stubber]:
    client = boto3.client("kms", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
    arn = f"arn:aws:kms:{REGION}:111122223333:key/{secrets.token_hex(8)}"
    stub = Stubber(client)
    stub.add_response(
        "describe_key",
        {"KeyMetadata": {"KeyId": arn, "Arn": arn, "KeyUsage": "SIGN_VERIFY", "KeySpec": "ECC_NIST_P256"}},
        {"KeyId": arn},
    )
    stub.add_response("list_aliases", {"Aliases": []}, {"KeyId": arn})
    if error_code:
        stub.add_client_error("verify", service_error_code=error_code, http_status_code=400)
    return KmsVerifier(client, [arn]), Envelope(INTOTO_PAYLOAD_TYPE, b"{}", (Signature(arn, b"\x30\x01\x00"),)), stub


def test_aws_answers_a_bad_signature_with_an_exception_and_it_is_a_refusal() -> None:
    # AWS (botocore KMS.Client.exceptions.KMSInvalidSignatureException): "The request was rejected because the
    # signature verification failed." moto instead answers 200 with SignatureValid false (covered above).
    verifier, envelope, stub = _stubbed_verifier("KMSInvalidSignatureException")
    with stub, pytest.raises(UntrustedEvidence, match=r"does not verify \(KMSInvalidSignatureException\)"):
        verifier.verify(envelope)


def test_throttling_while_verifying_is_raised_for_a_retry_not_recorded_as_untrusted() -> None:
    verifier, envelope, stub = _stubbed_verifier("ThrottlingException")
    with stub, pytest.raises(ClientError) as raised:
        verifier.verify(envelope)
    assert not isinstance(raised.value, UntrustedEvidence)


def test_a_pae_over_4096_bytes_is_verified_by_digest() -> None:
    verifier, envelope, stub = _stubbed_verifier(None)
    large = Envelope(INTOTO_PAYLOAD_TYPE, b"y" * RAW_MESSAGE_LIMIT, envelope.signatures)
    arn = envelope.signatures[0].keyid
    stub.add_response(
        "verify",
        {"KeyId": arn, "SignatureValid": True, "SigningAlgorithm": "ECDSA_SHA_256"},
        {
            "KeyId": arn,
            "SigningAlgorithm": "ECDSA_SHA_256",
            "Signature": b"\x30\x01\x00",
            "MessageType": "DIGEST",
            "Message": hashlib.sha256(large.pae()).digest(),
        },
    )
    with stub:
        assert verifier.verify(large) == arn


def test_pem_verification_of_a_moto_signed_envelope(kms: Any) -> None:
    # Given an envelope signed by KMS and the key's PEM fetched with GetPublicKey
    key, other = _signing_key(kms), _signing_key(kms)
    envelope = KmsSigner(kms, key["arn"]).sign(INTOTO_PAYLOAD_TYPE, _statement_bytes())
    pem = public_key_pem(kms, key["arn"])

    # When verified offline with `cryptography`
    verifier = PublicKeyVerifier(pem)

    # Then the right key verifies it; a tampered payload and another key's PEM do not
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert verifier.verify(envelope).startswith("sha256:")
    with pytest.raises(UntrustedEvidence, match="no signature verifies"):
        verifier.verify(Envelope(envelope.payload_type, envelope.payload + b" ", envelope.signatures))
    with pytest.raises(UntrustedEvidence, match="no signature verifies"):
        PublicKeyVerifier(public_key_pem(kms, other["arn"])).verify(envelope)
    with pytest.raises(ValueError, match="not a PEM public key"):
        PublicKeyVerifier("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


# The package docstring's recipe for a CI without Python, as shell; `$SIGN` is `aws kms sign …` (or a stand-in).
CLI_RECIPE = r"""
set -eu
TYPE=application/vnd.in-toto+json
printf 'DSSEv1 %d %s %d ' "${#TYPE}" "$TYPE" "$(wc -c < statement.json)" > pae.bin
cat statement.json >> pae.bin
$SIGN > sig.b64
jq -n --arg p "$(base64 -w0 statement.json)" --arg s "$(cat sig.b64)" --arg k "$KEY_ARN" \
    '{payloadType: "application/vnd.in-toto+json", payload: $p, signatures: [{keyid: $k, sig: $s}]}' > envelope.json
"""


def _run_recipe(tmp_path: Path, statement: bytes, sign: str, env: dict[str, str]) -> bytes:
    (tmp_path / "statement.json").write_bytes(statement)
    subprocess.run(["bash", "-c", CLI_RECIPE], cwd=tmp_path, env={"SIGN": sign, **env}, check=True)
    return (tmp_path / "envelope.json").read_bytes()


@pytest.mark.skipif(shutil.which("jq") is None, reason="the recipe uses jq")
def test_the_shell_recipe_builds_the_pae_byte_for_byte_and_its_envelope_verifies(kms: Any, tmp_path: Path) -> None:
    # Given a statement with non-ASCII text (so character and byte counts differ) and a CI key
    key = _signing_key(kms)
    digest = _digest()
    statement = build_test_result(digest, "intégration", "PASSED").to_json()
    (tmp_path / "statement.json").write_bytes(statement)

    # When the recipe's shell steps run, with KMS signing the very pae.bin they wrote (as `fileb://` would send it)
    signer = tmp_path / "sign.sh"
    signer.write_text("cat sig.b64.prepared\n")
    subprocess.run(  # the recipe's first two lines only, to sign their output
        ["bash", "-c", CLI_RECIPE.split("$SIGN", maxsplit=1)[0]],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        check=True,
    )
    written = (tmp_path / "pae.bin").read_bytes()
    signature = kms.sign(KeyId=key["arn"], Message=written, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")
    (tmp_path / "sig.b64.prepared").write_text(base64.b64encode(signature["Signature"]).decode())
    envelope = _run_recipe(tmp_path, statement, "bash sign.sh", {"PATH": "/usr/bin:/bin", "KEY_ARN": key["arn"]})

    # Then pae.bin is our PAE byte for byte, and the envelope counts as a signed PASSED result
    assert written == pae(INTOTO_PAYLOAD_TYPE, statement)
    verified = verify_test_result(envelope, digest, "intégration", "PASSED", KmsVerifier(kms, [key["arn"]]))
    assert verified.key_id == key["arn"]


@pytest.mark.skipif(shutil.which("aws") is None or shutil.which("jq") is None, reason="needs the AWS CLI and jq")
def test_the_aws_cli_recipe_against_a_moto_server(tmp_path: Path) -> None:
    # Given a moto server (the AWS CLI is another process) with a CI signing key
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "kms", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="t", aws_secret_access_key="t"
        )
        arn = client.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
        digest = _digest()
        aws = shutil.which("aws")
        sign = (
            f"{aws} --endpoint-url {endpoint} kms sign --key-id {arn} --message-type RAW "
            "--signing-algorithm ECDSA_SHA_256 --message fileb://pae.bin --query Signature --output text"
        )
        env = {
            "PATH": "/usr/bin:/bin",
            "KEY_ARN": arn,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "HOME": str(tmp_path),
        }

        # When the documented recipe runs with the real AWS CLI
        envelope = _run_recipe(tmp_path, build_test_result(digest, "e2e", "PASSED").to_json(), sign, env)

        # Then the function's verifier accepts the envelope
        verified = verify_test_result(envelope, digest, "e2e", "PASSED", KmsVerifier(client, [arn]))
        assert verified.key_id == arn
    finally:
        server.stop()
