"""`make demo`: the ECR replication scenario end to end on one machine, with no AWS account.

    python -m devtools.demo [--keep] [--verbose]

Two real CNCF registries on loopback play the dev account's and the production account's ECR
registries; an in-process moto plays DynamoDB (the ledger). The real Lambda handler receives the
AWS-shaped events of the reference scenario in the order they happen (pushes, ECR scans, CI test
results, a duplicate delivery), promotes what qualifies from `dev-microservice` into
`prod-microservice` of the dev registry, and a local stand-in for ECR replication applies the
`PREFIX_MATCH` rule of cdk.json to ship `prod-…` repositories to the production registry.

The policy and the replication prefix come from cdk.json (one source of truth). Every outcome is
checked against what the scenario expects: exit 0 when all hold, 1 when one does not, 2 when the
demo cannot run (no registry binary, unreadable cdk.json, a policy that is not the scenario's).
`--keep` leaves both registries running after the scenario and prints how to look inside them.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from devtools import images
from devtools.eventfactory import ci_result_event, push_event, scan_event
from devtools.lambda_local import FakeContext, create_ledger_table
from devtools.localregistry import LocalRegistry, RegistryUnavailable, start_registry

ROOT = Path(__file__).resolve().parents[1]
LAMBDA_SRC = ROOT / "lambda_src"
CDK_JSON = ROOT / "cdk.json"

SOURCE_REPOSITORY = "dev-microservice"  # the blog's development repository
LEDGER_TABLE = "ecr-promoter-ledger"
FUNCTION_NAME = "ecr-promoter"
CI_URL = "https://ci.example/runs/"  # the `run-url` of CI test results
EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z: fixed timestamps make the image digests reproducible

EXIT_OK, EXIT_FAILED, EXIT_CANNOT_RUN, EXIT_INTERRUPTED = 0, 1, 2, 130

_DIGEST = re.compile(r"sha256:([0-9a-f]{12})[0-9a-f]{52}")


class CannotRun(Exception):
    """The demo cannot start (its message says why and what to do)."""


# ---------------------------------------------------------------------------------------------- output


def say(text: str = "") -> None:
    print(text, flush=True)


def short(digest: str | None) -> str:
    return digest[7:19] if digest and digest.startswith("sha256:") else (digest or "-")


def shorten_digests(text: str) -> str:
    return _DIGEST.sub(r"sha256:\1", text)


def human_bytes(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count / (1024 * 1024):.1f} MB"


# ---------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Scenario:
    """What the demo needs from cdk.json, checked against the reference scenario."""

    policy: dict[str, Any]
    replication_prefix: str
    source_account: str
    destination_account: str
    region: str
    target_repository: str
    tag_globs: tuple[str, ...]
    suites: tuple[str, ...]
    fail_on: tuple[str, ...]


def load_scenario(path: Path = CDK_JSON) -> Scenario:
    """Read the policy and replication prefix from cdk.json and check they describe the blog's scenario."""
    from promoter.policy import PolicyError, load_policy  # noqa: PLC0415 - lambda_src is put on sys.path first

    try:
        context = json.loads(path.read_text())["context"]
        raw_policy = context["promotion_policy"]
        prefix = context["replication_prefix"]
    except FileNotFoundError:
        raise CannotRun(f"{path} not found: the demo reads the policy and replication prefix from it") from None
    except (ValueError, KeyError, TypeError) as error:
        raise CannotRun(
            f"{path}: cannot read context.promotion_policy and context.replication_prefix ({error!r})"
        ) from None
    try:
        policy = load_policy(raw_policy)
    except PolicyError as error:
        raise CannotRun(f"{path}: {error}") from None
    matches = policy.rules_for(SOURCE_REPOSITORY)
    if len(matches) != 1:
        raise CannotRun(f"{path}: the scenario needs exactly one rule for {SOURCE_REPOSITORY}, found {len(matches)}")
    rule, target = matches[0]
    problems = []
    if not isinstance(prefix, str) or not prefix:
        problems.append("replication_prefix must be a non-empty string")
    elif not target.startswith(prefix) or SOURCE_REPOSITORY.startswith(prefix):
        problems.append(f"replication_prefix {prefix!r} must match {target} and not {SOURCE_REPOSITORY}")
    if rule.promotable_tags(["v1.0.0"]) != ("v1.0.0",) or rule.promotable_tags(["build-101"]):
        problems.append(f"tags {list(rule.tags)} must promote v1.0.0 and not build-101")
    if not rule.require.tests:
        problems.append("the rule must require a test suite")
    if rule.require.scan is None or "CRITICAL" not in rule.require.scan.fail_on:
        problems.append("the rule must require a scan failing on CRITICAL")
    if policy.allow_override:
        problems.append("allow_override must be false")
    if problems:
        raise CannotRun(f"{path}: the policy is not the reference scenario's: " + "; ".join(problems))
    source = context.get("source") or {}
    destination = context.get("destination") or {}
    return Scenario(
        policy=raw_policy,
        replication_prefix=prefix,
        source_account=str(source.get("account", "111122223333")),
        destination_account=str(destination.get("account", "444455556666")),
        region=str(source.get("region", "us-west-2")),
        target_repository=target,
        tag_globs=tuple(rule.tags),
        suites=tuple(rule.require.tests),
        fail_on=tuple(rule.require.scan.fail_on) if rule.require.scan else (),
    )


def configure_environment(scenario: Scenario, registry_endpoint: str, verbose: bool) -> None:
    """The function's environment as the stack sets it, plus fake credentials that only moto sees."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_ECR"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "PROMOTION_POLICY": json.dumps(scenario.policy),
            "LEDGER_TABLE": LEDGER_TABLE,
            "REGISTRY_ENDPOINT": registry_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": scenario.region,
            "AWS_REGION": scenario.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "POWERTOOLS_SERVICE_NAME": FUNCTION_NAME,
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_METRICS_NAMESPACE": "EcrPromoterDemo",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "INFO" if verbose else "WARNING",
        }
    )


# ---------------------------------------------------------------------------------------------- images


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


# ---------------------------------------------------------------------------------------------- the function


# ---------------------------------------------------------------------------------------------- the run


@dataclass
class Row:
    """One line of the final table: one case of the scenario and how it ended."""

    image: str
    tag: str | None  # the tag to look for in the production registry (None: a dev tag)
    digest: str
    outcome: str
    mounted: int | None = None
    moved: int | None = None
    replicated: str = "?"


@dataclass
class Demo:
    scenario: Scenario
    dev: LocalRegistry
    prod: LocalRegistry
    handler: Callable[[Any, Any], dict[str, Any]]
    verbose: bool = False
    failures: list[str] = field(default_factory=list)
    checks: int = 0
    rows: list[Row] = field(default_factory=list)
    shared: list[Layer] = field(default_factory=base_layers)

    @property
    def target(self) -> str:
        return self.scenario.target_repository

    # -- bookkeeping

    def expect(self, condition: bool, what: str) -> bool:
        self.checks += 1
        if not condition:
            what = shorten_digests(what)
            self.failures.append(what)
            say(f"     !! UNEXPECTED: {what}")
        return condition

    def record(self, image: str, tag: str | None, build: Build, decision: dict[str, Any] | None) -> None:
        copy = (decision or {}).get("copy") or {}
        outcome = str((decision or {}).get("outcome", "error"))
        self.rows.append(Row(image, tag, build.digest, outcome, copy.get("blobs_mounted"), copy.get("bytes_moved")))

    # -- steps

    def section(self, title: str) -> None:
        say()
        say(title)

    def push(self, build: str, tag: str) -> Build:
        pushed = push_build(self.dev.url, SOURCE_REPOSITORY, build, tag, self.shared)
        reused = pushed.blobs - pushed.uploaded
        shared = f", {reused} shared layers already there" if reused else ""
        say(
            f"   docker push {SOURCE_REPOSITORY}:{tag} ({build}, {short(pushed.digest)}, {human_bytes(pushed.size)}): "
            f"{pushed.uploaded} blobs uploaded{shared}"
        )
        return pushed

    def invoke(self, label: str, event: dict[str, Any], expected: str) -> dict[str, Any] | None:
        """Deliver one event to the handler, print its decision, check the outcome."""
        arn = f"arn:aws:lambda:{self.scenario.region}:{self.scenario.source_account}:function:{FUNCTION_NAME}"
        try:
            response = self.handler(
                event, FakeContext(function_name=FUNCTION_NAME, invoked_function_arn=arn, log_stream_name="demo")
            )
        except Exception as error:
            say(f"   {label:<44} -> ERROR")
            self.expect(False, f"{label}: the handler raised {type(error).__name__}: {error}")
            return None
        if self.verbose:
            say(json.dumps(response, indent=2))
        decisions = response.get("decisions") or []
        if response.get("error") or len(decisions) != 1:
            say(f"   {label:<44} -> ERROR")
            self.expect(False, f"{label}: expected one decision, got {json.dumps(response)[:300]}")
            return None
        decision: dict[str, Any] = decisions[0]
        outcome = str(decision.get("outcome"))
        copy = decision.get("copy")
        if outcome == "promoted" and copy:
            detail = (
                f"into {decision.get('target_repository')}:{','.join(decision.get('tags') or [])}: "
                f"{copy.get('blobs_mounted')} blobs mounted, {human_bytes(int(copy.get('bytes_moved') or 0))} moved"
            )
        else:
            detail = shorten_digests("; ".join(decision.get("reasons") or []))
        say(f"   {label:<44} -> {outcome:<17}{detail}")
        self.expect(outcome == expected, f"{label}: expected outcome {expected}, got {outcome} ({detail})")
        return decision

    def tests_pass(self, build: Build, label: str) -> tuple[str, dict[str, Any]]:
        """CI reports each required suite PASSED: every suite but the last is delivered here (the image
        stays pending); the last one's label and event are returned for the caller to deliver."""
        suites = self.scenario.suites
        for suite in suites[:-1]:
            event = ci_result_event(SOURCE_REPOSITORY, build.digest, suite, "PASSED", CI_URL + build.name)
            self.invoke(f"CI: {suite} PASSED for {label}", event, "pending")
        last = ci_result_event(SOURCE_REPOSITORY, build.digest, suites[-1], "PASSED", CI_URL + build.name)
        return f"CI: {suites[-1]} PASSED for {label}", last

    def promote_step(self, label: str, event: dict[str, Any], build: Build, tag: str) -> dict[str, Any] | None:
        """The event that should promote `build`: mounts only, zero bytes moved, byte-exact target."""
        mark = self.dev.log_mark()
        decision = self.invoke(label, event, "promoted")
        log = self.dev.access_log(mark)
        uploads = [entry for entry in log if entry.is_blob_upload]
        mounts = [entry for entry in log if entry.is_mount and entry.status == 201]
        say(f"     dev registry access log: {len(mounts)} cross-repository mounts (201), {len(uploads)} blob uploads")
        self.expect(not uploads, f"{label}: {len(uploads)} blob upload(s) during a same-registry promotion")
        copy = (decision or {}).get("copy") or {}
        self.expect(
            copy.get("blobs_mounted") == build.blobs == len(mounts) and copy.get("bytes_moved") == 0,
            f"{label}: expected {build.blobs} blobs mounted and 0 bytes moved, got {copy or 'no copy'}",
        )
        self.expect(
            decision is not None and decision.get("target_repository") == self.target and decision["tags"] == [tag],
            f"{label}: expected a promotion into {self.target}:{tag}",
        )
        self.expect(
            digest_of(self.dev.url, self.target, tag) == build.digest,
            f"{label}: {self.target}:{tag} in the dev registry is not {build.digest}",
        )
        return decision

    def replicate(self, expect_new: dict[str, str], expect_skipped: int | None = None) -> None:
        """Run the replication stand-in with the cdk.json prefix; check which images it shipped."""
        from devtools.replication import replicate  # noqa: PLC0415 - needs lambda_src on sys.path

        prefix = self.scenario.replication_prefix
        try:
            report = replicate(self.dev.url, self.prod.url, prefix)
        except Exception as error:
            self.expect(False, f"replication failed: {type(error).__name__}: {error}")
            return
        say(
            f"   ECR replication, PREFIX_MATCH {prefix!r} -> account {self.scenario.destination_account}: "
            f"replicates {', '.join(report.replicated_repositories) or 'nothing'}, "
            f"leaves {', '.join(report.skipped_repositories) or 'nothing'}"
        )
        for image in report.images:
            if image.error:
                say(f"     {image.repository}@{short(image.digest)}: ERROR {shorten_digests(image.error)}")
            elif image.result is not None and not image.result.already_present:
                result = image.result
                say(
                    f"     {image.repository}:{','.join(image.tags)} ({short(image.digest)}) -> production registry: "
                    f"{result.blobs_streamed} blobs streamed ({human_bytes(result.bytes_moved)}), "
                    f"{result.blobs_skipped} already there"
                )
        if not report.new_images and not report.errors:
            say("     nothing new to replicate")
        self.expect(not report.errors, f"replication errors: {[image.error for image in report.errors]}")
        shipped = {tag: image.digest for image in report.new_images for tag in image.tags}
        self.expect(shipped == expect_new, f"replication shipped {shipped}, expected {expect_new}")
        if expect_skipped is not None:
            skipped = sum(image.result.blobs_skipped for image in report.new_images if image.result is not None)
            self.expect(
                skipped == expect_skipped,
                f"replication should skip the {expect_skipped} shared layers already there, skipped {skipped}",
            )

    def replicated(self, row: Row) -> str:
        """Is this image in the production registry's target repository (under its tag)?"""
        if digest_of(self.prod.url, self.target, row.digest) != row.digest:
            return "no"
        if row.tag is not None and digest_of(self.prod.url, self.target, row.tag) == row.digest:
            return "yes"
        return "by digest"

    # -- the scenario, in the order things happen

    def run(self) -> None:
        dev, suites = SOURCE_REPOSITORY, self.scenario.suites
        clean = {"LOW": 2, "MEDIUM": 1}

        self.section(f"1. Developers iterate on {dev}: dev tags are never promoted")
        for name in ("build-101", "build-102"):
            build = self.push(name, name)
            decision = self.invoke(f"push event {name}", push_event(dev, build.digest, name), "ignored")
            self.record(f"{dev}:{name}", None, build, decision)

        self.section("2. build-103 is tagged v1.0.0: it waits for its scan and tests, then is promoted")
        b103 = self.push("build-103", "build-103")
        self.invoke("push event build-103", push_event(dev, b103.digest, "build-103"), "ignored")
        retag(self.dev.url, dev, b103.digest, "v1.0.0")
        say(f"   docker tag + push {dev}:v1.0.0 (the same image {short(b103.digest)}): no blob uploaded")
        self.invoke("push event v1.0.0", push_event(dev, b103.digest, "v1.0.0"), "pending")
        scan = scan_event(dev, b103.digest, clean, ["build-103", "v1.0.0"])
        self.invoke("ECR scan of v1.0.0: LOW 2, MEDIUM 1", scan, "pending")
        label, released = self.tests_pass(b103, "v1.0.0")
        decision = self.promote_step(label, released, b103, "v1.0.0")
        self.replicate({"v1.0.0": b103.digest})
        self.record(f"{dev}:v1.0.0", "v1.0.0", b103, decision)

        self.section(f"3. v1.1.0: its {suites[0]} tests FAILED, so it is rejected")
        b104 = self.push("build-104", "v1.1.0")
        self.invoke("push event v1.1.0", push_event(dev, b104.digest, "v1.1.0"), "pending")
        self.invoke("ECR scan of v1.1.0: LOW 2, MEDIUM 1", scan_event(dev, b104.digest, clean, ["v1.1.0"]), "pending")
        failed = ci_result_event(dev, b104.digest, suites[0], "FAILED", CI_URL + b104.name)
        decision = self.invoke(f"CI: {suites[0]} FAILED for v1.1.0", failed, "rejected")
        self.record(f"{dev}:v1.1.0", "v1.1.0", b104, decision)

        self.section("4. v1.2.0: its tests pass but the scan finds a CRITICAL vulnerability: rejected")
        b105 = self.push("build-105", "v1.2.0")
        self.invoke("push event v1.2.0", push_event(dev, b105.digest, "v1.2.0"), "pending")
        self.invoke(*self.tests_pass(b105, "v1.2.0"), "pending")
        scan = scan_event(dev, b105.digest, {"CRITICAL": 1, "HIGH": 3}, ["v1.2.0"])
        decision = self.invoke("ECR scan of v1.2.0: CRITICAL 1, HIGH 3", scan, "rejected")
        self.record(f"{dev}:v1.2.0", "v1.2.0", b105, decision)

        self.section("5. EventBridge delivers the v1.0.0 test result a second time (at-least-once delivery)")
        decision = self.invoke(f"the same event again (id {released['id'][:8]})", released, "already-promoted")
        self.record(f"{dev}:v1.0.0 (delivered twice)", "v1.0.0", b103, decision)

        self.section("6. v1.3.0: the test result comes before the scan; the scan completes its gates")
        b106 = self.push("build-106", "v1.3.0")
        self.invoke("push event v1.3.0", push_event(dev, b106.digest, "v1.3.0"), "pending")
        self.invoke(*self.tests_pass(b106, "v1.3.0"), "pending")
        scan = scan_event(dev, b106.digest, {"LOW": 1}, ["v1.3.0"])
        decision = self.promote_step("ECR scan of v1.3.0: LOW 1", scan, b106, "v1.3.0")
        self.replicate({"v1.3.0": b106.digest}, expect_skipped=len(self.shared))
        self.record(f"{dev}:v1.3.0", "v1.3.0", b106, decision)

        self.section("7. A rebuild is pushed as v1.0.0 and passes its gates: the production tag does not move")
        b107 = self.push("build-107", "v1.0.0")
        self.invoke("push event v1.0.0 (rebuild)", push_event(dev, b107.digest, "v1.0.0"), "pending")
        scan = scan_event(dev, b107.digest, {"LOW": 1}, ["v1.0.0"])
        self.invoke("ECR scan of the rebuild: LOW 1", scan, "pending")
        decision = self.invoke(*self.tests_pass(b107, "the rebuild"), "conflict")
        self.record(f"{dev}:v1.0.0 (rebuild)", "v1.0.0", b107, decision)
        self.expect(
            decision is not None and any(b103.digest in reason for reason in decision.get("reasons") or []),
            f"the conflict should name the digest {self.target}:v1.0.0 holds ({b103.digest})",
        )

        self.section("8. Replication runs again; what each account's registry holds")
        self.replicate({})
        self.verify_registries(promoted={"v1.0.0": b103.digest, "v1.3.0": b106.digest})
        for row in self.rows:
            row.replicated = self.replicated(row)
            wanted = "yes" if row.outcome in {"promoted", "already-promoted"} else "no"
            self.expect(row.replicated == wanted, f"{row.image}: replicated? {row.replicated}, expected {wanted}")

    def verify_registries(self, promoted: dict[str, str]) -> None:
        """Only prefix repositories reached production, holding exactly the promoted digests, byte for byte."""
        from devtools.replication import list_repositories  # noqa: PLC0415 - needs lambda_src on sys.path

        failed_before = len(self.failures)
        prefix = self.scenario.replication_prefix
        dev_repos, prod_repos = list_repositories(self.dev.url), list_repositories(self.prod.url)
        say(f"   dev registry ({self.scenario.source_account}):        {', '.join(dev_repos)}")
        say(f"   production registry ({self.scenario.destination_account}): {', '.join(prod_repos) or 'nothing'}")
        self.expect(
            prod_repos == [repo for repo in dev_repos if repo.startswith(prefix)] == [self.target],
            f"the production registry should hold exactly {self.target}, it holds {prod_repos}",
        )
        self.expect(
            SOURCE_REPOSITORY not in prod_repos and not images.list_tags(self.prod.url, SOURCE_REPOSITORY),
            f"{SOURCE_REPOSITORY} reached the production registry",
        )
        for registry, name in ((self.dev, "dev"), (self.prod, "production")):
            held = {
                tag: digest_of(registry.url, self.target, tag) for tag in images.list_tags(registry.url, self.target)
            }
            shown = ", ".join(f"{tag} {short(digest)}" for tag, digest in held.items())
            say(f"   {self.target} in the {name} registry: {shown or 'nothing'}")
            self.expect(held == promoted, f"{self.target} in the {name} registry holds {held}, expected {promoted}")
        for tag, digest in promoted.items():
            _, _, source_bytes = images.get_manifest(self.dev.url, SOURCE_REPOSITORY, digest)
            _, _, prod_bytes = images.get_manifest(self.prod.url, self.target, tag)
            self.expect(source_bytes == prod_bytes, f"{self.target}:{tag} is not byte-identical to the dev image")
        if failed_before == len(self.failures):
            say(f"   {SOURCE_REPOSITORY} is not in the production registry; {self.target} has the same digests in both")

    # -- the final table

    def table(self) -> list[str]:
        headers = ("IMAGE", "DIGEST", "OUTCOME", "MOUNTED", "BYTES MOVED", "REPLICATED")
        cells = [
            (
                row.image,
                short(row.digest),
                row.outcome,
                "-" if row.mounted is None else str(row.mounted),
                "-" if row.moved is None else human_bytes(row.moved),
                row.replicated,
            )
            for row in self.rows
        ]
        widths = [max(len(line[i]) for line in [headers, *cells]) for i in range(len(headers))]
        lines = ["  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)) for line in cells]
        header = "  ".join(value.ljust(width) for value, width in zip(headers, widths, strict=True))
        return [header.rstrip(), "  ".join("-" * width for width in widths), *(line.rstrip() for line in lines)]


# ---------------------------------------------------------------------------------------------- entry point


def _look_inside(dev: LocalRegistry, prod: LocalRegistry, target: str) -> list[str]:
    accept = "Accept: application/vnd.oci.image.manifest.v1+json"
    return [
        "",
        "The registries keep running (--keep). Look inside:",
        f"  curl -s {dev.url}/v2/_catalog                 # dev account: {SOURCE_REPOSITORY}, {target}",
        f"  curl -s {prod.url}/v2/_catalog                 # production account: {target} only",
        f"  curl -s {dev.url}/v2/{SOURCE_REPOSITORY}/tags/list",
        f"  curl -s {prod.url}/v2/{target}/tags/list",
        f"  curl -s -H '{accept}' {prod.url}/v2/{target}/manifests/v1.0.0",
        f"  skopeo inspect --tls-verify=false docker://{prod.host}/{target}:v1.0.0",
        f"  skopeo inspect --tls-verify=false --raw docker://{dev.host}/{SOURCE_REPOSITORY}:v1.2.0",
        f"  skopeo list-tags --tls-verify=false docker://{dev.host}/{SOURCE_REPOSITORY}",
        f"  storage: {dev.workdir.parent} (dev/ and production/: config, data, access log)",
        "Press Ctrl-C to stop them and remove their storage.",
    ]


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _use_lambda_source() -> None:
    if str(LAMBDA_SRC) not in sys.path:
        sys.path.insert(0, str(LAMBDA_SRC))


def _start(stack: ExitStack, workdir: Path, name: str) -> LocalRegistry:
    try:
        registry = start_registry(workdir / name)
    except (RegistryUnavailable, OSError) as error:
        raise CannotRun(
            f"cannot start the {name} registry ({error}); `make demo` installs Debian's docker-registry, "
            "or set REGISTRY_BIN to a CNCF distribution `registry` binary"
        ) from None
    stack.callback(registry.stop)
    return registry


def run_demo(args: argparse.Namespace, stack: ExitStack) -> int:
    started = time.monotonic()
    _use_lambda_source()
    scenario = load_scenario()
    workdir = Path(tempfile.mkdtemp(prefix="ecr-promoter-demo-"))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)  # runs last: after both registries stopped
    dev, prod = _start(stack, workdir, "dev"), _start(stack, workdir, "production")
    configure_environment(scenario, dev.url, args.verbose)
    from moto import mock_aws  # noqa: PLC0415 - after the fake credentials are in the environment

    stack.enter_context(mock_aws())
    import boto3  # noqa: PLC0415 - imported inside mock_aws, after the fake credentials are set

    create_ledger_table(boto3.client("dynamodb", region_name=scenario.region), LEDGER_TABLE)
    from promoter import handler  # noqa: PLC0415 - reads its environment at import

    handler._services.cache_clear()
    stack.callback(handler._services.cache_clear)

    rule = f"{SOURCE_REPOSITORY} -> {scenario.target_repository}, tags {' '.join(scenario.tag_globs)}"
    gates = f"tests {', '.join(scenario.suites)} PASSED, scan without {'/'.join(scenario.fail_on)}"
    say("ecr-promoter demo: the ECR replication scenario on this machine (no AWS account, no Docker)")
    say(f"   dev account {scenario.source_account} registry:          {dev.url}")
    say(f"   production account {scenario.destination_account} registry:   {prod.url}")
    say(f"   ledger: DynamoDB table {LEDGER_TABLE} (moto, in this process)")
    say(f"   policy (cdk.json): {rule}; requires {gates}")
    say(f"   replication (cdk.json): PREFIX_MATCH {scenario.replication_prefix!r} -> {scenario.destination_account}")

    demo = Demo(scenario, dev, prod, handler.lambda_handler, verbose=args.verbose)
    try:
        demo.run()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:
        if args.verbose:
            import traceback  # noqa: PLC0415

            traceback.print_exc()
        demo.failures.append(f"the scenario stopped: {type(error).__name__}: {error}")
    elapsed = time.monotonic() - started

    say()
    say("Final table")
    for line in demo.table():
        say(f"   {line}")
    say()
    if demo.failures:
        say(f"RESULT: FAILED: {len(demo.failures)} of {demo.checks} expectations did not hold ({elapsed:.1f} s):")
        for failure in demo.failures:
            say(f"   - {failure}")
        print(f"demo: FAILED ({len(demo.failures)} expectation(s) did not hold, see above)", file=sys.stderr)
    else:
        say(f"RESULT: OK: all {demo.checks} expectations of the scenario held, in {elapsed:.1f} s")
    code = EXIT_FAILED if demo.failures else EXIT_OK
    if args.keep:
        for line in _look_inside(dev, prod, scenario.target_repository):
            say(line)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            say("stopping the registries")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the registries running until Ctrl-C")
    parser.add_argument("--verbose", action="store_true", help="print every handler response and its logs")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _terminate)
    stack = ExitStack()
    try:
        return run_demo(args, stack)
    except CannotRun as error:
        print(f"demo: cannot run: {error}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        # Nothing may interrupt the clean-up: stop both registries and remove their storage.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
