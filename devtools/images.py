"""Build and push test images with plain HTTP (stdlib only): random layers, OCI or Docker v2 media types.

Independent of the product's own registry client on purpose: tests must not use the code
under test to create their fixtures.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

ACCEPT_ALL = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PushedImage:
    repository: str
    tag: str | None
    digest: str
    media_type: str
    manifest: bytes
    blobs: dict[str, bytes]  # digest -> content (config and layers)

    @property
    def blob_bytes(self) -> int:
        return sum(len(b) for b in self.blobs.values())


def _request(
    method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def push_blob(registry_url: str, repository: str, content: bytes) -> str:
    digest = sha256_digest(content)
    status, _, _ = _request("HEAD", f"{registry_url}/v2/{repository}/blobs/{digest}")
    if status == 200:
        return digest
    status, headers, body = _request("POST", f"{registry_url}/v2/{repository}/blobs/uploads/")
    if status != 202:
        raise RuntimeError(f"upload start failed: {status} {body!r}")
    location = headers["Location"]
    if location.startswith("/"):
        location = registry_url + location
    separator = "&" if "?" in location else "?"
    status, _, body = _request(
        "PUT",
        f"{location}{separator}digest={digest}",
        data=content,
        headers={"Content-Type": "application/octet-stream"},
    )
    if status != 201:
        raise RuntimeError(f"blob upload failed: {status} {body!r}")
    return digest


def put_manifest(registry_url: str, repository: str, reference: str, manifest: bytes, media_type: str) -> str:
    status, headers, body = _request(
        "PUT",
        f"{registry_url}/v2/{repository}/manifests/{reference}",
        data=manifest,
        headers={"Content-Type": media_type},
    )
    if status != 201:
        raise RuntimeError(f"manifest put failed: {status} {body!r}")
    return headers.get("Docker-Content-Digest") or sha256_digest(manifest)


def random_layers(count: int, size: int) -> list[bytes]:
    return [os.urandom(size) for _ in range(count)]


def push_image(
    registry_url: str,
    repository: str,
    tag: str | None,
    layers: Sequence[bytes],
    *,
    docker: bool = False,
    labels: dict[str, str] | None = None,
    platform: tuple[str, str] = ("linux", "amd64"),
    pretty: bool = False,
    subject: tuple[str, int, str] | None = None,
    artifact_type: str | None = None,
) -> PushedImage:
    """Push config + layers + manifest; tag it when `tag` is given, else push by digest.

    `pretty` writes an indented manifest (its digest is that of those exact bytes).
    `subject` = (media type, size, digest) makes it an OCI referrer of that manifest.
    """
    config = json.dumps(
        {
            "architecture": platform[1],
            "os": platform[0],
            "config": {"Labels": labels or {}},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer) for layer in layers]},
        },
        sort_keys=True,
    ).encode()
    blobs = {push_blob(registry_url, repository, config): config}
    for layer in layers:
        blobs[push_blob(registry_url, repository, layer)] = layer
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    document: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else (artifact_type or OCI_CONFIG),
            "size": len(config),
            "digest": sha256_digest(config),
        },
        "layers": [
            {"mediaType": DOCKER_LAYER if docker else OCI_LAYER, "size": len(layer), "digest": sha256_digest(layer)}
            for layer in layers
        ],
    }
    if subject is not None:
        document["subject"] = {"mediaType": subject[0], "size": subject[1], "digest": subject[2]}
    manifest = json.dumps(document, indent=3 if pretty else None).encode()
    digest = sha256_digest(manifest)
    put_manifest(registry_url, repository, tag or digest, manifest, media_type)
    return PushedImage(repository, tag, digest, media_type, manifest, blobs)


def push_index(
    registry_url: str, repository: str, tag: str | None, children: Sequence[PushedImage], *, docker: bool = False
) -> PushedImage:
    """Push an index (or Docker manifest list) over children already pushed by digest."""
    media_type = DOCKER_LIST if docker else OCI_INDEX
    platforms = [("linux", "amd64"), ("linux", "arm64"), ("linux", "s390x"), ("linux", "ppc64le")]
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {
                "mediaType": child.media_type,
                "size": len(child.manifest),
                "digest": child.digest,
                "platform": {"os": platforms[i % 4][0], "architecture": platforms[i % 4][1]},
            }
            for i, child in enumerate(children)
        ],
    }
    manifest = json.dumps(document).encode()
    digest = sha256_digest(manifest)
    put_manifest(registry_url, repository, tag or digest, manifest, media_type)
    blobs: dict[str, bytes] = {}
    for child in children:
        blobs.update(child.blobs)
    return PushedImage(repository, tag, digest, media_type, manifest, blobs)


# BuildKit's provenance attestations (docs.docker.com, "Image attestation storage"): one extra manifest
# per platform image, platform unknown/unknown, annotated with the image it attests.
INTOTO_LAYER = "application/vnd.in-toto+json"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v0.2"


def push_buildx_index(
    registry_url: str, repository: str, tag: str | None, children: Sequence[PushedImage], *, provenance: bool = True
) -> PushedImage:
    """Push what `docker buildx build --platform … --push` pushes: an OCI index over platform images already
    pushed by digest (their platform read from their config) and, with `provenance`, one attestation
    manifest per platform image, marked `vnd.docker.reference.type: attestation-manifest`."""
    entries: list[dict[str, object]] = []
    attestations: list[dict[str, object]] = []
    blobs: dict[str, bytes] = {}
    for child in children:
        config_digest = str(json.loads(child.manifest)["config"]["digest"])
        config = json.loads(child.blobs[config_digest])
        platform = {"architecture": config["architecture"], "os": config["os"]}
        entries.append(
            {"mediaType": child.media_type, "digest": child.digest, "size": len(child.manifest), "platform": platform}
        )
        blobs.update(child.blobs)
        if not provenance:
            continue
        statement = json.dumps(
            {
                "_type": "https://in-toto.io/Statement/v0.1",
                "predicateType": SLSA_PROVENANCE,
                "subject": [{"name": f"pkg:docker/{repository}", "digest": {"sha256": child.digest[7:]}}],
                "predicate": {"builder": {"id": ""}, "buildType": "https://mobyproject.org/buildkit@v1"},
            },
            sort_keys=True,
        ).encode()
        empty = json.dumps({"architecture": "unknown", "os": "unknown", "rootfs": {"type": "layers"}}).encode()
        for blob in (statement, empty):
            blobs[push_blob(registry_url, repository, blob)] = blob
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(empty), "size": len(empty)},
                "layers": [
                    {
                        "mediaType": INTOTO_LAYER,
                        "digest": sha256_digest(statement),
                        "size": len(statement),
                        "annotations": {"in-toto.io/predicate-type": SLSA_PROVENANCE},
                    }
                ],
            }
        ).encode()
        digest = put_manifest(registry_url, repository, sha256_digest(manifest), manifest, OCI_MANIFEST)
        attestations.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": len(manifest),
                "annotations": {
                    "vnd.docker.reference.digest": child.digest,
                    "vnd.docker.reference.type": "attestation-manifest",
                },
                "platform": {"architecture": "unknown", "os": "unknown"},
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [*entries, *attestations]}).encode()
    digest = sha256_digest(index)
    put_manifest(registry_url, repository, tag or digest, index, OCI_INDEX)
    return PushedImage(repository, tag, digest, OCI_INDEX, index, blobs)


def get_manifest(registry_url: str, repository: str, reference: str) -> tuple[int, str, bytes]:
    """(status, media type, exact bytes) of a manifest."""
    status, headers, body = _request(
        "GET", f"{registry_url}/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT_ALL}
    )
    return status, headers.get("Content-Type", ""), body


def blob_exists(registry_url: str, repository: str, digest: str) -> bool:
    status, _, _ = _request("HEAD", f"{registry_url}/v2/{repository}/blobs/{digest}")
    return status == 200


def list_tags(registry_url: str, repository: str) -> list[str]:
    status, _, body = _request("GET", f"{registry_url}/v2/{repository}/tags/list")
    if status != 200:
        return []
    return sorted(json.loads(body).get("tags") or [])
