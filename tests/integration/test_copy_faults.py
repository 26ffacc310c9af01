"""Faults between the copier and real registries (through devtools.faultproxy): transient ones are survived
with the right digest; permanent ones fail cleanly, with no manifest in the target, after a bounded number
of tries (backoff delays are recorded, not slept)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from devtools import images
from devtools.faultproxy import FaultProxy
from devtools.localregistry import LocalRegistry
from promoter.registry import (
    DigestMismatch,
    RegistryClient,
    RetryPolicy,
    TransientRegistryError,
    copy_image,
)

from .conftest import RecordedSleeps

RepoName = Callable[[str], str]
ProxyFactory = Callable[[LocalRegistry], FaultProxy]
BLOB_GET = r"/blobs/sha256:"
UPLOAD_PUT = r"/blobs/uploads/.+digest="


def _image(registry: LocalRegistry, repo_name: RepoName) -> tuple[str, images.PushedImage]:
    dev = repo_name("dev-app")
    return dev, images.push_image(registry.url, dev, "v1", [os.urandom(1_500_000), os.urandom(20_000)])


def _assert_copied(target: LocalRegistry, repository: str, pushed: images.PushedImage) -> None:
    assert images.get_manifest(target.url, repository, "v1")[2] == pushed.manifest
    for digest in pushed.blobs:
        assert images.blob_exists(target.url, repository, digest)


def _assert_no_manifest(target: LocalRegistry, repository: str, pushed: images.PushedImage) -> None:
    assert images.get_manifest(target.url, repository, "v1")[0] == 404
    assert images.get_manifest(target.url, repository, pushed.digest)[0] == 404


@pytest.mark.parametrize(
    ("fault", "times"),
    [("503", 2), ("500", 1), ("429", 1), ("reset", 2), ("truncate", 1), ("corrupt", 2)],
)
def test_transient_faults_on_blob_downloads_are_survived(
    registry: LocalRegistry,
    second_registry: LocalRegistry,
    repo_name: RepoName,
    fault_proxy: ProxyFactory,
    fast_retry: RetryPolicy,
    fault: str,
    times: int,
) -> None:
    # Given the source registry behind a proxy that breaks the first blob downloads
    dev, pushed = _image(registry, repo_name)
    proxy = fault_proxy(registry)
    proxy.inject(fault, method="GET", path=BLOB_GET, times=times)
    prod = repo_name("prod-app")

    # When the image is copied to another registry
    result = copy_image(
        RegistryClient(proxy.url, retry=fast_retry),
        dev,
        "v1",
        RegistryClient(second_registry.url, retry=fast_retry),
        prod,
        ["v1"],
    )

    # Then every fault was injected, and the image arrived intact under its digest
    assert proxy.injected[fault] == times
    assert result.digest == pushed.digest and result.blobs_streamed == len(pushed.blobs)
    _assert_copied(second_registry, prod, pushed)


def test_retry_after_of_a_429_is_honoured(
    registry: LocalRegistry,
    second_registry: LocalRegistry,
    repo_name: RepoName,
    fault_proxy: ProxyFactory,
    sleeps: RecordedSleeps,
) -> None:
    # Given a source that throttles the manifest read once with Retry-After: 3
    dev, pushed = _image(registry, repo_name)
    proxy = fault_proxy(registry)
    proxy.inject("429", method="GET", path=r"/manifests/v1$", retry_after="3")
    policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, max_retry_after=10, sleep=sleeps)

    # When the image is copied
    result = copy_image(
        RegistryClient(proxy.url, retry=policy),
        dev,
        "v1",
        RegistryClient(second_registry.url, retry=policy),
        repo_name("prod"),
    )

    # Then the client waited what the registry asked before trying again
    assert sleeps == [3.0]
    assert result.digest == pushed.digest


def test_a_stalled_download_times_out_and_is_retried(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName, fault_proxy: ProxyFactory
) -> None:
    # Given a source whose first blob download stalls longer than the read timeout
    dev, pushed = _image(registry, repo_name)
    proxy = fault_proxy(registry)
    proxy.inject("slow", method="GET", path=BLOB_GET, delay=0.6)
    policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, read_timeout=0.2, sleep=lambda _: None)
    prod = repo_name("prod-app")

    # When the image is copied, Then the stalled request was abandoned and retried
    result = copy_image(
        RegistryClient(proxy.url, retry=policy),
        dev,
        "v1",
        RegistryClient(second_registry.url, retry=policy),
        prod,
        ["v1"],
    )
    assert proxy.injected["slow"] == 1 and result.digest == pushed.digest
    _assert_copied(second_registry, prod, pushed)


@pytest.mark.parametrize(
    ("fault", "method", "path"),
    [
        ("reset", "GET", r"/manifests/"),
        ("truncate", "GET", r"/manifests/"),
        ("corrupt", "GET", r"/manifests/"),
        ("503", "HEAD", r"/manifests/"),
    ],
)
def test_transient_faults_on_manifest_requests_are_survived(
    registry: LocalRegistry,
    second_registry: LocalRegistry,
    repo_name: RepoName,
    fault_proxy: ProxyFactory,
    fast_retry: RetryPolicy,
    fault: str,
    method: str,
    path: str,
) -> None:
    # Given both registries behind proxies: the source resets a manifest read, the target fails a tag check
    dev, pushed = _image(registry, repo_name)
    source_proxy, target_proxy = fault_proxy(registry), fault_proxy(second_registry)
    (source_proxy if method == "GET" else target_proxy).inject(fault, method=method, path=path)
    prod = repo_name("prod-app")

    # When the image is copied, Then it arrives intact
    result = copy_image(
        RegistryClient(source_proxy.url, retry=fast_retry),
        dev,
        "v1",
        RegistryClient(target_proxy.url, retry=fast_retry),
        prod,
        ["v1"],
    )
    assert result.digest == pushed.digest
    assert source_proxy.injected[fault] + target_proxy.injected[fault] == 1
    _assert_copied(second_registry, prod, pushed)


@pytest.mark.parametrize("fault", ["reset", "500"])
def test_a_broken_upload_restarts_with_a_new_session(
    registry: LocalRegistry,
    second_registry: LocalRegistry,
    repo_name: RepoName,
    fault_proxy: ProxyFactory,
    fast_retry: RetryPolicy,
    fault: str,
) -> None:
    # Given a target whose first blob upload breaks (connection reset or 500 on the PUT)
    dev, pushed = _image(registry, repo_name)
    proxy = fault_proxy(second_registry)
    proxy.inject(fault, method="PUT", path=UPLOAD_PUT)
    prod = repo_name("prod-app")

    # When the image is copied
    result = copy_image(
        RegistryClient(registry.url, retry=fast_retry),
        dev,
        "v1",
        RegistryClient(proxy.url, retry=fast_retry),
        prod,
        ["v1"],
    )

    # Then the failed blob was uploaded again through a fresh upload session, and the image is intact
    sessions = proxy.requests_matching("POST", r"/blobs/uploads/$")
    assert len(sessions) == len(pushed.blobs) + 1
    assert result.digest == pushed.digest
    _assert_copied(second_registry, prod, pushed)


def test_transient_faults_on_mounts_are_survived(
    registry: LocalRegistry, repo_name: RepoName, fault_proxy: ProxyFactory, fast_retry: RetryPolicy
) -> None:
    # Given one registry behind a proxy that fails a mount with 503 and resets another
    dev, pushed = _image(registry, repo_name)
    proxy = fault_proxy(registry)
    proxy.inject("503", method="POST", path=r"mount=")
    proxy.inject("reset", method="POST", path=r"mount=")
    client = RegistryClient(proxy.url, retry=fast_retry)
    prod = repo_name("prod-app")

    # When the image is copied within it, Then every blob is still mounted (never uploaded)
    result = copy_image(client, dev, "v1", client, prod, ["v1"])
    assert result.blobs_mounted == len(pushed.blobs) and result.blobs_streamed == 0
    assert proxy.injected["503"] == 1 and proxy.injected["reset"] == 1
    _assert_copied(registry, prod, pushed)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("503", TransientRegistryError),
        ("reset", TransientRegistryError),
        ("truncate", TransientRegistryError),
        ("corrupt", DigestMismatch),
    ],
)
def test_permanent_blob_faults_fail_cleanly_after_bounded_tries(
    registry: LocalRegistry,
    second_registry: LocalRegistry,
    repo_name: RepoName,
    fault_proxy: ProxyFactory,
    fast_retry: RetryPolicy,
    sleeps: RecordedSleeps,
    fault: str,
    error: type[Exception],
) -> None:
    # Given a source whose large layer never downloads correctly
    dev, pushed = _image(registry, repo_name)
    big = next(d for d, data in pushed.blobs.items() if len(data) == 1_500_000)
    proxy = fault_proxy(registry)
    proxy.inject(fault, method="GET", path=big, times=None)
    prod = repo_name("prod-app")

    # When the image is copied
    with pytest.raises(error):
        copy_image(
            RegistryClient(proxy.url, retry=fast_retry),
            dev,
            "v1",
            RegistryClient(second_registry.url, retry=fast_retry),
            prod,
            ["v1"],
        )

    # Then it gave up after the policy's number of tries, and no manifest reached the target
    assert proxy.injected[fault] == fast_retry.attempts
    assert len(sleeps) == fast_retry.attempts - 1
    _assert_no_manifest(second_registry, prod, pushed)


def test_permanent_manifest_put_failure_leaves_no_manifest(
    registry: LocalRegistry,
    second_registry: LocalRegistry,
    repo_name: RepoName,
    fault_proxy: ProxyFactory,
    fast_retry: RetryPolicy,
) -> None:
    # Given a target that answers 500 to every manifest PUT
    dev, pushed = _image(registry, repo_name)
    proxy = fault_proxy(second_registry)
    proxy.inject("500", method="PUT", path=r"/manifests/", times=None)
    prod = repo_name("prod-app")

    # When the image is copied, Then a TransientRegistryError (for Lambda to retry) says so, with the status
    with pytest.raises(TransientRegistryError) as caught:
        copy_image(
            RegistryClient(registry.url, retry=fast_retry),
            dev,
            "v1",
            RegistryClient(proxy.url, retry=fast_retry),
            prod,
            ["v1"],
        )
    assert caught.value.status == 500
    assert proxy.injected["500"] == fast_retry.attempts
    _assert_no_manifest(second_registry, prod, pushed)


def test_a_manifest_that_never_reads_back_intact_fails_with_digest_mismatch(
    registry: LocalRegistry,
    second_registry: LocalRegistry,
    repo_name: RepoName,
    fault_proxy: ProxyFactory,
    fast_retry: RetryPolicy,
) -> None:
    # Given a source that corrupts every manifest it serves
    dev, pushed = _image(registry, repo_name)
    proxy = fault_proxy(registry)
    proxy.inject("corrupt", method="GET", path=r"/manifests/", times=None)
    prod = repo_name("prod-app")

    # When the image is copied, Then the mismatch is reported after the policy's tries and nothing is written
    with pytest.raises(DigestMismatch):
        copy_image(
            RegistryClient(proxy.url, retry=fast_retry),
            dev,
            "v1",
            RegistryClient(second_registry.url, retry=fast_retry),
            prod,
            ["v1"],
        )
    assert proxy.injected["corrupt"] == fast_retry.attempts
    _assert_no_manifest(second_registry, prod, pushed)
