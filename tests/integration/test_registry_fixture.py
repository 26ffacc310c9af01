"""The registry fixture itself: a real registry that stores blobs and enforces manifest references."""

from __future__ import annotations

import json
import os

from devtools.images import blob_exists, get_manifest, push_blob, put_manifest, sha256_digest
from devtools.localregistry import LocalRegistry


def test_pushed_blob_reads_back_byte_for_byte(registry: LocalRegistry, repo_name) -> None:
    # Given a repository and random content
    repository = repo_name()
    content = os.urandom(4096)

    # When the blob is pushed
    digest = push_blob(registry.url, repository, content)

    # Then it is stored under its sha256 and logged as an upload
    assert digest == sha256_digest(content)
    assert blob_exists(registry.url, repository, digest)
    assert any(entry.is_blob_upload and repository in entry.path for entry in registry.access_log())


def test_manifest_referencing_a_missing_blob_is_refused(registry: LocalRegistry, repo_name) -> None:
    # Given a manifest whose config blob was never pushed (what ECR calls LayersNotFoundException)
    repository = repo_name()
    missing = sha256_digest(os.urandom(16))
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 16, "digest": missing},
            "layers": [],
        }
    ).encode()

    # When it is put, Then the registry refuses it and nothing is tagged
    try:
        put_manifest(registry.url, repository, "v1", manifest, "application/vnd.oci.image.manifest.v1+json")
    except RuntimeError as error:
        assert "MANIFEST_BLOB_UNKNOWN" in str(error)
    else:  # pragma: no cover - the assertion below explains the failure
        raise AssertionError("registry accepted a manifest with a missing blob")
    assert get_manifest(registry.url, repository, "v1")[0] == 404
