"""`promoter verify` against the real CNCF registry and moto's KMS: it passes for a promoted image and
fails, with one line saying why, for each way an attestation can be wrong or missing.

distribution 2.8 has no referrers API, so the VSA is found through the `sha256-<hex>` tag-schema index
(and cosign's `.att` tag). The command is called in-process through its own `add_parser`/`run`."""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import importlib.util
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devtools import images
from devtools.localregistry import LocalRegistry, free_port
from promoter.attest.dsse import parse_envelope
from promoter.attest.intoto import VSA_PREDICATE, build_vsa
from promoter.attest.kms import KmsSigner
from promoter.attest.layout import (
    Artifact,
    Descriptor,
    bundle_referrer_artifact,
    referrer_artifact,
    referrers_index,
    sigstore_bundle,
)
from promoter.attest.pubkey import public_key_pem
from promoter.provenance import policy_digest, publish_attestation
from promoter.registry import RegistryClient
from promoter.registry.manifest import Descriptor as RegistryDescriptor

POLICY = {"rules": [{"name": "microservice", "source": "dev-microservice", "target": "prod-microservice"}]}
VERIFIER = "arn:aws:lambda:us-west-2:111122223333:function:promoter"
VERIFY_MODULE = Path(__file__).resolve().parents[2] / "lambda_src" / "promoter" / "cli" / "verify.py"


def _verify_command() -> ModuleType:
    """promoter.cli.verify; before the CLI package is merged (promoter/cli.py still a module), from its file."""
    try:
        return importlib.import_module("promoter.cli.verify")
    except ImportError:
        spec = importlib.util.spec_from_file_location("promoter_cli_verify", VERIFY_MODULE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def verify(argv: list[str], home: Path) -> int:
    parser = argparse.ArgumentParser(prog="python -m promoter")
    _verify_command().add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["verify", *argv])
    code: int = args.run(args, {"HOME": str(home), "PATH": ""})
    return code


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("kms", region_name="us-west-2")


def _new_key(kms: Any) -> str:
    return str(kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"])


@pytest.fixture
def key(kms: Any) -> str:
    return _new_key(kms)


@pytest.fixture
def pem(kms: Any, key: str, tmp_path: Path) -> Path:
    path = tmp_path / "attestation-key.pem"
    path.write_text(public_key_pem(kms, key))
    return path


def _image(registry: LocalRegistry, repository: str | None = None) -> tuple[str, images.PushedImage]:
    repository = repository or f"prod-verify-{uuid.uuid4().hex[:10]}"
    return repository, images.push_image(registry.url, repository, None, images.random_layers(1, 256))


def _promote(registry: LocalRegistry, kms: Any, key: str, tag: str | None = None) -> tuple[str, images.PushedImage]:
    """An image promoted the product's way: by digest, attestation published, then the tag written."""
    repository, image = _image(registry)
    subject = RegistryDescriptor(image.media_type, image.digest, len(image.manifest))
    publish_attestation(
        RegistryClient.for_endpoint(registry.url),
        repository,
        subject,
        rule="microservice",
        policy=POLICY,
        input_attestations=[],
        verifier_id=VERIFIER,
        verifier_version={"ecr-promoter": "0.1.0"},
        clock=lambda: datetime(2026, 11, 29, 9, 30, tzinfo=UTC),
        signer=KmsSigner(kms, key),
    )
    if tag is not None:
        images.put_manifest(registry.url, repository, tag, image.manifest, image.media_type)
    return repository, image


def _attach(registry: LocalRegistry, repository: str, image: images.PushedImage, referrer: Artifact) -> None:
    """Attach a hand-made referrer to `image` and list it in its sha256-<hex> index (no product code)."""
    for blob in referrer.blobs:
        images.push_blob(registry.url, repository, blob.data)
    images.put_manifest(registry.url, repository, referrer.digest, referrer.manifest, referrer.media_type)
    index = referrers_index(image.digest, [referrer.descriptor()])
    assert index.tag is not None
    images.put_manifest(registry.url, repository, index.tag, index.manifest, index.media_type)


def _subject(image: images.PushedImage) -> Descriptor:
    return Descriptor(image.media_type, image.digest, len(image.manifest))


def _signed_vsa(kms: Any, key: str, digest: str) -> bytes:
    statement = build_vsa(
        digest,
        verifier_id=VERIFIER,
        verifier_version={},
        time_verified=datetime.now(UTC),
        resource_uri=f"r@{digest}",
        policy_uri="microservice",
        policy_digest=policy_digest(POLICY),
    )
    return KmsSigner(kms, key).sign_statement(statement).to_json()


def _one_line_failure(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("not verified: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


# --- verified ----------------------------------------------------------------------------------------------


def test_a_promoted_image_verifies_offline_with_the_public_key(
    registry: LocalRegistry, kms: Any, key: str, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an image promoted with its attestation, and the key's public PEM
    repository, image = _promote(registry, kms, key, tag="v1")

    # When verify runs by tag and by digest
    by_tag = verify([f"{registry.host}/{repository}:v1", "--public-key", str(pem)], tmp_path)
    by_digest = verify([f"{registry.host}/{repository}@{image.digest}", "--public-key", str(pem)], tmp_path)

    # Then both pass with one line each naming the rule, the time and the verifier
    assert (by_tag, by_digest) == (0, 0)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all(
        "rule microservice" in line and "2026-11-29T09:30:00Z" in line and VERIFIER in line and image.digest in line
        for line in lines
    )


def test_a_promoted_image_verifies_through_kms_and_with_its_policy_digest(
    registry: LocalRegistry, kms: Any, key: str, tmp_path: Path
) -> None:
    # Given a promoted image
    repository, image = _promote(registry, kms, key)
    ref = f"{registry.host}/{repository}@{image.digest}"

    # When verify asks KMS, and also requires the policy digest
    # Then it passes
    assert verify([ref, "--key", key, "--policy-digest", policy_digest(POLICY)], tmp_path) == 0


def test_a_sigstore_bundle_referrer_verifies(
    registry: LocalRegistry, kms: Any, key: str, pem: Path, tmp_path: Path
) -> None:
    # Given an image whose VSA is attached as cosign 3's bundle referrer only
    repository, image = _image(registry)
    envelope = parse_envelope(_signed_vsa(kms, key, image.digest))
    _attach(
        registry,
        repository,
        image,
        bundle_referrer_artifact(_subject(image), sigstore_bundle(envelope, key), VSA_PREDICATE),
    )

    # When / Then verify finds the envelope inside the bundle and passes
    assert verify([f"{registry.host}/{repository}@{image.digest}", "--public-key", str(pem)], tmp_path) == 0


# --- not verified: one line each ---------------------------------------------------------------------------


def test_another_images_vsa_does_not_verify(
    registry: LocalRegistry, kms: Any, key: str, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given image B carrying a VSA signed for image A (moved over as B's referrer)
    repository, a = _promote(registry, kms, key)
    _, b = _image(registry, repository)
    _attach(registry, repository, b, referrer_artifact(_subject(b), _signed_vsa(kms, key, a.digest), VSA_PREDICATE))

    # When B is verified
    code = verify([f"{registry.host}/{repository}@{b.digest}", "--public-key", str(pem)], tmp_path)

    # Then it fails: the signed statement is about A
    assert code == 1
    assert f"the signed statement is not about {b.digest}" in _one_line_failure(capsys)


def test_another_public_key_does_not_verify(
    registry: LocalRegistry, kms: Any, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a promoted image and the PEM of another key
    repository, image = _promote(registry, kms, key)
    other = tmp_path / "other.pem"
    other.write_text(public_key_pem(kms, _new_key(kms)))

    # When verified with it
    code = verify([f"{registry.host}/{repository}@{image.digest}", "--public-key", str(other)], tmp_path)

    # Then it fails naming the key it tried
    assert code == 1
    assert "no signature verifies under the public key sha256:" in _one_line_failure(capsys)


def test_another_kms_key_does_not_verify(
    registry: LocalRegistry, kms: Any, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a promoted image and another KMS key
    repository, image = _promote(registry, kms, key)
    stranger = _new_key(kms)

    # When verified with that key
    code = verify([f"{registry.host}/{repository}@{image.digest}", "--key", stranger], tmp_path)

    # Then it fails: the signer is not the trusted key
    assert code == 1
    assert f"key '{key}' is not trusted" in _one_line_failure(capsys)


def test_a_tampered_payload_does_not_verify(
    registry: LocalRegistry, kms: Any, key: str, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an image whose VSA payload was edited after signing (another rule), signature kept
    repository, image = _image(registry)
    document = json.loads(_signed_vsa(kms, key, image.digest))
    statement = json.loads(base64.b64decode(document["payload"]))
    statement["predicate"]["policy"]["uri"] = "break-glass"
    document["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    tampered = json.dumps(document).encode()
    _attach(registry, repository, image, referrer_artifact(_subject(image), tampered, VSA_PREDICATE))

    # When verified
    code = verify([f"{registry.host}/{repository}@{image.digest}", "--public-key", str(pem)], tmp_path)

    # Then the signature does not cover it
    assert code == 1
    assert "no signature verifies under the public key" in _one_line_failure(capsys)


def test_another_policy_digest_does_not_verify(
    registry: LocalRegistry, kms: Any, key: str, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a promoted image
    repository, image = _promote(registry, kms, key)
    wanted = "sha256:" + hashlib.sha256(b"another policy").hexdigest()

    # When verify requires another policy's digest
    code = verify(
        [f"{registry.host}/{repository}@{image.digest}", "--public-key", str(pem), "--policy-digest", wanted], tmp_path
    )

    # Then it fails naming both digests
    assert code == 1
    line = _one_line_failure(capsys)
    assert f"policy digest is {policy_digest(POLICY)[7:]}, expected {wanted[7:]}" in line


def test_an_image_without_attestation_does_not_verify(
    registry: LocalRegistry, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an image nobody attested
    repository, image = _image(registry)

    # When verified
    code = verify([f"{registry.host}/{repository}@{image.digest}", "--public-key", str(pem)], tmp_path)

    # Then it fails: no attestation
    assert code == 1
    assert _one_line_failure(capsys).startswith(f"not verified: no attestation: nothing refers to {image.digest}")


def test_an_unreachable_registry_is_one_line_not_a_traceback(
    pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a registry address where nothing listens
    ref = f"127.0.0.1:{free_port()}/prod-app@sha256:{'a' * 64}"

    # When verified / Then one line, exit 1
    assert verify([ref, "--public-key", str(pem)], tmp_path) == 1
    assert "registry:" in _one_line_failure(capsys)


# --- usage: exit 2 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["127.0.0.1:5000/prod-app:v1"],
        ["127.0.0.1:5000/prod-app:v1", "--key", "k", "--public-key", "p.pem"],
        ["127.0.0.1:5000/prod-app:v1", "--key", "k", "--policy-digest", "md5:abc"],
    ],
)
def test_argparse_usage_errors_exit_2(argv: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        verify(argv, tmp_path)
    assert exited.value.code == 2


@pytest.mark.parametrize("ref", ["prod-app:v1", "127.0.0.1:5000/prod-app", "127.0.0.1:5000/Prod_App:v1"])
def test_a_bad_reference_exits_2(ref: str, pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert verify([ref, "--public-key", str(pem)], tmp_path) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_an_unreadable_public_key_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    assert verify(["127.0.0.1:5000/prod-app:v1", "--public-key", str(tmp_path / "missing.pem")], tmp_path) == 2
    assert verify(["127.0.0.1:5000/prod-app:v1", "--public-key", str(not_pem)], tmp_path) == 2
    assert len(capsys.readouterr().err.splitlines()) == 2


def test_the_verify_module_imports_no_aws_sdk_at_start_up() -> None:
    """`--help` and --public-key must not pay for boto3 (the CLI's start-up rule)."""
    import subprocess
    import sys

    code = (
        "import importlib.util, sys; "
        f"spec = importlib.util.spec_from_file_location('v', {str(VERIFY_MODULE)!r}); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('boto3', 'botocore', 'promoter')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
