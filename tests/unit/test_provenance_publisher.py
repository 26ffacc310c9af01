"""Publisher and verifier paths the CNCF registry cannot show: a registry *with* the OCI 1.1 referrers API
(ECR), an immutable `.att` tag, junk among the referrers. An in-memory registry stands in for the client
(the real-registry behaviour is covered in tests/integration/test_provenance_*.py)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from promoter.attest.dsse import Envelope, Signature, pae
from promoter.attest.layout import Descriptor as LayoutDescriptor
from promoter.attest.layout import referrer_artifact
from promoter.attest.pubkey import PublicKeyVerifier
from promoter.provenance import NotVerified, publish_attestation, verify_image
from promoter.registry import ImageNotFound, RegistryClient, RegistryError
from promoter.registry.manifest import OCI_MANIFEST, Descriptor, Manifest

REPO = "prod-app"


class MemoryRegistry:
    """The few client verbs the publisher and verifier use, over dicts. `has_referrers_api` answers the
    referrers API from the stored manifests' subjects, as ECR does; `immutable` refuses to move a tag."""

    host = "registry.test"

    def __init__(self, *, has_referrers_api: bool, immutable: bool = False) -> None:
        self.has_referrers_api = has_referrers_api
        self.immutable = immutable
        self.manifests: dict[str, Manifest] = {}
        self.tags: dict[str, str] = {}
        self.blobs: dict[str, bytes] = {}
        self.writes: list[str] = []

    def referrers(self, repository: str, digest: str) -> list[Descriptor] | None:
        if not self.has_referrers_api:
            return None
        found = []
        for manifest in self.manifests.values():
            document = json.loads(manifest.data)
            if document.get("subject", {}).get("digest") == digest:
                found.append(
                    Descriptor(
                        manifest.media_type, manifest.digest, manifest.size, artifact_type=document.get("artifactType")
                    )
                )
        return found

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        digest = self.tags.get(reference, reference)
        if digest not in self.manifests:
            raise ImageNotFound(f"{reference} not found", status=404)
        return self.manifests[digest]

    def get_blob_bytes(self, repository: str, digest: str, max_size: int = 0) -> bytes:
        return self.blobs[digest]

    def blob_exists(self, repository: str, digest: str) -> bool:
        return digest in self.blobs

    def start_upload(self, repository: str) -> str:
        return "upload"

    def finish_upload(self, repository: str, location: str, digest: str, size: int, chunks: list[bytes]) -> None:
        data = b"".join(chunks)
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
        self.blobs[digest] = data
        self.writes.append(f"blob {digest}")

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> Any:
        for blob in manifest.blobs:
            assert blob.digest in self.blobs, "a manifest was put before its blobs"
        if reference in self.tags and self.immutable and self.tags[reference] != manifest.digest:
            raise RegistryError("tag is immutable", status=400, codes=("TAG_INVALID",))
        self.manifests[manifest.digest] = manifest
        if not reference.startswith("sha256:"):
            self.tags[reference] = manifest.digest
        self.writes.append(f"manifest {reference}")
        return None


class LocalSigner:
    """An ECDSA P-256 key in memory (the same DER signature KMS returns)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())

    def sign(self, payload_type: str, body: bytes) -> Envelope:
        signature = self.key.sign(pae(payload_type, body), ec.ECDSA(hashes.SHA256()))
        return Envelope(payload_type, body, (Signature("local-key", signature),))

    def verifier(self) -> PublicKeyVerifier:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return PublicKeyVerifier(public)


def _image(registry: MemoryRegistry) -> Descriptor:
    config = json.dumps({"id": uuid.uuid4().hex}).encode()
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    registry.blobs[digest] = config
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": len(config)},
        "layers": [],
    }
    manifest = Manifest.from_bytes(json.dumps(document).encode(), OCI_MANIFEST)
    registry.manifests[manifest.digest] = manifest
    return manifest.descriptor


def _publish(registry: MemoryRegistry, subject: Descriptor, signer: LocalSigner) -> Any:
    return publish_attestation(
        cast(RegistryClient, registry),
        REPO,
        subject,
        rule="microservice",
        policy={"rules": []},
        input_attestations=[],
        verifier_id="promoter",
        verifier_version={},
        clock=lambda: datetime(2026, 11, 29, tzinfo=UTC),
        signer=signer,
    )


def test_with_a_referrers_api_no_fallback_index_is_written_and_the_vsa_is_found_through_the_api() -> None:
    # Given a registry that lists referrers itself (ECR)
    registry = MemoryRegistry(has_referrers_api=True)
    subject, signer = _image(registry), LocalSigner()

    # When the attestation is published
    published = _publish(registry, subject, signer)

    # Then the referrer and cosign's .att exist but no sha256-<hex> index, and verify finds it through the API
    hex_digest = subject.digest.removeprefix("sha256:")
    assert set(registry.tags) == {f"sha256-{hex_digest}.att"}
    verified = verify_image(cast(RegistryClient, registry), REPO, subject.digest, signer.verifier())
    assert (verified.where, verified.attestation) == ("referrers API", published.digest)
    # and a redelivery reuses it through the API too
    assert _publish(registry, subject, signer).digest == published.digest


def test_an_immutable_att_tag_holding_other_attestations_does_not_block_the_promotion() -> None:
    # Given an immutable repository whose .att tag already holds another attestation image
    registry = MemoryRegistry(has_referrers_api=True, immutable=True)
    subject, signer = _image(registry), LocalSigner()
    other = _image(registry)
    registry.tags[f"sha256-{subject.digest.removeprefix('sha256:')}.att"] = other.digest

    # When the attestation is published
    published = _publish(registry, subject, signer)

    # Then the referrer is written, the .att is left as it was and the result says so
    assert published.digest in registry.manifests and not published.cosign_tag_written
    assert (
        verify_image(cast(RegistryClient, registry), REPO, subject.digest, signer.verifier()).attestation
        == published.digest
    )


def test_junk_referrers_are_skipped_and_the_reasons_are_one_line() -> None:
    # Given an image whose only referrers are an unparseable envelope and one signed by a stranger
    registry = MemoryRegistry(has_referrers_api=True)
    subject = _image(registry)
    layout_subject = LayoutDescriptor(subject.media_type, subject.digest, subject.size)
    junk = referrer_artifact(layout_subject, b"not json", "https://slsa.dev/verification_summary/v1")
    stranger = LocalSigner()
    _publish(registry, subject, stranger)
    for blob in junk.blobs:
        registry.blobs[blob.digest] = blob.data
    registry.put_manifest(REPO, junk.digest, Manifest.from_bytes(junk.manifest, junk.media_type))

    # When verified with the trusted key
    with pytest.raises(NotVerified) as refused:
        verify_image(cast(RegistryClient, registry), REPO, subject.digest, LocalSigner().verifier())

    # Then every candidate was tried and the reason is one line naming both failures
    reason = str(refused.value)
    assert "\n" not in reason
    assert "envelope is not valid JSON" in reason and "no signature verifies" in reason
