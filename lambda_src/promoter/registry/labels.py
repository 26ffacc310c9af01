"""Read an image's config (and its OCI labels) — what the promotion core needs to map a commit to an image."""

from __future__ import annotations

import json
from typing import Any

from .client import RegistryClient
from .errors import RegistryError, UnsupportedManifest
from .manifest import Manifest

MAX_CONFIG_BYTES = 1024 * 1024
REVISION_LABEL = "org.opencontainers.image.revision"


def _platform_child(index: Manifest, platform: tuple[str, str]) -> str | None:
    candidates = []
    for child in index.children:
        found = child.platform or {}
        if found.get("os") == "unknown" or "vnd.docker.reference.type" in child.annotations:
            continue  # buildx attestation manifests
        candidates.append(child)
        if (found.get("os"), found.get("architecture")) == platform:
            return child.digest
    return candidates[0].digest if candidates else None


def image_config(
    client: RegistryClient, repository: str, reference: str, *, platform: tuple[str, str] = ("linux", "amd64")
) -> dict[str, Any]:
    """The image config JSON of `reference`; for an index, that of the `platform` child (else the first image)."""
    manifest = client.get_manifest(repository, reference)
    for _ in range(4):
        if not manifest.is_index:
            break
        child = _platform_child(manifest, platform)
        if child is None:
            raise UnsupportedManifest(f"index {manifest.digest} has no image manifest")
        manifest = client.get_manifest(repository, child)
    config = manifest.config
    if config is None:
        raise UnsupportedManifest(f"manifest {manifest.digest} has no config")
    data = client.get_blob_bytes(repository, config.digest, MAX_CONFIG_BYTES)
    try:
        document = json.loads(data)
    except ValueError:
        raise RegistryError(f"config {config.digest} is not JSON") from None
    return document if isinstance(document, dict) else {}


def image_labels(
    client: RegistryClient, repository: str, reference: str, *, platform: tuple[str, str] = ("linux", "amd64")
) -> dict[str, str]:
    """`config.Labels` of the image (empty when it has none)."""
    document = image_config(client, repository, reference, platform=platform)
    labels = (document.get("config") or {}).get("Labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
