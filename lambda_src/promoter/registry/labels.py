"""Read an image's config and its OCI labels: what the promotion core needs to map a commit to an image.

This is the one reader of the revision label (`org.opencontainers.image.revision`). For an index it
picks one child, deterministically, so every caller gets the same answer for the same image:
1. children that are not images are skipped: buildx attestation manifests (annotation
   `vnd.docker.reference.type`, e.g. `attestation-manifest`) and any child whose platform is
   `unknown/unknown` (or has no platform OS at all when others do);
2. among the rest, the first child (in index order) whose platform is the wanted one
   (`linux/amd64` by default; the `variant` is not compared);
3. else the first remaining child in index order (a single-platform build for another CPU);
4. nested indexes are followed the same way, at most 4 levels deep.
"""

from __future__ import annotations

import json
from typing import Any

from .client import RegistryClient
from .errors import (
    BlobNotFound,
    BlobTooLarge,
    DigestMismatch,
    ImageNotFound,
    RepositoryNotFound,
    UnsupportedManifest,
)
from .manifest import Descriptor, Manifest

MAX_CONFIG_BYTES = 1024 * 1024
REVISION_LABEL = "org.opencontainers.image.revision"
ATTESTATION_ANNOTATION = "vnd.docker.reference.type"
DEFAULT_PLATFORM = ("linux", "amd64")
_MAX_INDEX_DEPTH = 4


def is_platform_image(child: Descriptor) -> bool:
    """False for the children of an index that are not runnable images (attestations, unknown platform)."""
    if ATTESTATION_ANNOTATION in child.annotations:
        return False
    platform = child.platform or {}
    return (platform.get("os"), platform.get("architecture")) != ("unknown", "unknown")


def platform_child(index: Manifest, platform: tuple[str, str] = DEFAULT_PLATFORM) -> Descriptor | None:
    """The child of `index` whose config is the image's (rules in the module docstring); None if none is."""
    candidates = [child for child in index.children if is_platform_image(child)]
    for child in candidates:
        found = child.platform or {}
        if (found.get("os"), found.get("architecture")) == platform:
            return child
    return candidates[0] if candidates else None


def image_config(
    client: RegistryClient, repository: str, reference: str, *, platform: tuple[str, str] = DEFAULT_PLATFORM
) -> dict[str, Any]:
    """The image config JSON of `reference`; for an index, that of the child `platform_child` picks."""
    manifest = client.get_manifest(repository, reference)
    for _ in range(_MAX_INDEX_DEPTH):
        if not manifest.is_index:
            break
        child = platform_child(manifest, platform)
        if child is None:
            raise UnsupportedManifest(f"index {manifest.digest} has no image manifest")
        manifest = client.get_manifest(repository, child.digest)
    config = manifest.config
    if config is None:
        raise UnsupportedManifest(f"manifest {manifest.digest} has no config")
    data = client.get_blob_bytes(repository, config.digest, MAX_CONFIG_BYTES)
    try:
        document = json.loads(data)
    except ValueError:
        raise UnsupportedManifest(f"config {config.digest} is not JSON") from None
    return document if isinstance(document, dict) else {}


def image_labels(
    client: RegistryClient, repository: str, reference: str, *, platform: tuple[str, str] = DEFAULT_PLATFORM
) -> dict[str, str]:
    """`config.Labels` of the image (empty when it has none)."""
    document = image_config(client, repository, reference, platform=platform)
    labels = (document.get("config") or {}).get("Labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def revision_of(
    client: RegistryClient, repository: str, digest: str, *, platform: tuple[str, str] = DEFAULT_PLATFORM
) -> str | None:
    """The `org.opencontainers.image.revision` label of the image `digest`, or None when the image, its
    config or the label is missing or unreadable (an image without a revision simply has none).
    Transient faults and refused credentials still raise: they are not an answer."""
    try:
        labels = image_labels(client, repository, digest, platform=platform)
    except (ImageNotFound, RepositoryNotFound, BlobNotFound, UnsupportedManifest, DigestMismatch, BlobTooLarge):
        return None
    revision = labels.get(REVISION_LABEL)
    return revision if revision else None
