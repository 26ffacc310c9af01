"""The copy engine against a real CNCF registry: zero-copy mounts, verified streaming, byte-exact manifests."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from devtools import images
from devtools.localregistry import AccessEntry, LocalRegistry
from promoter.registry import (
    ImageNotFound,
    InvalidReference,
    RegistryClient,
    RepositoryNotFound,
    TagConflict,
    copy_image,
    image_labels,
)

RepoName = Callable[[str], str]
WRITES = {"PUT", "POST", "PATCH", "DELETE"}


def _writes(entries: list[AccessEntry]) -> list[AccessEntry]:
    return [entry for entry in entries if entry.method in WRITES]


def _client(registry: LocalRegistry) -> RegistryClient:
    return RegistryClient.for_endpoint(registry.url)


def test_same_registry_copy_mounts_every_blob_in_at_most_nine_requests(
    registry: LocalRegistry, repo_name: RepoName
) -> None:
    # Given a 6-blob image (config + 5 layers) in a dev repository
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    pushed = images.push_image(registry.url, dev, "v1", images.random_layers(5, 50_000))
    client = _client(registry)
    mark = registry.log_mark()

    # When it is copied to a prod repository of the same registry
    result = copy_image(client, dev, "v1", client, prod, ["v1"], referrers=False)

    # Then every blob was mounted, none uploaded, in at most 9 requests
    log = registry.access_log(since=mark)
    assert [e for e in log if e.is_blob_upload] == []
    assert len([e for e in log if e.is_mount and e.status == 201]) == 6
    assert len(log) <= 9, log
    assert (result.blobs_mounted, result.blobs_streamed, result.bytes_moved) == (6, 0, 0)
    assert result.tags_written == ("v1",) and result.manifests_written == 1 and not result.already_present
    # And the target holds the same bytes under the same digest
    status, media_type, data = images.get_manifest(registry.url, prod, "v1")
    assert (status, media_type, data) == (200, images.OCI_MANIFEST, pushed.manifest)
    assert result.digest == pushed.digest


def test_same_registry_copy_with_referrer_lookup_adds_two_requests(
    registry: LocalRegistry, repo_name: RepoName
) -> None:
    # Given the same 6-blob image, When copied with referrers on (the default)
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    images.push_image(registry.url, dev, "v1", images.random_layers(5, 1000))
    client = _client(registry)
    mark = registry.log_mark()
    copy_image(client, dev, "v1", client, prod, ["v1"])

    # Then the only extra requests are the referrers API probe and one tag listing
    log = registry.access_log(since=mark)
    assert len(log) <= 11
    assert [e for e in log if e.is_blob_upload] == []


@pytest.mark.parametrize("max_workers", [1, 8])
def test_cross_registry_copy_streams_and_verifies_every_blob(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName, max_workers: int
) -> None:
    # Given an image with a multi-chunk layer (2.5 MiB) in one registry
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    layers = [os.urandom(2_500_000), os.urandom(10_000), b""]
    pushed = images.push_image(registry.url, dev, "v1", layers)

    # When it is copied into another registry
    result = copy_image(_client(registry), dev, "v1", _client(second_registry), prod, ["v1"], max_workers=max_workers)

    # Then each distinct blob was streamed once and the byte count is that of the blobs
    assert result.blobs_streamed == len(pushed.blobs) and result.blobs_mounted == 0
    assert result.bytes_moved == pushed.blob_bytes
    for digest in pushed.blobs:
        assert images.blob_exists(second_registry.url, prod, digest)
    big = images.sha256_digest(layers[0])
    assert _client(second_registry).get_blob_bytes(prod, big, 3_000_000) == layers[0]
    assert images.get_manifest(second_registry.url, prod, "v1")[2] == pushed.manifest


def test_cross_registry_copy_skips_blobs_the_target_already_has(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName
) -> None:
    # Given a target repository that already holds one of the image's layers
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    shared = os.urandom(5000)
    pushed = images.push_image(registry.url, dev, "v1", [shared, os.urandom(5000)])
    images.push_blob(second_registry.url, prod, shared)

    # When the image is copied there
    result = copy_image(_client(registry), dev, "v1", _client(second_registry), prod, ["v1"])

    # Then that layer is skipped and the rest streamed
    assert (result.blobs_skipped, result.blobs_streamed) == (1, len(pushed.blobs) - 1)


@pytest.mark.parametrize("docker", [False, True], ids=["oci-index", "docker-list"])
@pytest.mark.parametrize("cross", [False, True], ids=["same-registry", "cross-registry"])
def test_multi_arch_index_is_copied_children_first(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName, docker: bool, cross: bool
) -> None:
    # Given a two-platform index (OCI index or Docker manifest list) whose children are pushed by digest
    dev, prod = repo_name("dev-multi"), repo_name("prod-multi")
    children = [
        images.push_image(registry.url, dev, None, images.random_layers(2, 2000), docker=docker, platform=platform)
        for platform in (("linux", "amd64"), ("linux", "arm64"))
    ]
    index = images.push_index(registry.url, dev, "v2", children, docker=docker)
    target = second_registry if cross else registry

    # When it is copied
    result = copy_image(_client(registry), dev, "v2", _client(target), prod, ["v2"])

    # Then the children and the index are in the target, byte-exact, with their media types
    assert result.digest == index.digest and result.manifests_written == 3
    for child in children:
        assert images.get_manifest(target.url, prod, child.digest) == (200, child.media_type, child.manifest)
    assert images.get_manifest(target.url, prod, "v2") == (200, index.media_type, index.manifest)
    assert result.blobs_mounted + result.blobs_streamed == 6


def test_copy_by_digest_without_tags_pushes_by_digest_only(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName
) -> None:
    # Given an image known by digest
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    pushed = images.push_image(registry.url, dev, "v1", images.random_layers(2, 1000))

    # When it is copied by digest with no target tag
    result = copy_image(_client(registry), dev, pushed.digest, _client(second_registry), prod)

    # Then the target has it under its digest and no tag
    assert result.tags_written == () and result.manifests_written == 1
    assert images.get_manifest(second_registry.url, prod, pushed.digest)[2] == pushed.manifest
    assert images.list_tags(second_registry.url, prod) == []

    # And a second copy by digest finds it already present
    assert copy_image(_client(registry), dev, pushed.digest, _client(second_registry), prod).already_present


@pytest.mark.parametrize("cross", [False, True], ids=["same-registry", "cross-registry"])
def test_second_run_is_already_present_and_writes_nothing(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName, cross: bool
) -> None:
    # Given an image already copied once
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    images.push_image(registry.url, dev, "v1", images.random_layers(3, 1000))
    target = second_registry if cross else registry
    first = copy_image(_client(registry), dev, "v1", _client(target), prod, ["v1"])
    mark = target.log_mark()

    # When the same copy runs again
    second = copy_image(_client(registry), dev, "v1", _client(target), prod, ["v1"])

    # Then it reports already present and the target received no write at all
    assert second.already_present and second.digest == first.digest
    assert (second.blobs_mounted, second.blobs_streamed, second.manifests_written, second.tags_written) == (0, 0, 0, ())
    assert _writes(target.access_log(since=mark)) == []


def test_tag_conflict_leaves_the_target_untouched(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName
) -> None:
    # Given a target tag that already points to another image
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    wanted = images.push_image(registry.url, dev, "v1", images.random_layers(2, 1000))
    other = images.push_image(second_registry.url, prod, "v1", images.random_layers(1, 1000))
    mark = second_registry.log_mark()

    # When the image is copied onto that tag
    with pytest.raises(TagConflict) as caught:
        copy_image(_client(registry), dev, "v1", _client(second_registry), prod, ["v1"])

    # Then the conflict names both digests and nothing at all was written to the target
    assert (caught.value.tag, caught.value.existing_digest, caught.value.wanted_digest) == (
        "v1",
        other.digest,
        wanted.digest,
    )
    assert _writes(second_registry.access_log(since=mark)) == []
    assert images.get_manifest(second_registry.url, prod, "v1")[2] == other.manifest
    assert not any(images.blob_exists(second_registry.url, prod, d) for d in wanted.blobs)


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker-v2"])
def test_pretty_printed_manifest_keeps_its_digest_and_media_type(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName, docker: bool
) -> None:
    # Given an indented (pretty-printed) manifest, Docker v2 or OCI
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    pushed = images.push_image(registry.url, dev, "v1", images.random_layers(1, 1000), docker=docker, pretty=True)
    assert b"\n   " in pushed.manifest

    # When it is copied
    result = copy_image(_client(registry), dev, "v1", _client(second_registry), prod, ["v1"])

    # Then the same bytes, digest and media type are in the target
    expected_type = images.DOCKER_MANIFEST if docker else images.OCI_MANIFEST
    assert images.get_manifest(second_registry.url, prod, "v1") == (200, expected_type, pushed.manifest)
    assert result.digest == pushed.digest and result.media_type == expected_type


@pytest.mark.parametrize(
    ("source_repo", "reference", "target_repo", "tags"),
    [
        ("Dev-App", "v1", "prod", ["v1"]),
        ("dev", "-v1", "prod", ["v1"]),
        ("dev", "sha256:abc", "prod", ["v1"]),
        ("dev", "v1", "prod//x", ["v1"]),
        ("dev", "v1", "prod", ["bad tag"]),
    ],
)
def test_invalid_names_fail_before_any_request(
    registry: LocalRegistry, source_repo: str, reference: str, target_repo: str, tags: list[str]
) -> None:
    # Given an invalid repository, reference or tag
    client = _client(registry)
    mark = registry.log_mark()

    # When a copy is asked, Then it fails with InvalidReference and the registry saw no request
    with pytest.raises(InvalidReference):
        copy_image(client, source_repo, reference, client, target_repo, tags)
    assert registry.access_log(since=mark) == []


def test_missing_source_image_fails_with_image_not_found_and_writes_nothing(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName
) -> None:
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    mark = second_registry.log_mark()
    with pytest.raises(ImageNotFound):
        copy_image(_client(registry), dev, "v404", _client(second_registry), prod, ["v404"])
    assert _writes(second_registry.access_log(since=mark)) == []


def test_an_extra_tag_on_a_promoted_image_writes_only_that_tag(registry: LocalRegistry, repo_name: RepoName) -> None:
    # Given an image already promoted as v1
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    images.push_image(registry.url, dev, "v1", images.random_layers(2, 1000))
    client = _client(registry)
    copy_image(client, dev, "v1", client, prod, ["v1"])
    mark = registry.log_mark()

    # When it is copied again with tags v1 and stable
    result = copy_image(client, dev, "v1", client, prod, ["v1", "stable"])

    # Then only the stable tag was written
    assert result.tags_written == ("stable",) and not result.already_present
    assert [(e.method, e.path.rsplit("/", 1)[-1]) for e in _writes(registry.access_log(since=mark))] == [
        ("PUT", "stable")
    ]
    assert images.list_tags(registry.url, prod) == ["stable", "v1"]


def test_client_reads_tags_manifests_blobs_and_labels(registry: LocalRegistry, repo_name: RepoName) -> None:
    # Given an image with a revision label under five tags
    dev = repo_name("dev-app")
    pushed = images.push_image(
        registry.url, dev, "t0", images.random_layers(1, 100), labels={"org.opencontainers.image.revision": "abc123"}
    )
    for n in range(1, 5):
        images.put_manifest(registry.url, dev, f"t{n}", pushed.manifest, pushed.media_type)
    client = _client(registry)

    # Then tags are listed across pages, a manifest resolves to its descriptor, labels are readable
    assert sorted(client.list_tags(dev, page_size=2)) == ["t0", "t1", "t2", "t3", "t4"]
    found = client.resolve(dev, "t3")
    assert found is not None and (found.digest, found.size, found.media_type) == (
        pushed.digest,
        len(pushed.manifest),
        pushed.media_type,
    )
    assert client.resolve(dev, "missing") is None
    assert client.get_manifest(dev, pushed.digest).data == pushed.manifest
    assert image_labels(client, dev, "t0") == {"org.opencontainers.image.revision": "abc123"}
    with pytest.raises(RepositoryNotFound):
        client.list_tags(repo_name("nothing-here"))
    with pytest.raises(ImageNotFound):
        client.get_manifest(dev, "missing")
