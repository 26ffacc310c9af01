"""The image side of promotion over the OCI distribution API: tags, labels, index children, copies.

`OciImageStore` implements promoter.ports.ImageStore for any registry (the local test registry, or
ECR through its OCI endpoint); `promoter.aws.EcrImageStore` answers the tag questions from the ECR
API instead. The revision label is read by promoter.registry.labels, the one reader of it.
"""

from __future__ import annotations

from promoter.registry import CopyResult, RegistryClient, copy_image, image_labels
from promoter.registry.errors import (
    AuthenticationFailed,
    ImageNotFound,
    RegistryError,
    RepositoryNotFound,
    TransientRegistryError,
    UnsupportedManifest,
)
from promoter.registry.labels import REVISION_LABEL
from promoter.registry.manifest import Manifest

MAX_TAGS_SCANNED = 1000
# BuildKit stores attestations as extra manifests of the index, annotated
# vnd.docker.reference.type: attestation-manifest, platform unknown/unknown (docs.docker.com,
# "Image attestation storage"; moby/buildkit util/attestation DockerAnnotationReferenceTypeDefault).
REFERENCE_TYPE = "vnd.docker.reference.type"
ATTESTATION_REFERENCE = "attestation-manifest"


def platform_images(manifest: Manifest) -> tuple[str, ...]:
    """The platform image digests an index lists: buildx attestation manifests and unknown/unknown skipped."""
    if not manifest.is_index:
        return ()
    children = []
    for child in manifest.children:
        platform = child.platform or {}
        if child.annotations.get(REFERENCE_TYPE) == ATTESTATION_REFERENCE:
            continue
        if platform.get("os") == "unknown" and platform.get("architecture") == "unknown":
            continue
        children.append(child.digest)
    return tuple(dict.fromkeys(children))


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
        """The revision label of the image (of its linux/amd64 child, for an index); None when unreadable."""
        try:
            labels = image_labels(self._client, repository, digest)
        except (TransientRegistryError, AuthenticationFailed):
            raise  # Lambda retries the event; a missing label must not hide an outage
        except RegistryError:
            return None  # gone, not an image, or a config that is not JSON: no label to read
        revision = labels.get(REVISION_LABEL)
        return revision or None

    def platform_children(self, repository: str, digest: str) -> tuple[str, ...]:
        try:
            return platform_images(self._client.get_manifest(repository, digest))
        except (ImageNotFound, RepositoryNotFound):
            return ()

    def subject_of(self, repository: str, digest: str) -> str | None:
        try:
            subject = self._client.get_manifest(repository, digest).subject
        except (ImageNotFound, RepositoryNotFound, UnsupportedManifest):
            return None  # gone, or not a manifest whose subject can be read: nothing to re-sync
        return subject.digest if subject is not None else None

    def target_digests(self, repository: str, tags: tuple[str, ...]) -> dict[str, str | None]:
        return {tag: self.digest_for_tag(repository, tag) for tag in tags}

    def promote(self, source_repository: str, digest: str, target_repository: str, tags: tuple[str, ...]) -> CopyResult:
        return copy_image(self._client, source_repository, digest, self._client, target_repository, tags)
