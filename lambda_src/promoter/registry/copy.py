"""Copy one image (any manifest kind) by digest between repositories, byte-exact and zero-copy where
the registry allows.

Order of work, so a target never holds a manifest whose blobs or children are missing:
1. read the source manifest and check every target tag (a tag on another digest: `TagConflict`,
   nothing written; every tag already there: `already_present`, nothing written);
2. read every child manifest of an index (recursively);
3. copy every blob once, in parallel: same registry -> cross-repository mount (201), or, when the
   registry opens an upload session instead (202), stream into that session; other registry -> HEAD
   in the target (skip if present), else stream GET -> PUT in fixed-size chunks, hashing as it goes;
4. put child manifests by digest, deepest first, then the image itself;
5. copy referrers (OCI referrers API, `sha256-<hex>` tag schema, cosign `.sig`/`.att`/`.sbom` tags).
   When there are referrers, the image is put by digest first and tagged last, so the tag is the
   commit point: a failure before it leaves the tag absent and a retry redoes the whole copy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from .client import PutManifestResult, RegistryClient
from .errors import DigestMismatch, RegistryError, TagConflict, TransientRegistryError, UnsupportedManifest
from .manifest import OCI_INDEX, Descriptor, Manifest
from .reference import is_digest, validate_reference, validate_repository_name, validate_tag

log = logging.getLogger("promoter.registry")

_BLOB_UNKNOWN_RETRIES = 4
CHUNK_SIZE = 1024 * 1024
_COSIGN_SUFFIXES = (".sig", ".att", ".sbom")

T = TypeVar("T")
R = TypeVar("R")


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
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags_written"] = list(self.tags_written)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass
class _Stats:
    blobs_mounted: int = 0
    blobs_streamed: int = 0
    blobs_skipped: int = 0
    bytes_moved: int = 0
    referrers_copied: int = 0
    written: set[str] = field(default_factory=set)  # digests of manifests put into the target
    tags_written: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class _Aborted(RegistryError):
    """Another worker failed: stop early (never surfaces; the first real error does)."""


@dataclass(frozen=True)
class _Referrers:
    by_api: tuple[tuple[str, Descriptor], ...]  # (subject digest, referrer descriptor)
    by_tag: tuple[str, ...]  # `sha256-<hex>` fallback indexes and cosign `.sig`/`.att`/`.sbom` tags

    def __bool__(self) -> bool:
        return bool(self.by_api or self.by_tag)


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
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="copy") as pool:
        copier = _Copier(source, source_repository, target, target_repository, pool)
        try:
            return copier.run(reference, wanted_tags, referrers, started)
        finally:
            copier.abort.set()


class _Copier:
    def __init__(
        self,
        source: RegistryClient,
        source_repository: str,
        target: RegistryClient,
        target_repository: str,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.source = source
        self.src = source_repository
        self.target = target
        self.dst = target_repository
        self.pool = pool
        self.same_registry = source.same_registry(target)
        self.stats = _Stats()
        self.abort = threading.Event()

    # ------------------------------------------------------------------ the whole copy

    def run(self, reference: str, tags: tuple[str, ...], referrers: bool, started: float) -> CopyResult:
        # 1. The source manifest and the target tags, side by side; nothing is written before both are known.
        root_future = self.pool.submit(self.source.get_manifest, self.src, reference)
        tag_futures = {tag: self.pool.submit(self.target.resolve, self.dst, tag) for tag in tags}
        root = root_future.result()
        existing = {tag: future.result() for tag, future in tag_futures.items()}
        for tag, descriptor in existing.items():
            if descriptor is not None and descriptor.digest != root.digest:
                raise TagConflict(tag, descriptor.digest, root.digest)
        missing_tags = tuple(tag for tag in tags if existing[tag] is None)
        if tags and not missing_tags:
            return self._result(root, started, already_present=True)
        if not tags and self.target.resolve(self.dst, root.digest) is not None:
            return self._result(root, started, already_present=True)

        if tags and len(missing_tags) < len(tags):
            # Another tag already points at this digest: the image and its blobs are there; just tag it.
            self._put_tags(root, missing_tags)
            return self._result(root, started, already_present=False)

        # 2. Every manifest below the root; 3. referrers looked up while the blobs travel.
        levels = self._fetch_tree(root)
        discovery: Future[_Referrers] | None = None
        if referrers:
            subjects = [manifest.digest for level in levels for manifest in level]
            discovery = self.pool.submit(self._discover_referrers, subjects)
        self._copy_blobs([manifest for level in levels for manifest in level])
        # 4. Children first (deepest level first), then the image.
        self._put_levels(levels[1:])
        found = discovery.result() if discovery is not None else _Referrers((), ())
        if found or not tags:
            self._put(root, root.digest)
        if found:
            self._copy_referrers(found)
        if tags:
            self._put_tags(root, missing_tags)
        return self._result(root, started, already_present=False)

    def _result(self, root: Manifest, started: float, *, already_present: bool) -> CopyResult:
        stats = self.stats
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
            seconds=time.monotonic() - started,
        )

    # ------------------------------------------------------------------ parallel helpers

    def _run_all(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Run `function` over `items` on the pool; on the first failure stop the rest and raise it."""
        if not items:
            return []
        if len(items) == 1:
            return [function(items[0])]
        futures = [self.pool.submit(function, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        if any(future.exception() is not None for future in done):
            self.abort.set()
            for future in futures:
                future.cancel()
            wait(futures)
            errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
            real = [e for e in errors if not isinstance(e, _Aborted)]
            raise (real or errors)[0]  # type: ignore[misc]
        return [future.result() for future in futures]

    # ------------------------------------------------------------------ manifests

    def _fetch_tree(self, root: Manifest) -> list[list[Manifest]]:
        """The root, then each level of child manifests below it (each digest once)."""
        levels = [[root]]
        seen = {root.digest}
        while True:
            wanted: dict[str, Descriptor] = {}
            for manifest in levels[-1]:
                for child in manifest.children:
                    _check_digest(child, manifest)
                    if child.digest not in seen:
                        seen.add(child.digest)
                        wanted[child.digest] = child
            if not wanted:
                return levels
            children = self._run_all(lambda d: self.source.get_manifest(self.src, d.digest), list(wanted.values()))
            for descriptor, child_manifest in zip(wanted.values(), children, strict=True):
                if child_manifest.size != descriptor.size:
                    raise DigestMismatch(
                        f"child manifest {descriptor.digest} is {child_manifest.size} bytes, its index says "
                        f"{descriptor.size}"
                    )
            levels.append(children)

    def _put(self, manifest: Manifest, reference: str) -> PutManifestResult | None:
        """PUT under a digest or tag; None when an immutable target refused a tag that already holds it."""
        try:
            result = self._put_confirmed(manifest, reference)
        except RegistryError as error:
            if error.status == 400 and "TAG_INVALID" in error.codes and not is_digest(reference):
                # An immutable repository refusing to move a tag (ECR): someone tagged it meanwhile.
                existing = self.target.resolve(self.dst, reference)
                if existing is not None and existing.digest != manifest.digest:
                    raise TagConflict(reference, existing.digest, manifest.digest) from None
                if existing is not None:
                    return None
            raise
        with self.stats.lock:
            self.stats.written.add(manifest.digest)
        return result

    def _put_confirmed(self, manifest: Manifest, reference: str) -> PutManifestResult:
        """PUT a manifest whose blobs were all confirmed in the target. A blob-unknown answer then comes
        from concurrent copies of the same blobs (duplicate deliveries mounting at once: the registry
        rewrites its repository links), so it is retried briefly rather than failed."""
        for attempt in range(_BLOB_UNKNOWN_RETRIES):
            try:
                return self.target.put_manifest(self.dst, reference, manifest)
            except RegistryError as error:
                if error.status != 400 or "MANIFEST_BLOB_UNKNOWN" not in error.codes:
                    raise
                if attempt == _BLOB_UNKNOWN_RETRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _put_levels(self, levels: Sequence[list[Manifest]]) -> None:
        for level in reversed(levels):
            self._run_all(lambda m: self._put(m, m.digest), level)

    def _put_tags(self, root: Manifest, tags: Sequence[str]) -> None:
        for tag in tags:
            self._put(root, tag)
            with self.stats.lock:
                self.stats.tags_written.append(tag)

    # ------------------------------------------------------------------ blobs

    def _copy_blobs(self, manifests: Sequence[Manifest]) -> None:
        blobs: dict[str, Descriptor] = {}
        for manifest in manifests:
            for blob in manifest.blobs:
                _check_digest(blob, manifest)
                if blob.is_foreign:
                    log.info("not copying non-distributable layer %s (it lives at its URLs)", blob.digest)
                    continue
                blobs.setdefault(blob.digest, blob)
        # Largest first: the longest transfers start earliest, small ones fill in around them.
        self._run_all(self._copy_blob, sorted(blobs.values(), key=lambda blob: -blob.size))

    def _copy_blob(self, blob: Descriptor) -> None:
        if self.abort.is_set():
            raise _Aborted("stopped: another transfer failed")
        if self.same_registry:
            location = self.target.mount_blob(self.dst, blob.digest, self.src)
            if location is None:
                self.stats.add(blobs_mounted=1)
                return
            # 202: the registry would not mount (ECR with BLOB_MOUNTING off). Stream into that very session,
            # unless the target repository already has the blob.
            if self.target.blob_exists(self.dst, blob.digest):
                self.target.cancel_upload(self.dst, location)
                self.stats.add(blobs_skipped=1)
                return
            self._stream_blob(blob, location)
            return
        if self.target.blob_exists(self.dst, blob.digest):
            self.stats.add(blobs_skipped=1)
            return
        self._stream_blob(blob, None)

    def _stream_blob(self, blob: Descriptor, location: str | None) -> None:
        """GET from the source, PUT into the target, verifying size and sha256 on the way. Requests that
        failed after their own retries end the copy; a transfer broken midway (reset, truncated or corrupt
        body, a refused upload) abandons its upload session and starts over with a new one."""
        policy = self.target.retry
        deadline = time.monotonic() + policy.deadline
        attempt = 0
        while True:
            if self.abort.is_set():
                raise _Aborted("stopped: another transfer failed")
            if location is None:
                location = self.target.start_upload(self.dst)
            failure: RegistryError | None = None
            with self.source.open_blob(self.src, blob.digest) as response:
                declared = response.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and int(declared) != blob.size:
                    self.target.cancel_upload(self.dst, location)
                    raise DigestMismatch(
                        f"blob {blob.digest} is served as {declared} bytes, its manifest says {blob.size}"
                    )
                chunks = _verified_chunks(response, blob)
                try:
                    self.target.finish_upload(self.dst, location, blob.digest, blob.size, chunks)
                except (TransientRegistryError, DigestMismatch) as error:
                    failure = error
            if failure is None:
                self.stats.add(blobs_streamed=1, bytes_moved=blob.size)
                return
            self.target.cancel_upload(self.dst, location)
            location = None
            if self.abort.is_set() or not policy.wait_before_retry(attempt, deadline):
                raise failure
            attempt += 1
            log.info("retrying blob %s (try %d): %s", blob.digest, attempt + 1, failure)

    # ------------------------------------------------------------------ referrers

    def _discover_referrers(self, subjects: Sequence[str]) -> _Referrers:
        """Referrers of each subject in the source: by the referrers API where the registry has it, and by
        tag (`sha256-<hex>` fallback index, cosign `sha256-<hex>.sig|.att|.sbom`) in every case."""
        by_api: list[tuple[str, Descriptor]] = []
        for subject in subjects:
            found = self.source.referrers(self.src, subject)
            if found is None:
                break
            by_api.extend((subject, descriptor) for descriptor in found)
        hexes = {subject.split(":", 1)[1] for subject in subjects}
        by_tag = [tag for tag in self.source.list_tags(self.src) if _referrer_tag_subject(tag) in hexes]
        return _Referrers(tuple(by_api), tuple(sorted(by_tag)))

    def _copy_referrers(self, found: _Referrers) -> None:
        needs_fallback: dict[str, list[Descriptor]] = {}
        api_seen: set[str] = set()
        for subject, descriptor in found.by_api:
            if descriptor.digest in api_seen:
                continue
            api_seen.add(descriptor.digest)
            if not is_digest(descriptor.digest):
                raise UnsupportedManifest(f"referrer {descriptor.digest} of {subject} is not a sha256 digest")
            manifest = self.source.get_manifest(self.src, descriptor.digest)
            levels = self._fetch_tree(manifest)
            self._copy_blobs([m for level in levels for m in level])
            self._put_levels(levels[1:])
            result = self._put(manifest, manifest.digest)
            self.stats.add(referrers_copied=1)
            if result is not None and not result.subject_indexed:
                # The target has no referrers API: keep its `sha256-<hex>` fallback index up to date.
                needs_fallback.setdefault(subject, []).append(descriptor)
        for tag in found.by_tag:
            self._copy_referrer_tag(tag)
        for subject, descriptors in needs_fallback.items():
            self._merge_fallback_index(subject, descriptors)

    def _copy_referrer_tag(self, tag: str) -> None:
        manifest = self.source.get_manifest(self.src, tag)
        existing = self.target.resolve(self.dst, tag)
        if existing is not None and existing.digest == manifest.digest:
            return
        fallback_index = len(tag) == 71 and manifest.is_index
        levels = self._fetch_tree(manifest)
        self._copy_blobs([m for level in levels for m in level])
        self._put_levels(levels[1:])
        copied = len(manifest.children) if fallback_index else 1
        if existing is None:
            self._put(manifest, tag)
            self.stats.add(referrers_copied=copied)
            return
        if fallback_index:
            subject = "sha256:" + tag[len("sha256-") :]
            self._merge_fallback_index(subject, list(manifest.children))
            self.stats.add(referrers_copied=copied)
            return
        log.warning(
            "referrer tag %s in %s already points to %s, not %s: left as it is",
            tag,
            self.dst,
            existing.digest,
            manifest.digest,
        )

    def _merge_fallback_index(self, subject: str, descriptors: Sequence[Descriptor]) -> None:
        """Add `descriptors` to the target's `sha256-<hex>` referrers index (the OCI tag-schema fallback)."""
        tag = "sha256-" + subject.split(":", 1)[1]
        current: list[dict[str, Any]] = []
        if self.target.resolve(self.dst, tag) is not None:
            existing = self.target.get_manifest(self.dst, tag)
            current = [d.to_json() for d in existing.children]
        known = {item["digest"] for item in current}
        added = [d.to_json() for d in descriptors if d.digest not in known]
        if not added:
            return
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": current + added}
        merged = Manifest.from_bytes(json.dumps(document, separators=(",", ":")).encode(), OCI_INDEX)
        self._put(merged, tag)


def _referrer_tag_subject(tag: str) -> str | None:
    """The hex digest a referrer tag is about (`sha256-<hex>`, `sha256-<hex>.sig`…), else None."""
    if not tag.startswith("sha256-") or len(tag) < 71:
        return None
    hex_part, suffix = tag[7:71], tag[71:]
    if suffix and suffix not in _COSIGN_SUFFIXES:
        return None
    return hex_part


def _check_digest(descriptor: Descriptor, parent: Manifest) -> None:
    if not is_digest(descriptor.digest):
        raise UnsupportedManifest(
            f"manifest {parent.digest} refers to {descriptor.digest!r}: only sha256 digests are supported"
        )


def _verified_chunks(response: urllib3.BaseHTTPResponse, blob: Descriptor) -> Iterator[bytes]:
    """Fixed-size chunks of the blob; the sha256 and size are checked before the last chunk is handed on,
    so a corrupt or short blob never completes an upload."""
    hasher = hashlib.sha256()
    received = 0
    if blob.size == 0 and "sha256:" + hasher.hexdigest() != blob.digest:
        raise DigestMismatch(f"blob {blob.digest} is empty but its digest is not that of no bytes")
    while received < blob.size:
        try:
            chunk = response.read(min(CHUNK_SIZE, blob.size - received), decode_content=False)
        except (Urllib3Error, OSError) as error:
            raise TransientRegistryError(
                f"reading blob {blob.digest} interrupted after {received} bytes ({type(error).__name__})"
            ) from None
        if not chunk:
            raise TransientRegistryError(f"blob {blob.digest} ended after {received} of {blob.size} bytes")
        received += len(chunk)
        hasher.update(chunk)
        if received == blob.size and "sha256:" + hasher.hexdigest() != blob.digest:
            raise DigestMismatch(f"blob {blob.digest} does not match its digest (got sha256:{hasher.hexdigest()})")
        yield chunk
