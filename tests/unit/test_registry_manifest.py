"""Manifests are kept as exact bytes; what they refer to is read from them without changing them."""

from __future__ import annotations

import json

import pytest

from promoter.registry import DigestMismatch, Manifest, UnsupportedManifest, sha256_digest
from promoter.registry.manifest import DOCKER_LIST, OCI_INDEX, OCI_MANIFEST
from promoter.registry.referrers import referrer_tag_subject as _referrer_tag_subject
from promoter.registry.transport import RetryPolicy
from promoter.registry.transport import next_link as _next_link
from promoter.registry.transport import retry_after_seconds as _retry_after

CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 10, "digest": "sha256:" + "c" * 64}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 20, "digest": "sha256:" + "1" * 64}


def test_pretty_printed_manifest_keeps_its_bytes_and_digest() -> None:
    # Given a manifest written with unusual whitespace
    data = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": CONFIG, "layers": [LAYER]}, indent=7)
    raw = data.encode()

    # When it is read
    manifest = Manifest.from_bytes(raw, OCI_MANIFEST)

    # Then its bytes and digest are untouched and its blobs are config then layers
    assert manifest.data == raw
    assert manifest.digest == sha256_digest(raw)
    assert [b.digest for b in manifest.blobs] == [CONFIG["digest"], LAYER["digest"]]
    assert manifest.children == ()


def test_index_lists_children_and_no_blobs() -> None:
    child = {"mediaType": OCI_MANIFEST, "size": 100, "digest": "sha256:" + "d" * 64, "platform": {"os": "linux"}}
    manifest = Manifest.from_bytes(json.dumps({"schemaVersion": 2, "manifests": [child]}).encode(), DOCKER_LIST)
    assert manifest.is_index
    assert [c.digest for c in manifest.children] == [child["digest"]]
    assert manifest.blobs == ()


def test_generic_content_type_falls_back_to_the_declared_media_type() -> None:
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode()
    assert Manifest.from_bytes(raw, "application/json; charset=utf-8").media_type == OCI_INDEX
    assert Manifest.from_bytes(raw, "").media_type == OCI_INDEX


def test_asking_by_digest_verifies_the_bytes() -> None:
    with pytest.raises(DigestMismatch):
        Manifest.from_bytes(b"{}", OCI_MANIFEST, expected_digest="sha256:" + "0" * 64)


def test_schema1_manifests_are_refused_as_unsupported() -> None:
    manifest = Manifest.from_bytes(json.dumps({"schemaVersion": 1, "fsLayers": []}).encode(), OCI_MANIFEST)
    with pytest.raises(UnsupportedManifest):
        _ = manifest.blobs


def test_subject_and_artifact_type_are_read() -> None:
    subject = {"mediaType": OCI_MANIFEST, "size": 5, "digest": "sha256:" + "e" * 64}
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/x.sig",
        "config": CONFIG,
        "layers": [],
        "subject": subject,
    }
    manifest = Manifest.from_bytes(json.dumps(document).encode(), OCI_MANIFEST)
    assert manifest.subject is not None and manifest.subject.digest == subject["digest"]
    assert manifest.artifact_type == "application/x.sig"


def test_descriptor_without_a_size_is_unsupported() -> None:
    document = {"schemaVersion": 2, "config": {"digest": "sha256:" + "c" * 64}, "layers": []}
    with pytest.raises(UnsupportedManifest):
        _ = Manifest.from_bytes(json.dumps(document).encode(), OCI_MANIFEST).blobs


@pytest.mark.parametrize(
    ("tag", "subject"),
    [
        ("sha256-" + "a" * 64, "a" * 64),
        ("sha256-" + "a" * 64 + ".sig", "a" * 64),
        ("sha256-" + "a" * 64 + ".att", "a" * 64),
        ("sha256-" + "a" * 64 + ".sbom", "a" * 64),
        ("sha256-" + "a" * 64 + ".other", None),
        ("v1", None),
        ("sha256-abc", None),
    ],
)
def test_referrer_tags_name_their_subject(tag: str, subject: str | None) -> None:
    assert _referrer_tag_subject(tag) == subject


def test_link_header_gives_the_next_page() -> None:
    assert _next_link('</v2/app/tags/list?last=b&n=2>; rel="next"') == "/v2/app/tags/list?last=b&n=2"
    assert _next_link('<https://r.example/v2/app/tags/list?last=b>; rel="next"') == "/v2/app/tags/list?last=b"
    assert _next_link(None) is None
    assert _next_link('</x>; rel="prev"') is None


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert _retry_after("3") == 3.0
    assert _retry_after(None) is None
    assert _retry_after("not a date") is None
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait


def test_retry_policy_bounds_attempts_delays_and_total_time() -> None:
    # Given a policy of 3 attempts whose sleeps are recorded instead of slept
    slept: list[float] = []
    policy = RetryPolicy(attempts=3, base_delay=0.5, max_delay=1.0, max_retry_after=2.0, sleep=slept.append)
    far = 1e12

    # Then delays stay within the exponential cap, Retry-After is honoured up to its cap,
    # and no retry is offered after the last attempt or past the deadline
    assert all(0 <= policy.delay(n) <= 1.0 for n in range(10))
    assert policy.wait_before_retry(0, far, retry_after=1.5) is True
    assert policy.wait_before_retry(1, far, retry_after=60) is True
    assert slept == [1.5, 2.0]
    assert policy.wait_before_retry(2, far) is False
    assert policy.wait_before_retry(0, 0.0) is False
