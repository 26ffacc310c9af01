"""The attestation layouts on the real CNCF registry: it accepts them, and a verifier that knows only the
image digest finds the VSA (referrers API, else the tag-schema index, else cosign's .att tag) and verifies it.

distribution 2.8 has no referrers API (NOTES.md: GET /v2/<repo>/referrers/<digest> answers 404), so this
is the fallback path; ECR serves the referrers API itself."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devtools import images
from devtools.localregistry import LocalRegistry
from promoter.attest.dsse import parse_envelope
from promoter.attest.errors import UntrustedEvidence
from promoter.attest.evidence import attestation_digest, verify_vsa
from promoter.attest.intoto import VSA_PREDICATE, ResourceDescriptor, build_vsa
from promoter.attest.kms import KmsSigner
from promoter.attest.layout import (
    Artifact,
    Descriptor,
    bundle_referrer_artifact,
    cosign_attestation_artifact,
    referrer_artifact,
    referrers_index,
    referrers_tag,
    sigstore_bundle,
)
from promoter.attest.pubkey import PublicKeyVerifier, public_key_pem
from promoter.registry import RegistryClient
from promoter.registry.manifest import Manifest


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("kms", region_name="us-west-2")


def _push(registry: LocalRegistry, client: RegistryClient, repository: str, artifact: Artifact) -> None:
    for blob in artifact.blobs:
        images.push_blob(registry.url, repository, blob.data)
    reference = artifact.tag or artifact.digest
    client.put_manifest(repository, reference, Manifest.from_bytes(artifact.manifest, artifact.media_type))


def _find_vsa_envelopes(client: RegistryClient, repository: str, digest: str) -> list[bytes]:
    """What `promoter verify` will do: referrers API, else the referrers tag schema index."""
    listed = client.referrers(repository, digest)
    if listed is None:
        index = client.get_manifest(repository, referrers_tag(digest)).data
        listed_raw = json.loads(index)["manifests"]
    else:
        listed_raw = [{"digest": d.digest, "artifactType": d.artifact_type} for d in listed]
    envelopes = []
    for entry in listed_raw:
        if entry.get("artifactType") != "application/vnd.in-toto+json":
            continue
        manifest = json.loads(client.get_manifest(repository, entry["digest"]).data)
        assert manifest["subject"]["digest"] == digest
        for layer in manifest["layers"]:
            if layer["annotations"].get("predicateType") == VSA_PREDICATE:
                envelopes.append(client.get_blob_bytes(repository, layer["digest"]))
    return envelopes


def test_a_vsa_pushed_in_both_layouts_is_found_from_the_digest_alone_and_verifies(
    registry: LocalRegistry, kms: Any
) -> None:
    # Given a promoted image in a target repository and the function's attestation key
    repository = f"prod-attest-{uuid.uuid4().hex[:8]}"
    image = images.push_image(registry.url, repository, "v1", images.random_layers(2, 512))
    subject = Descriptor(image.media_type, image.digest, len(image.manifest))
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    evidence = ResourceDescriptor({"sha256": hashlib.sha256(b"signed test result").hexdigest()})
    statement = build_vsa(
        image.digest,
        verifier_id="arn:aws:lambda:us-west-2:111122223333:function:promoter",
        verifier_version={"ecr-promoter": "0.1.0"},
        time_verified=datetime.now(UTC),
        resource_uri=f"{registry.url.removeprefix('http://')}/{repository}@{image.digest}",
        policy_uri="microservice",
        policy_digest="c" * 64,
        input_attestations=[evidence],
    )
    envelope = KmsSigner(kms, key).sign_statement(statement).to_json()
    client = RegistryClient.for_endpoint(registry.url)

    # When the referrer, the fallback index and cosign's .att image are pushed
    referrer = referrer_artifact(subject, envelope, VSA_PREDICATE, created=datetime.now(UTC))
    _push(registry, client, repository, referrer)
    _push(registry, client, repository, referrers_index(image.digest, [referrer.descriptor()]))
    _push(registry, client, repository, cosign_attestation_artifact(image.digest, envelope, VSA_PREDICATE))

    # Then a verifier holding only the digest and the public key finds the VSA and verifies it
    offline = PublicKeyVerifier(public_key_pem(kms, key))
    found = _find_vsa_envelopes(client, repository, image.digest)
    assert found == [envelope]
    summary = verify_vsa(found[0], image.digest, offline, expected_policy_digest="sha256:" + "c" * 64)
    assert (summary.policy_uri, summary.input_attestations) == ("microservice", (evidence,))
    assert attestation_digest(found[0]) == "sha256:" + hashlib.sha256(envelope).hexdigest()
    # and cosign's tag holds the same envelope as its one DSSE layer
    att = json.loads(client.get_manifest(repository, f"sha256-{image.digest.removeprefix('sha256:')}.att").data)
    assert client.get_blob_bytes(repository, att["layers"][0]["digest"]) == envelope

    # and the same VSA does not verify for another image, another policy or another key
    other = images.push_image(registry.url, repository, "v2", images.random_layers(1, 256))
    with pytest.raises(UntrustedEvidence, match="not about"):
        verify_vsa(found[0], other.digest, offline)
    with pytest.raises(UntrustedEvidence, match="policy digest"):
        verify_vsa(found[0], image.digest, offline, expected_policy_digest="d" * 64)
    stranger = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    with pytest.raises(UntrustedEvidence, match="no signature verifies"):
        verify_vsa(found[0], image.digest, PublicKeyVerifier(public_key_pem(kms, stranger)))


def test_a_sigstore_bundle_referrer_is_accepted_and_its_dsse_envelope_verifies(
    registry: LocalRegistry, kms: Any
) -> None:
    # Given a promoted image and a VSA signed by the function's key
    repository = f"prod-bundle-{uuid.uuid4().hex[:8]}"
    image = images.push_image(registry.url, repository, "v1", images.random_layers(1, 512))
    subject = Descriptor(image.media_type, image.digest, len(image.manifest))
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    statement = build_vsa(
        image.digest,
        verifier_id="promoter",
        verifier_version={},
        time_verified=datetime.now(UTC),
        resource_uri=f"{repository}@{image.digest}",
        policy_uri="r",
        policy_digest="e" * 64,
    )
    envelope = KmsSigner(kms, key).sign_statement(statement)
    client = RegistryClient.for_endpoint(registry.url)

    # When the bundle referrer and the fallback index are pushed
    referrer = bundle_referrer_artifact(subject, sigstore_bundle(envelope, key), VSA_PREDICATE)
    _push(registry, client, repository, referrer)
    _push(registry, client, repository, referrers_index(image.digest, [referrer.descriptor()]))

    # Then the index lists it as a bundle, and the bundle's dsseEnvelope verifies under the key's PEM
    index = json.loads(client.get_manifest(repository, referrers_tag(image.digest)).data)
    (entry,) = index["manifests"]
    assert entry["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    layer = json.loads(client.get_manifest(repository, entry["digest"]).data)["layers"][0]
    bundle = json.loads(client.get_blob_bytes(repository, layer["digest"]))
    found = parse_envelope(bundle["dsseEnvelope"])
    assert verify_vsa(found.to_json(), image.digest, PublicKeyVerifier(public_key_pem(kms, key))).key_id
