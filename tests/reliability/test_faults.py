"""The fault matrix: every fault kind on every kind of registry request the copier makes, driven through the
real CLI (`promoter.cli.main`, in-process, with fast bounded retries) and real registries behind FaultProxy.

Transient (the first N matching requests fail): the copy exits 0 and the target holds the exact manifest bytes
(so the right digest) and every blob. Permanent (every matching request fails): exit 1, quickly, and the target
holds no manifest under the tag or the digest. Two permanent cases also run as a real subprocess with the
default retry policy, to bound the wall-clock time an operator would wait (< 120 s).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools import images
from devtools.eventfactory import push_event
from devtools.faultproxy import FaultProxy
from devtools.localregistry import LocalRegistry

ROOT = Path(__file__).resolve().parents[2]
RepoName = Callable[[str], str]
ProxyFactory = Callable[[LocalRegistry], FaultProxy]


@dataclass(frozen=True)
class Site:
    """Where a fault is injected: which side's proxy, which method, which path."""

    name: str
    side: str  # "source", "target", or "same" (one registry: blobs are mounted)
    method: str
    path: str


SITES = {
    site.name: site
    for site in (
        Site("blob-get", "source", "GET", r"/blobs/sha256:"),
        Site("upload-post", "target", "POST", r"/blobs/uploads/$"),
        Site("upload-put", "target", "PUT", r"/blobs/uploads/.+digest="),
        Site("mount-post", "same", "POST", r"mount="),
        Site("manifest-get", "source", "GET", r"/manifests/"),
        Site("manifest-put", "target", "PUT", r"/manifests/"),
    )
}
STATUS_FAULTS = ("503", "500", "429", "reset", "slow")
BODY_FAULTS = ("truncate", "corrupt")  # only where the answer has a body to break
SLOW_DELAY = 0.5  # > fast_policy().read_timeout: a stalled answer, abandoned and retried


def _cases(permanent: bool) -> list[tuple[str, str]]:
    cases = []
    for name in SITES:
        faults = STATUS_FAULTS + (BODY_FAULTS if name.endswith("-get") else ())
        for fault in faults:
            # A manifest PUT that stalls is still delivered later by the proxy: the registry then stores it
            # although the client gave up. That is the network's truth, not a product fault: not a permanent case.
            if permanent and fault == "slow" and name == "manifest-put":
                continue
            cases.append((name, fault))
    return cases


@dataclass
class Setup:
    source_repo: str
    target_repo: str
    target: LocalRegistry
    proxy: FaultProxy
    src_ref: str
    dst_ref: str
    pushed: images.PushedImage


def _setup(
    site: Site,
    registry: LocalRegistry,
    second_registry: LocalRegistry,
    repo_name: RepoName,
    fault_proxy: ProxyFactory,
) -> Setup:
    dev, prod = repo_name("dev-rel"), repo_name("prod-rel")
    pushed = images.push_image(registry.url, dev, "v1", [os.urandom(400_000), os.urandom(30_000)])
    if site.side == "same":
        proxy = fault_proxy(registry)
        return Setup(dev, prod, registry, proxy, f"{proxy.host}/{dev}:v1", f"{proxy.host}/{prod}:v1", pushed)
    if site.side == "source":
        proxy = fault_proxy(registry)
        target_host = second_registry.url.removeprefix("http://")
        return Setup(dev, prod, second_registry, proxy, f"{proxy.host}/{dev}:v1", f"{target_host}/{prod}:v1", pushed)
    proxy = fault_proxy(second_registry)
    source_host = registry.url.removeprefix("http://")
    return Setup(dev, prod, second_registry, proxy, f"{source_host}/{dev}:v1", f"{proxy.host}/{prod}:v1", pushed)


def settled_manifest(target: LocalRegistry, repository: str, reference: str) -> tuple[int, bytes]:
    """The target's manifest once the registry answers other than 5xx (for up to 10 s). After a stalled manifest
    PUT, the proxy still delivers the abandoned request late; while distribution applies that second, identical
    PUT, a GET of the tag can answer 500 (seen once in 10 tally runs). A 5xx says nothing about the stored image,
    a 404 or other bytes does: only the settled answer is judged."""
    deadline = time.monotonic() + 10
    while True:
        status, _, body = images.get_manifest(target.url, repository, reference)
        if status < 500 or time.monotonic() > deadline:
            return status, body
        time.sleep(0.1)


def assert_complete_copy(target: LocalRegistry, repository: str, pushed: images.PushedImage) -> None:
    status, body = settled_manifest(target, repository, "v1")
    assert status == 200, f"target manifest unreadable: HTTP {status}"
    assert body == pushed.manifest, "target manifest differs from the source's bytes"
    assert images.sha256_digest(body) == pushed.digest
    missing = [d for d in pushed.blobs if not images.blob_exists(target.url, repository, d)]
    assert not missing, f"manifest present but blobs missing: {missing}"


def assert_no_manifest(target: LocalRegistry, repository: str, pushed: images.PushedImage) -> None:
    assert images.get_manifest(target.url, repository, "v1")[0] == 404
    assert images.get_manifest(target.url, repository, pushed.digest)[0] == 404


@pytest.mark.parametrize(("site_name", "fault"), _cases(permanent=False))
def test_transient_fault_is_survived_with_the_right_digest(
    registry, second_registry, repo_name, fault_proxy, run_cli, site_name: str, fault: str
) -> None:
    # Given the first two matching requests fail (one for a stall, which costs a timeout each)
    site = SITES[site_name]
    setup = _setup(site, registry, second_registry, repo_name, fault_proxy)
    times = 1 if fault == "slow" else 2
    setup.proxy.inject(fault, method=site.method, path=site.path, times=times, delay=SLOW_DELAY)

    # When the CLI copies the image
    run = run_cli("copy", setup.src_ref, setup.dst_ref)

    # Then every fault was met, the copy succeeded and the target holds the exact image
    assert run.code == 0, run.err
    assert setup.proxy.injected[fault] == times
    assert setup.pushed.digest in run.out
    assert_complete_copy(setup.target, setup.target_repo, setup.pushed)


@pytest.mark.parametrize(("site_name", "fault"), _cases(permanent=True))
def test_permanent_fault_fails_cleanly_without_a_manifest(
    registry, second_registry, repo_name, fault_proxy, run_cli, site_name: str, fault: str
) -> None:
    # Given every matching request fails
    site = SITES[site_name]
    setup = _setup(site, registry, second_registry, repo_name, fault_proxy)
    setup.proxy.inject(fault, method=site.method, path=site.path, times=None, delay=SLOW_DELAY)

    # When the CLI copies the image
    run = run_cli("copy", setup.src_ref, setup.dst_ref)

    # Then it exits 1 with one line on stderr, within the bound, and wrote no manifest
    assert run.code == 1, (run.out, run.err)
    assert run.err.startswith("error: ") and "Traceback" not in run.err
    assert run.seconds < 120
    assert setup.proxy.injected[fault] >= 1
    assert_no_manifest(setup.target, setup.target_repo, setup.pushed)


def test_the_copier_never_sends_patch(registry, second_registry, repo_name, fault_proxy, run_cli) -> None:
    # Uploads are one monolithic PUT per blob: a PATCH fault site does not exist for this client.
    setup = _setup(SITES["upload-put"], registry, second_registry, repo_name, fault_proxy)
    setup.proxy.inject("503", method="PATCH", times=None)
    run = run_cli("copy", setup.src_ref, setup.dst_ref)
    assert run.code == 0, run.err
    assert setup.proxy.injected["503"] == 0
    assert_complete_copy(setup.target, setup.target_repo, setup.pushed)


@pytest.mark.parametrize(("site_name", "fault"), [("blob-get", "503"), ("manifest-put", "reset")])
def test_real_cli_with_default_retries_gives_up_within_120_s(
    registry, second_registry, repo_name, fault_proxy, site_name: str, fault: str
) -> None:
    # Given a permanent fault and the CLI as an operator runs it (default retry policy, real backoff)
    site = SITES[site_name]
    setup = _setup(site, registry, second_registry, repo_name, fault_proxy)
    setup.proxy.inject(fault, method=site.method, path=site.path, times=None)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'lambda_src'}:{ROOT}"}

    # When it copies
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "promoter", "copy", setup.src_ref, setup.dst_ref],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=130,
        check=False,
    )

    # Then exit 1 within 120 s, no traceback, no manifest
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert time.monotonic() - started < 120
    assert "Traceback" not in done.stderr
    assert setup.proxy.injected[fault] >= 2
    assert_no_manifest(setup.target, setup.target_repo, setup.pushed)


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
@pytest.mark.parametrize(("site_name", "fault"), [("mount-post", "503"), ("manifest-put", "reset")])
def test_handler_raises_for_a_lambda_retry_and_the_redelivery_promotes(
    promoter, repo_name, fault_proxy, monkeypatch: pytest.MonkeyPatch, site_name: str, fault: str
) -> None:
    from promoter.registry import RegistryClient, TransientRegistryError

    from .conftest import fast_policy

    # Given the function talks to its registry through a proxy where one kind of request always fails
    site = SITES[site_name]
    proxy = fault_proxy(promoter.registry)
    proxy.inject(fault, method=site.method, path=site.path, times=None)
    original = RegistryClient.for_endpoint.__func__
    monkeypatch.setattr(
        RegistryClient, "for_endpoint", classmethod(lambda cls, url, **kw: original(cls, url, retry=fast_policy()))
    )
    monkeypatch.setenv("REGISTRY_ENDPOINT", proxy.url)
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [{"name": "r", "source": dev, "target": prod}]})
    image = promoter.push(dev, "v1")
    event = push_event(dev, image.digest, "v1")

    # When the push event is delivered, Then the handler raises (Lambda retries; the failure destination keeps it)
    with pytest.raises(TransientRegistryError):
        promoter.invoke(event)
    assert promoter.target_digest(prod, "v1") is None
    assert not [i for i in promoter.ledger_items() if i["sk"]["S"].startswith("PROMOTED#")]

    # When the fault clears and Lambda delivers the event again, Then it is promoted, exactly
    proxy.clear()
    redelivered = promoter.invoke(event)
    assert [d["outcome"] for d in redelivered["decisions"]] == ["promoted"]
    assert promoter.target_digest(prod, "v1") == image.digest


def test_rate_limit_lets_the_rate_through_and_answers_429_with_retry_after_above_it(registry, fault_proxy) -> None:
    # Given a proxy that lets 5 manifest GETs per second through (the burst benchmark's quota stand-in)
    proxy = fault_proxy(registry)
    proxy.limit_rate(5, method="GET", path=r"/manifests/")

    # When 15 requests arrive at once, and more after a pause of one second
    started = time.monotonic()
    first = [images.get_manifest(proxy.url, "missing", "v1")[0] for _ in range(15)]
    refilled = math.ceil(5 * (time.monotonic() - started))  # tokens earned while the 15 were sent (machine load)
    with pytest.raises(urllib.error.HTTPError) as throttled:
        urllib.request.urlopen(f"{proxy.url}/v2/missing/manifests/v1", timeout=5)
    time.sleep(1.1)
    second = [images.get_manifest(proxy.url, "missing", "v1")[0] for _ in range(5)]

    # Then about one second's worth passed (404 from the registry), the rest were throttled, and the bucket refilled
    assert 5 <= first.count(404) <= 5 + refilled and first.count(429) == 15 - first.count(404), (first, refilled)
    assert (throttled.value.code, throttled.value.headers["Retry-After"]) == (429, "1")
    assert second.count(404) >= 4, second
    assert proxy.injected["429"] == first.count(429) + 1 + second.count(429)
