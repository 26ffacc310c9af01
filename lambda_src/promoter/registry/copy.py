"""Copy one image (any manifest kind) by digest between repositories, byte-exact and zero-copy where
the registry allows: the plan, and the order of its steps.

Order of work, so a target never holds a manifest whose blobs or children are missing:
1. read the source manifest and check every target tag (a tag on another digest: `TagConflict`,
   nothing written; every tag already there: `already_present`, nothing written);
2. read every child manifest of an index (recursively);
3. copy every blob once, in parallel (`blobs.py`), while the referrers are looked up (`referrers.py`);
4. put child manifests by digest, deepest first, then the image itself (`writer.py`);
5. copy referrers (OCI referrers API, `sha256-<hex>` tag schema, cosign `.sig`/`.att`/`.sbom` tags),
   and referrers of referrers (a signature on an SBOM) down to `referrer_depth` levels.
   When there are referrers, the image is put by digest first and tagged last, so the tag is the
   commit point: a failure before it leaves the tag absent and a retry redoes the whole copy.
When the target already holds the image, its referrers are still re-synced: signatures and SBOMs added
to the source after the first copy follow, only those the target lacks, at most `max_referrers` per
call (the rest are counted in `referrers_deferred` and follow on the next call).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from .blobs import CHUNK_SIZE, BlobCopier
from .client import RegistryClient
from .errors import TagConflict
from .manifest import Manifest
from .reference import validate_reference, validate_repository_name, validate_tag
from .referrers import NO_REFERRERS, ReferrerCopier, Referrers
from .session import CopySession
from .writer import ManifestWriter

__all__ = ["CHUNK_SIZE", "CopyResult", "copy_image"]


@dataclass(frozen=True)
class CopyResult:
    """What one copy did. `bytes_moved` counts blob bytes streamed (a mount moves none)."""

    digest: str
    media_type: str
    already_present: bool
    blobs_mounted: int = 0
    blobs_streamed: int = 0
    blobs_skipped: int = 0
    bytes_moved: int = 0
    manifests_written: int = 0
    tags_written: tuple[str, ...] = ()
    referrers_copied: int = 0
    referrers_deferred: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags_written"] = list(self.tags_written)
        data["seconds"] = round(self.seconds, 3)
        return data


def copy_image(  # noqa: PLR0917 - the positional order reads as a sentence: from A/B:ref to C/D
    source: RegistryClient,
    source_repository: str,
    reference: str,
    target: RegistryClient,
    target_repository: str,
    tags: Sequence[str] = (),
    *,
    referrers: bool = True,
    max_workers: int = 8,
    max_referrers: int = 64,
    referrer_depth: int = 3,
) -> CopyResult:
    """Copy the image `reference` (tag or digest) of `source_repository` into `target_repository`,
    by digest, then set each of `tags` on it (none: push by digest only).

    Raises `TagConflict` (nothing written) when a target tag holds another digest, `ImageNotFound`
    when the source has no such image, `TransientRegistryError` when faults outlast the retries,
    other `RegistryError`s for the rest.
    """
    started = time.monotonic()
    validate_repository_name(source_repository)
    validate_reference(reference)
    validate_repository_name(target_repository)
    if isinstance(tags, str):
        raise TypeError("tags must be a sequence of tags, not one string")
    wanted_tags = tuple(dict.fromkeys(validate_tag(tag) for tag in tags))
    if max_workers < 1 or max_referrers < 0 or referrer_depth < 1:
        raise ValueError("max_workers and referrer_depth must be at least 1, max_referrers at least 0")
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="copy") as pool:
        session = CopySession(source, source_repository, target, target_repository, pool)
        plan = _Plan(session, max_referrers=max_referrers, referrer_depth=referrer_depth)
        try:
            return plan.run(reference, wanted_tags, referrers, started)
        finally:
            session.abort.set()


class _Plan:
    def __init__(self, session: CopySession, *, max_referrers: int, referrer_depth: int) -> None:
        self.session = session
        self.writer = ManifestWriter(session, BlobCopier(session))
        self.referrers = ReferrerCopier(session, self.writer, max_referrers=max_referrers, max_depth=referrer_depth)

    def run(self, reference: str, tags: tuple[str, ...], referrers: bool, started: float) -> CopyResult:
        session, writer = self.session, self.writer
        source, target = session.source, session.target
        # 1. The source manifest and the target tags, side by side; nothing is written before both are known.
        root_future = session.pool.submit(source.get_manifest, session.src, reference)
        tag_futures = {tag: session.pool.submit(target.resolve, session.dst, tag) for tag in tags}
        root = root_future.result()
        existing = {tag: future.result() for tag, future in tag_futures.items()}
        for tag, descriptor in existing.items():
            if descriptor is not None and descriptor.digest != root.digest:
                raise TagConflict(tag, descriptor.digest, root.digest)
        missing_tags = tuple(tag for tag in tags if existing[tag] is None)
        if (tags and not missing_tags) or (not tags and target.resolve(session.dst, root.digest) is not None):
            if referrers:
                self._resync_referrers(root)
            return self._result(root, started, already_present=True)

        if tags and len(missing_tags) < len(tags):
            # Another tag already points at this digest: the image and its blobs are there; just tag it
            # (after its referrers, so the new tag is still the commit point).
            if referrers:
                self._resync_referrers(root)
            writer.put_tags(root, missing_tags)
            return self._result(root, started, already_present=False)

        # 2. Every manifest below the root; 3. referrers looked up while the blobs travel.
        levels = writer.fetch_tree(root)
        discovery: Future[Referrers] | None = None
        if referrers:
            subjects = [manifest.digest for level in levels for manifest in level]
            discovery = session.pool.submit(self.referrers.discover, subjects)
        writer.blobs.copy_blobs([manifest for level in levels for manifest in level])
        # 4. Children first (deepest level first), then the image.
        writer.put_levels(levels[1:])
        found = discovery.result() if discovery is not None else NO_REFERRERS
        if found or not tags:
            writer.put(root, root.digest)
        if found:
            self.referrers.copy(found)
        if tags:
            writer.put_tags(root, missing_tags)
        return self._result(root, started, already_present=False)

    def _resync_referrers(self, root: Manifest) -> None:
        """The image is in the target: copy the referrers of it (and of its children) that the target lacks."""
        subjects = [root.digest, *(child.digest for child in root.children)]
        found = self.referrers.discover(subjects)
        if found:
            self.referrers.copy(found, only_missing=True)

    def _result(self, root: Manifest, started: float, *, already_present: bool) -> CopyResult:
        stats = self.session.stats
        return CopyResult(
            digest=root.digest,
            media_type=root.media_type,
            already_present=already_present,
            blobs_mounted=stats.blobs_mounted,
            blobs_streamed=stats.blobs_streamed,
            blobs_skipped=stats.blobs_skipped,
            bytes_moved=stats.bytes_moved,
            manifests_written=len(stats.written),
            tags_written=tuple(stats.tags_written),
            referrers_copied=stats.referrers_copied,
            referrers_deferred=stats.referrers_deferred,
            seconds=time.monotonic() - started,
        )
