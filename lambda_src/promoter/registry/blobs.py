"""Blob transfer: every blob of a set of manifests into the target, each once, in parallel.

Why a module of its own (regclient's `blob` package): moving bytes has its own rules, independent of
which manifest needs them. Same registry: cross-repository mount (201), or, when the registry opens an
upload session instead (202, ECR with BLOB_MOUNTING off), stream into that very session. Other registry:
HEAD in the target (skip when present), else stream GET -> PUT in fixed-size chunks, hashing as it goes,
so memory stays bounded by one chunk per worker and a corrupt or short blob never completes an upload.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Sequence

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from .errors import DigestMismatch, RegistryError, TransientRegistryError, UnsupportedManifest
from .manifest import Descriptor, Manifest
from .reference import is_digest
from .session import CopySession

log = logging.getLogger("promoter.registry")

CHUNK_SIZE = 1024 * 1024


def check_digest(descriptor: Descriptor, parent: Manifest) -> None:
    """Only sha256 digests travel: anything else in a manifest is refused before any write."""
    if not is_digest(descriptor.digest):
        raise UnsupportedManifest(
            f"manifest {parent.digest} refers to {descriptor.digest!r}: only sha256 digests are supported"
        )


class BlobCopier:
    def __init__(self, session: CopySession) -> None:
        self.session = session

    def copy_blobs(self, manifests: Sequence[Manifest]) -> None:
        """Every blob `manifests` reference, in the target repository when this returns."""
        blobs: dict[str, Descriptor] = {}
        for manifest in manifests:
            for blob in manifest.blobs:
                check_digest(blob, manifest)
                if blob.is_foreign:
                    log.info("not copying non-distributable layer %s (it lives at its URLs)", blob.digest)
                    continue
                blobs.setdefault(blob.digest, blob)
        # Largest first: the longest transfers start earliest, small ones fill in around them.
        self.session.run_all(self.copy_blob, sorted(blobs.values(), key=lambda blob: -blob.size))

    def copy_blob(self, blob: Descriptor) -> None:
        session = self.session
        session.check_abort()
        if session.same_registry:
            location = session.target.mount_blob(session.dst, blob.digest, session.src)
            if location is None:
                session.stats.add(blobs_mounted=1)
                return
            # 202: the registry would not mount (ECR with BLOB_MOUNTING off). Stream into that very session,
            # unless the target repository already has the blob.
            if session.target.blob_exists(session.dst, blob.digest):
                session.target.cancel_upload(session.dst, location)
                session.stats.add(blobs_skipped=1)
                return
            self._stream_blob(blob, location)
            return
        if session.target.blob_exists(session.dst, blob.digest):
            session.stats.add(blobs_skipped=1)
            return
        self._stream_blob(blob, None)

    def _stream_blob(self, blob: Descriptor, location: str | None) -> None:
        """GET from the source, PUT into the target, verifying size and sha256 on the way. Requests that
        failed after their own retries end the copy; a transfer broken midway (reset, truncated or corrupt
        body, a refused upload) abandons its upload session and starts over with a new one."""
        session = self.session
        source, target = session.source, session.target
        policy = target.retry
        deadline = time.monotonic() + policy.deadline
        attempt = 0
        while True:
            session.check_abort()
            if location is None:
                location = target.start_upload(session.dst)
            failure: RegistryError | None = None
            with source.open_blob(session.src, blob.digest) as response:
                declared = response.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and int(declared) != blob.size:
                    target.cancel_upload(session.dst, location)
                    raise DigestMismatch(
                        f"blob {blob.digest} is served as {declared} bytes, its manifest says {blob.size}"
                    )
                chunks = verified_chunks(response, blob)
                try:
                    target.finish_upload(session.dst, location, blob.digest, blob.size, chunks)
                except (TransientRegistryError, DigestMismatch) as error:
                    failure = error
            if failure is None:
                session.stats.add(blobs_streamed=1, bytes_moved=blob.size)
                return
            target.cancel_upload(session.dst, location)
            location = None
            if session.abort.is_set() or not policy.wait_before_retry(attempt, deadline):
                raise failure
            attempt += 1
            log.info("retrying blob %s (try %d): %s", blob.digest, attempt + 1, failure)


def verified_chunks(response: urllib3.BaseHTTPResponse, blob: Descriptor) -> Iterator[bytes]:
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
