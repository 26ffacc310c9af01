"""Manifest trees: read a manifest and everything below it from the source, write them into the target.

Why a module of its own (regclient's `manifest` side): the image and each of its referrers are copied
the same way, and the order is the product's central promise: every blob, then the child manifests
(deepest level first), then the manifest itself, so a target never holds a manifest whose blobs or
children are missing. Manifests travel as their exact bytes, so digests never change.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from .blobs import BlobCopier, check_digest
from .client import PutManifestResult
from .errors import DigestMismatch, RegistryError, TagConflict
from .manifest import Descriptor, Manifest
from .reference import is_digest
from .session import CopySession

_BLOB_UNKNOWN_RETRIES = 4


class ManifestWriter:
    def __init__(self, session: CopySession, blobs: BlobCopier) -> None:
        self.session = session
        self.blobs = blobs

    def fetch_tree(self, root: Manifest) -> list[list[Manifest]]:
        """The root, then each level of child manifests below it (each digest once)."""
        session = self.session
        levels = [[root]]
        seen = {root.digest}
        while True:
            wanted: dict[str, Descriptor] = {}
            for manifest in levels[-1]:
                for child in manifest.children:
                    check_digest(child, manifest)
                    if child.digest not in seen:
                        seen.add(child.digest)
                        wanted[child.digest] = child
            if not wanted:
                return levels
            children = session.run_all(
                lambda d: session.source.get_manifest(session.src, d.digest), list(wanted.values())
            )
            for descriptor, child_manifest in zip(wanted.values(), children, strict=True):
                if child_manifest.size != descriptor.size:
                    raise DigestMismatch(
                        f"child manifest {descriptor.digest} is {child_manifest.size} bytes, its index says "
                        f"{descriptor.size}"
                    )
            levels.append(children)

    def copy_tree(self, manifest: Manifest, reference: str | None = None) -> PutManifestResult | None:
        """`manifest` with everything below it, put last under `reference` (default: its digest)."""
        levels = self.fetch_tree(manifest)
        self.blobs.copy_blobs([m for level in levels for m in level])
        self.put_levels(levels[1:])
        return self.put(manifest, reference or manifest.digest)

    def put(self, manifest: Manifest, reference: str) -> PutManifestResult | None:
        """PUT under a digest or tag; None when an immutable target refused a tag that already holds it."""
        session = self.session
        try:
            result = self._put_confirmed(manifest, reference)
        except RegistryError as error:
            if error.status == 400 and "TAG_INVALID" in error.codes and not is_digest(reference):
                # An immutable repository refusing to move a tag (ECR): someone tagged it meanwhile.
                existing = session.target.resolve(session.dst, reference)
                if existing is not None and existing.digest != manifest.digest:
                    raise TagConflict(reference, existing.digest, manifest.digest) from None
                if existing is not None:
                    return None
            raise
        with session.stats.lock:
            session.stats.written.add(manifest.digest)
        return result

    def _put_confirmed(self, manifest: Manifest, reference: str) -> PutManifestResult:
        """PUT a manifest whose blobs were all confirmed in the target. A blob-unknown answer then comes
        from concurrent copies of the same blobs (duplicate deliveries mounting at once: the registry
        rewrites its repository links), so it is retried briefly rather than failed."""
        session = self.session
        for attempt in range(_BLOB_UNKNOWN_RETRIES):
            try:
                return session.target.put_manifest(session.dst, reference, manifest)
            except RegistryError as error:
                if error.status != 400 or "MANIFEST_BLOB_UNKNOWN" not in error.codes:
                    raise
                if attempt == _BLOB_UNKNOWN_RETRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def put_levels(self, levels: Sequence[list[Manifest]]) -> None:
        """Child manifests by digest, deepest level first."""
        for level in reversed(levels):
            self.session.run_all(lambda m: self.put(m, m.digest), level)

    def put_tags(self, root: Manifest, tags: Sequence[str]) -> None:
        for tag in tags:
            self.put(root, tag)
            with self.session.stats.lock:
                self.session.stats.tags_written.append(tag)
