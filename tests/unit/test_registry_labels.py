"""The one revision-label reader: which child of an index it reads, and what it answers when it cannot."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from promoter.registry import (
    OCI_INDEX,
    OCI_MANIFEST,
    ImageNotFound,
    Manifest,
    TransientRegistryError,
    platform_child,
    revision_of,
    sha256_digest,
)
from promoter.registry.errors import BlobNotFound

ATTESTATION = {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": "sha256:" + "0" * 64}


def _child(os_: str, arch: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "mediaType": OCI_MANIFEST,
        "digest": sha256_digest(uuid.uuid4().bytes),
        "size": 100,
        "platform": {"os": os_, "architecture": arch},
    }
    if annotations:
        entry["annotations"] = annotations
    return entry


def _index(*children: dict[str, Any]) -> Manifest:
    data = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(children)}).encode()
    return Manifest.from_bytes(data, OCI_INDEX)


def test_attestation_and_unknown_platform_children_are_never_chosen() -> None:
    # Given a buildx index whose first entries are an attestation and an unknown/unknown child
    attestation = _child("unknown", "unknown", ATTESTATION)
    unknown = _child("unknown", "unknown")
    arm = _child("linux", "arm64")
    amd = _child("linux", "amd64")
    # When the child is picked, Then it is the wanted platform, never an attestation
    assert platform_child(_index(attestation, unknown, arm, amd)).digest == amd["digest"]
    # And without the wanted platform, the first image child in index order (deterministic)
    assert platform_child(_index(attestation, arm, _child("linux", "s390x"))).digest == arm["digest"]
    # And an index of attestations only has no image child
    assert platform_child(_index(attestation, unknown)) is None


class FakeClient:
    """Serves manifests and blobs from dicts; `fail` makes every call raise that error."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.manifests: dict[str, Manifest] = {}
        self.blobs: dict[str, bytes] = {}
        self.fail = fail

    def add_image(self, labels: dict[str, str] | None, *, os_: str = "linux", arch: str = "amd64") -> dict[str, Any]:
        config = json.dumps({"os": os_, "architecture": arch, "config": {"Labels": labels}}).encode()
        self.blobs[sha256_digest(config)] = config
        document = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [],
        }
        manifest = Manifest.from_bytes(json.dumps(document).encode(), OCI_MANIFEST)
        self.manifests[manifest.digest] = manifest
        return {
            "mediaType": OCI_MANIFEST,
            "digest": manifest.digest,
            "size": manifest.size,
            "platform": {"os": os_, "architecture": arch},
        }

    def add_index(self, *children: dict[str, Any]) -> str:
        index = _index(*children)
        self.manifests[index.digest] = index
        return index.digest

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        if self.fail is not None:
            raise self.fail
        if reference not in self.manifests:
            raise ImageNotFound(f"{reference} not found", status=404)
        return self.manifests[reference]

    def get_blob_bytes(self, repository: str, digest: str, max_size: int) -> bytes:
        if digest not in self.blobs:
            raise BlobNotFound(f"{digest} not found", status=404)
        return self.blobs[digest]


def test_revision_of_an_index_reads_the_amd64_image_not_the_attestation_or_first_child() -> None:
    # Given an index whose arm64 child (listed first) and amd64 child carry different revisions
    client = FakeClient()
    arm = client.add_image({"org.opencontainers.image.revision": "arm-rev"}, arch="arm64")
    amd = client.add_image({"org.opencontainers.image.revision": "amd-rev"})
    attestation = client.add_image(None, os_="unknown", arch="unknown") | {"annotations": ATTESTATION}
    index = client.add_index(attestation, arm, amd)
    # When its revision is read, Then it is the linux/amd64 child's
    assert revision_of(client, "dev-app", index) == "amd-rev"
    assert revision_of(client, "dev-app", index, platform=("linux", "arm64")) == "arm-rev"


def test_revision_of_is_none_when_absent_and_raises_on_transient_faults() -> None:
    # Given an image without labels, a missing image and a registry that fails transiently
    client = FakeClient()
    bare = client.add_image(None)["digest"]
    # Then no label and no image are both "no revision"
    assert revision_of(client, "dev-app", bare) is None
    assert revision_of(client, "dev-app", "sha256:" + "1" * 64) is None
    # And a transient fault is not an answer: it raises
    with pytest.raises(TransientRegistryError):
        revision_of(FakeClient(fail=TransientRegistryError("HTTP 503", status=503)), "dev-app", bare)
