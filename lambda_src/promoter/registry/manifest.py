"""Manifests as exact bytes plus what the copy engine needs to know about them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .errors import DigestMismatch, UnsupportedManifest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_ARTIFACT_MANIFEST = "application/vnd.oci.artifact.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_MEDIA_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, OCI_ARTIFACT_MANIFEST)
ACCEPT_MANIFESTS = ", ".join(MANIFEST_MEDIA_TYPES)
_GENERIC_TYPES = frozenset({"", "application/json", "text/plain", "application/octet-stream"})

# OCI recommends registries accept manifests of at least 4 MiB; nothing legitimate is bigger.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    """What a manifest says about another object: media type, digest and size (and extras)."""

    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)
    artifact_type: str | None = None
    platform: Mapping[str, Any] | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, value: object) -> Descriptor:
        if not isinstance(value, dict):
            raise UnsupportedManifest("descriptor is not an object")
        media_type = value.get("mediaType", "")
        digest = value.get("digest")
        size = value.get("size")
        if not isinstance(digest, str) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UnsupportedManifest(f"descriptor has no valid digest/size: {str(value)[:200]}")
        urls = value.get("urls") or ()
        annotations = value.get("annotations") or {}
        artifact_type = value.get("artifactType")
        platform = value.get("platform")
        return cls(
            media_type=media_type if isinstance(media_type, str) else "",
            digest=digest,
            size=size,
            urls=tuple(u for u in urls if isinstance(u, str)) if isinstance(urls, list) else (),
            annotations=annotations if isinstance(annotations, dict) else {},
            artifact_type=artifact_type if isinstance(artifact_type, str) else None,
            platform=platform if isinstance(platform, dict) else None,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = dict(self.platform)
        return out

    @property
    def is_foreign(self) -> bool:
        """A non-distributable layer (e.g. Windows base layers) that lives at its `urls`, not in registries."""
        kind = self.media_type.lower()
        return bool(self.urls) and ("foreign" in kind or "nondistributable" in kind)


@dataclass(frozen=True)
class Manifest:
    """A manifest exactly as the registry served it: `data` is what its digest is computed over."""

    media_type: str
    digest: str
    data: bytes

    @classmethod
    def from_bytes(cls, data: bytes, content_type: str | None, expected_digest: str | None = None) -> Manifest:
        digest = sha256_digest(data)
        if expected_digest is not None and digest != expected_digest:
            raise DigestMismatch(f"manifest bytes hash to {digest}, expected {expected_digest}")
        media_type = (content_type or "").split(";", 1)[0].strip()
        if media_type.lower() in _GENERIC_TYPES:
            try:
                document = json.loads(data)
            except ValueError as error:
                raise UnsupportedManifest("manifest is not JSON") from error
            declared = document.get("mediaType") if isinstance(document, dict) else None
            if isinstance(declared, str) and declared:
                media_type = declared
            elif isinstance(document, dict) and "manifests" in document:
                media_type = OCI_INDEX
            else:
                media_type = OCI_MANIFEST
        return cls(media_type=media_type, digest=digest, data=data)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size)

    @cached_property
    def document(self) -> dict[str, Any]:
        if self.media_type in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED):
            raise UnsupportedManifest(
                f"{self.media_type} (Docker schema 1) cannot be copied byte-exactly; convert the image to schema 2"
            )
        try:
            document = json.loads(self.data)
        except ValueError as error:
            raise UnsupportedManifest(f"manifest {self.digest} is not JSON") from error
        if not isinstance(document, dict):
            raise UnsupportedManifest(f"manifest {self.digest} is not a JSON object")
        if document.get("schemaVersion") == 1:
            raise UnsupportedManifest(f"manifest {self.digest} is Docker schema 1; it cannot be copied byte-exactly")
        return document

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES or (
            self.media_type not in (OCI_MANIFEST, DOCKER_MANIFEST, OCI_ARTIFACT_MANIFEST)
            and isinstance(self.document.get("manifests"), list)
        )

    @property
    def children(self) -> tuple[Descriptor, ...]:
        """Manifests an index refers to (empty for an image manifest)."""
        if not self.is_index:
            return ()
        return tuple(Descriptor.from_json(item) for item in self.document.get("manifests") or [])

    @property
    def config(self) -> Descriptor | None:
        value = self.document.get("config")
        return Descriptor.from_json(value) if value is not None and not self.is_index else None

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Config and layers (and artifact `blobs`): every blob that must be in a repository before this
        manifest can be put there."""
        if self.is_index:
            return ()
        document = self.document
        found: list[Descriptor] = []
        if document.get("config") is not None:
            found.append(Descriptor.from_json(document["config"]))
        for key in ("layers", "blobs"):
            found.extend(Descriptor.from_json(item) for item in document.get(key) or [])
        return tuple(found)

    @property
    def subject(self) -> Descriptor | None:
        value = self.document.get("subject")
        return Descriptor.from_json(value) if value is not None else None

    @property
    def artifact_type(self) -> str | None:
        value = self.document.get("artifactType")
        if isinstance(value, str):
            return value
        config = self.config
        return config.media_type if config is not None else None
