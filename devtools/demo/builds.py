"""The scenario's images, built like `docker build` + `docker push` would: real, reproducible OCI layers.

Every iteration shares the base layers (OS, httpd, start script) and adds its own app layer, so the
registry's access log shows what a promotion mounts and what replication has to ship. Fixed timestamps
make the digests the same on every run.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
import time
from dataclasses import dataclass

from devtools import images

EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z: fixed timestamps make the image digests reproducible


@dataclass(frozen=True)
class Layer:
    blob: bytes  # tar+gzip, as pushed
    diff_id: str  # sha256 of the uncompressed tar
    created_by: str

    @property
    def digest(self) -> str:
        return images.sha256_digest(self.blob)


def make_layer(files: dict[str, tuple[bytes, int]], created_by: str) -> Layer:
    """A real, reproducible OCI layer: a tar of `path -> (content, mode)`, gzip-compressed."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, (content, mode) in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(content), mode, EPOCH
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(content))
    data = raw.getvalue()
    return Layer(gzip.compress(data, compresslevel=1, mtime=0), images.sha256_digest(data), created_by)


def base_layers() -> list[Layer]:
    """The layers every iteration shares (the blog's Dockerfile up to the app): OS, httpd, start script."""
    rng = random.Random(2021)  # noqa: S311 - reproducible filler bytes, not security
    script = b"#!/bin/sh\nmkdir -p /var/run/httpd\nmkdir -p /var/lock/httpd\n/usr/sbin/httpd -D FOREGROUND\n"
    return [
        make_layer(
            {
                "usr/lib64/libc.so.6": (rng.randbytes(1_200_000), 0o755),
                "etc/os-release": (b'NAME="Amazon Linux"\nVERSION="2"\n', 0o644),
            },
            "ADD al2-rootfs.tar.gz /",
        ),
        make_layer(
            {
                "usr/sbin/httpd": (rng.randbytes(600_000), 0o755),
                "etc/httpd/conf/httpd.conf": (b"Listen 80\nDocumentRoot /var/www/html\n", 0o644),
            },
            "RUN yum install -y httpd",
        ),
        make_layer({"root/run_apache.sh": (script, 0o755)}, "RUN echo '...' >> /root/run_apache.sh"),
    ]


def app_layer(build: str) -> Layer:
    rng = random.Random(build)  # noqa: S311
    page = f"<h1>Hello World!</h1><p>{build}</p>\n".encode()
    return make_layer(
        {"var/www/html/index.html": (page, 0o644), "var/www/html/app.bin": (rng.randbytes(48_000), 0o644)},
        f"COPY site/ /var/www/html/  # {build}",
    )


@dataclass(frozen=True)
class Build:
    name: str
    digest: str
    blobs: int  # config + layers
    size: int  # bytes of config + layers
    uploaded: int  # blobs that were not in the repository yet


def push_build(registry_url: str, repository: str, build: str, tag: str, shared: list[Layer]) -> Build:
    """Push one iteration (shared layers + its own app layer) like `docker push`: only missing blobs travel."""
    layers = [*shared, app_layer(build)]
    revision = hashlib.sha1(build.encode()).hexdigest()  # noqa: S324 - a fake git commit id
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH)),
            "config": {
                "Cmd": ["/root/run_apache.sh"],
                "ExposedPorts": {"80/tcp": {}},
                "Labels": {"org.opencontainers.image.revision": revision, "org.opencontainers.image.version": build},
            },
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": [{"created": "2026-01-01T00:00:00Z", "created_by": layer.created_by} for layer in layers],
        },
        sort_keys=True,
    ).encode()
    uploaded = 0
    for blob in [config, *(layer.blob for layer in layers)]:
        if not images.blob_exists(registry_url, repository, images.sha256_digest(blob)):
            uploaded += 1
        images.push_blob(registry_url, repository, blob)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": images.OCI_MANIFEST,
            "config": {"mediaType": images.OCI_CONFIG, "size": len(config), "digest": images.sha256_digest(config)},
            "layers": [
                {"mediaType": images.OCI_LAYER, "size": len(layer.blob), "digest": layer.digest} for layer in layers
            ],
            "annotations": {"org.opencontainers.image.revision": revision},
        },
        indent=2,
    ).encode()
    digest = images.put_manifest(registry_url, repository, tag, manifest, images.OCI_MANIFEST)
    if digest != images.sha256_digest(manifest):
        raise RuntimeError(f"the registry stored {build} as {digest}, not as the digest of its bytes")
    size = len(config) + sum(len(layer.blob) for layer in layers)
    return Build(build, digest, 1 + len(layers), size, uploaded)


def retag(registry_url: str, repository: str, digest: str, tag: str) -> None:
    """`docker tag` + `docker push` of an image already in the repository: the same manifest under a new tag."""
    status, media_type, manifest = images.get_manifest(registry_url, repository, digest)
    if status != 200:
        raise RuntimeError(f"{repository}@{digest} not found (HTTP {status})")
    images.put_manifest(registry_url, repository, tag, manifest, media_type)


def digest_of(registry_url: str, repository: str, reference: str) -> str | None:
    status, _, body = images.get_manifest(registry_url, repository, reference)
    return images.sha256_digest(body) if status == 200 else None


@dataclass(frozen=True)
class MultiArch:
    """A `docker buildx build --platform linux/amd64,linux/arm64 --push` result: the index and what it lists."""

    index: Build
    platforms: dict[str, str]  # "linux/amd64" -> platform image digest
    attestations: tuple[str, ...]  # the attestation manifests' digests (platform unknown/unknown)
    manifests: tuple[str, ...]  # every manifest the index lists
    blob_digests: tuple[str, ...]  # every blob of every listed manifest


def push_multiarch(registry_url: str, repository: str, build: str, tag: str, shared: list[Layer]) -> MultiArch:
    """Push one iteration for two platforms like buildx (provenance on by default): the platform images by
    digest, one attestation manifest per platform, then the index under `tag`."""
    revision = hashlib.sha1(build.encode()).hexdigest()  # noqa: S324 - a fake git commit id
    labels = {"org.opencontainers.image.revision": revision, "org.opencontainers.image.version": build}
    children = [
        images.push_image(
            registry_url,
            repository,
            None,
            [*layers, app_layer(f"{build} linux/{arch}").blob],
            labels=labels,
            platform=("linux", arch),
        )
        for arch, layers in (("amd64", [layer.blob for layer in shared]), ("arm64", []))
    ]
    pushed = images.push_buildx_index(registry_url, repository, tag, children)
    listed = [str(entry["digest"]) for entry in json.loads(pushed.manifest)["manifests"]]
    platforms = {f"linux/{arch}": child.digest for arch, child in zip(("amd64", "arm64"), children, strict=True)}
    index = Build(build, pushed.digest, len(pushed.blobs), pushed.blob_bytes, len(pushed.blobs))
    attestations = tuple(digest for digest in listed if digest not in platforms.values())
    return MultiArch(index, platforms, attestations, tuple(listed), tuple(pushed.blobs))
