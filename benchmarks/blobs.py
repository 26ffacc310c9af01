"""Benchmark images: blobs generated in chunks (a 500 MB layer never sits in memory whole), pushed with
stdlib HTTP, independent of the copy engine under test."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from devtools.images import OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, put_manifest, sha256_digest

MIB = 1024 * 1024


@dataclass(frozen=True)
class Blob:
    """`block` repeated `repeat` times: the digest is computed by streaming, the content is streamed too."""

    block: bytes
    repeat: int = 1
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        hasher = hashlib.sha256()
        for chunk in self.chunks():
            hasher.update(chunk)
        object.__setattr__(self, "digest", "sha256:" + hasher.hexdigest())

    @property
    def size(self) -> int:
        return len(self.block) * self.repeat

    def chunks(self) -> Iterator[bytes]:
        for _ in range(self.repeat):
            yield self.block

    @classmethod
    def random_layer(cls, size: int, block: int = 4 * MIB) -> Blob:
        """A valid gzip stream of random data (stored, level 0): concatenated gzip members of `block` bytes.
        Real gzip matters: skopeo would otherwise compress an "uncompressed" layer and change its digest."""
        if size <= block:
            return cls(gzip.compress(os.urandom(size), compresslevel=0, mtime=0))
        return cls(gzip.compress(os.urandom(block), compresslevel=0, mtime=0), size // block)


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str
    media_type: str
    digest: str
    blobs: tuple[Blob, ...]  # every blob, config included, of every child
    manifests: int  # manifests in the tree (1 for an image, children + 1 for an index)

    @property
    def blob_bytes(self) -> int:
        return sum(blob.size for blob in self.blobs)


def _connection(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=120)


def upload_blob(registry_url: str, repository: str, blob: Blob) -> None:
    """POST an upload session, then one monolithic streamed PUT (what a minimal pusher does)."""
    conn = _connection(registry_url)
    try:
        conn.request("POST", f"/v2/{repository}/blobs/uploads/", headers={"Content-Length": "0"})
        response = conn.getresponse()
        response.read()
        if response.status != 202:
            raise RuntimeError(f"upload start failed: {response.status}")
        location = urlsplit(response.headers["Location"])
        path = location.path + ("?" + location.query + "&" if location.query else "?") + f"digest={blob.digest}"
        conn.request(
            "PUT",
            path,
            body=blob.chunks(),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)},
        )
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"blob upload failed: {response.status}")
    finally:
        conn.close()


def upload_parallel(registry_url: str, repository: str, blobs: Sequence[Blob]) -> None:
    with ThreadPoolExecutor(max_workers=max(1, len(blobs))) as pool:
        list(pool.map(lambda blob: upload_blob(registry_url, repository, blob), blobs))


def push_image(
    registry_url: str, repository: str, tag: str | None, layers: Sequence[Blob], arch: str = "amd64"
) -> Image:
    config = Blob(
        json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
            },
            sort_keys=True,
        ).encode()
    )
    blobs = (config, *layers)
    upload_parallel(registry_url, repository, blobs)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "size": config.size, "digest": config.digest},
            "layers": [{"mediaType": OCI_LAYER, "size": layer.size, "digest": layer.digest} for layer in layers],
        }
    ).encode()
    digest = sha256_digest(manifest)
    put_manifest(registry_url, repository, tag or digest, manifest, OCI_MANIFEST)
    return Image(repository, tag or "", OCI_MANIFEST, digest, blobs, 1)


def push_index(registry_url: str, repository: str, tag: str, children: Sequence[Sequence[Blob]]) -> Image:
    """An OCI index over one image per platform (linux/amd64, linux/arm64, ...)."""
    arches = ["amd64", "arm64", "s390x", "ppc64le"]
    pushed = [push_image(registry_url, repository, None, layers, arches[i]) for i, layers in enumerate(children)]
    entries = []
    for i, child in enumerate(pushed):
        status, _, body = _get_manifest(registry_url, repository, child.digest)
        if status != 200:
            raise RuntimeError(f"child manifest missing: {status}")
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "size": len(body),
                "digest": child.digest,
                "platform": {"os": "linux", "architecture": arches[i]},
            }
        )
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    put_manifest(registry_url, repository, tag, manifest, OCI_INDEX)
    blobs = tuple(blob for child in pushed for blob in child.blobs)
    return Image(repository, tag, OCI_INDEX, sha256_digest(manifest), blobs, len(pushed) + 1)


def _get_manifest(registry_url: str, repository: str, reference: str) -> tuple[int, str, bytes]:
    from devtools.images import get_manifest

    return get_manifest(registry_url, repository, reference)
