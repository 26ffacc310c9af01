"""The image side of promotion: what the promotion logic needs to know about, and do to, images.

`OciImageStore` speaks only the OCI distribution API (any registry: the local test registry,
or ECR through its OCI endpoint). `promoter.aws.EcrImageStore` answers the read questions from
the ECR API instead (tags of a digest in one call, scan findings).
"""

from __future__ import annotations

import json
from typing import Protocol

from promoter.gates import ScanEvidence
from promoter.registry import CopyResult, RegistryClient, copy_image
from promoter.registry.errors import ImageNotFound, RepositoryNotFound

REVISION_LABEL = "org.opencontainers.image.revision"
MAX_CONFIG_BYTES = 1 << 20
MAX_TAGS_SCANNED = 1000


class ImageStore(Protocol):
    def digest_for_tag(self, repository: str, tag: str) -> str | None: ...

    def tags_of(self, repository: str, digest: str) -> tuple[str, ...] | None:
        """Current tags of `digest`; None when the image (or repository) does not exist."""
        ...

    def revision_of(self, repository: str, digest: str) -> str | None: ...

    def scan_of(self, repository: str, digest: str) -> ScanEvidence | None: ...

    def target_digests(self, repository: str, tags: tuple[str, ...]) -> dict[str, str | None]:
        """What each tag points to in `repository` now (None: absent)."""
        ...

    def promote(
        self, source_repository: str, digest: str, target_repository: str, tags: tuple[str, ...]
    ) -> CopyResult: ...


class OciImageStore:
    """ImageStore over the OCI distribution API; source and target live in the same registry."""

    def __init__(self, client: RegistryClient) -> None:
        self._client = client

    def digest_for_tag(self, repository: str, tag: str) -> str | None:
        try:
            found = self._client.resolve(repository, tag)
        except RepositoryNotFound:
            return None
        return found.digest if found else None

    def tags_of(self, repository: str, digest: str) -> tuple[str, ...] | None:
        try:
            if self._client.resolve(repository, digest) is None:
                return None
            tags = self._client.list_tags(repository)[:MAX_TAGS_SCANNED]
        except RepositoryNotFound:
            return None
        return tuple(tag for tag in tags if self.digest_for_tag(repository, tag) == digest)

    def revision_of(self, repository: str, digest: str) -> str | None:
        """The `org.opencontainers.image.revision` label of the image (first platform of an index)."""
        try:
            manifest = json.loads(self._client.get_manifest(repository, digest).data)
            if "manifests" in manifest:
                children = manifest["manifests"]
                if not children:
                    return None
                manifest = json.loads(self._client.get_manifest(repository, children[0]["digest"]).data)
            config_digest = manifest.get("config", {}).get("digest")
            if not config_digest:
                return None
            config = json.loads(self._client.get_blob_bytes(repository, config_digest, MAX_CONFIG_BYTES))
        except (ImageNotFound, RepositoryNotFound, ValueError, KeyError, TypeError):
            return None
        labels = (config.get("config") or {}).get("Labels") or {}
        revision = labels.get(REVISION_LABEL)
        return revision if isinstance(revision, str) and revision else None

    def scan_of(self, repository: str, digest: str) -> ScanEvidence | None:
        return None  # a plain OCI registry has no scanner; scan evidence comes from events

    def target_digests(self, repository: str, tags: tuple[str, ...]) -> dict[str, str | None]:
        return {tag: self.digest_for_tag(repository, tag) for tag in tags}

    def promote(self, source_repository: str, digest: str, target_repository: str, tags: tuple[str, ...]) -> CopyResult:
        return copy_image(self._client, source_repository, digest, self._client, target_repository, tags)
