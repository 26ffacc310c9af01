"""`make demo` is part of `make test`: run it as a user would and check what it prints and how it exits.

Also the replication stand-in it uses (PREFIX_MATCH between two real registries).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from devtools import images
from devtools.localregistry import LocalRegistry

ROOT = Path(__file__).resolve().parents[2]
DEMO = [sys.executable, "-m", "devtools.demo"]

# One row per case of the scenario: image -> (outcome, mounted blobs, bytes moved, replicated?, VSA attached?)
EXPECTED_TABLE = {
    "dev-microservice:build-101": ("ignored", "-", "-", "no", "-"),
    "dev-microservice:build-102": ("ignored", "-", "-", "no", "-"),
    "dev-microservice:v1.0.0": ("promoted", "5", "0 B", "yes", "attested"),
    "dev-microservice:v1.1.0": ("rejected", "-", "-", "no", "-"),
    "dev-microservice:v1.2.0": ("rejected", "-", "-", "no", "-"),
    "dev-microservice:v1.0.0 (delivered twice)": ("already-promoted", "-", "-", "yes", "-"),
    "dev-microservice:v1.3.0": ("promoted", "5", "0 B", "yes", "attested"),
    "dev-microservice:v1.0.0 (rebuild)": ("conflict", "-", "-", "no", "-"),
    "dev-microservice:v1.5.0 (Inspector)": ("promoted", "5", "0 B", "yes", "attested"),
    "dev-microservice:v1.6.0 (Inspector)": ("rejected", "-", "-", "no", "-"),
    # config + 4 layers (amd64), config + layer (arm64), 2 attestation layers + their shared config
    "dev-microservice:v2.0.0 (index, 2 platforms)": ("promoted", "10", "0 B", "yes", "attested"),
    "dev-microservice:v1.7.0 (forged, unsigned)": ("ignored", "-", "-", "no", "-"),
    "dev-microservice:v1.7.0 (forged, another key)": ("ignored", "-", "-", "no", "-"),
    # dev-checkout -> staging-checkout -> prod-checkout: one hop per event, the last one approved
    "dev-checkout:v3.0.0 (-> staging)": ("promoted", "5", "0 B", "yes", "attested"),
    # 5 image blobs + 4 blobs of the staging VSA, which travels with the image as a referrer (mounted)
    "staging-checkout:v3.0.0 (-> prod, approved)": ("promoted", "9", "0 B", "yes", "attested"),
}


def demo_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "POWERTOOLS_"))}
    env.pop("PYTHONPATH", None)  # the demo must find lambda_src on its own, as `make demo` runs it
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def final_table(stdout: str) -> dict[str, tuple[str, ...]]:
    """The rows under `Final table`, keyed by image (columns are separated by two spaces or more)."""
    lines = stdout.split("Final table\n", 1)[1].splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == [
        "IMAGE",
        "DIGEST",
        "OUTCOME",
        "MOUNTED",
        "BYTES MOVED",
        "REPLICATED",
        "ATTESTATION",
    ]
    rows: dict[str, tuple[str, ...]] = {}
    for line in lines[2:]:
        if not line.strip():
            break
        image, digest, *rest = re.split(r"\s{2,}", line.strip())
        assert re.fullmatch(r"[0-9a-f]{12}", digest), line
        *columns, attestation = rest
        assert attestation == "-" or re.fullmatch(r"[0-9a-f]{12}", attestation), line
        rows[image] = (*columns, "-" if attestation == "-" else "attested")
    return rows


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_make_demo_plays_the_whole_scenario_and_every_expectation_holds() -> None:
    started = time.monotonic()
    done = subprocess.run(DEMO, cwd=ROOT, env=demo_env(), capture_output=True, text=True, timeout=90, check=False)
    elapsed = time.monotonic() - started

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr
    assert final_table(done.stdout) == EXPECTED_TABLE
    assert re.search(r"RESULT: OK: all \d+ expectations of the scenario held", done.stdout)
    assert "UNEXPECTED" not in done.stdout
    # The steps are printed as they happen, with the replication rule from cdk.json
    assert "PREFIX_MATCH 'prod-'" in done.stdout
    # A promotion mounts every blob of the image and uploads only its VSA's (envelope, `{}` once, .att config)
    assert (
        "dev registry access log: 5 cross-repository mounts (201), 3 blob uploads (the VSA's: "
        "vnd.oci.empty.v1+json, vnd.dsse.envelope.v1+json, vnd.oci.image.config.v1+json)"
    ) in done.stdout
    assert "production registry (444455556666): prod-checkout, prod-microservice\n" in done.stdout
    # Enhanced scanning: the Inspector event names the repository by its ARN
    assert "repository-name arn:aws:ecr:us-west-2:111122223333:repository/dev-microservice" in done.stdout
    # The index: pending on its arm64 image only, then every manifest and blob in both registries
    assert "dev registry access log: 10 cross-repository mounts (201), 2 blob uploads (the VSA's" in done.stdout
    for registry in ("dev", "production"):
        assert f"prod-microservice in the {registry} registry: the index, its 4 manifests and 10 blobs" in done.stdout
    # Signed CI results: forgeries are ignored with the reason, and nothing is recorded
    assert "test result not trusted: unsigned, and the policy trusts only results signed by arn:aws:kms:" in done.stdout
    assert "not signed by a trusted key" in done.stdout
    assert "tests recorded: none; pending" in done.stdout
    # The chain: the promotion's own push starts the next stage, which waits for e2e and a signed approval
    assert "ECR push of the promotion into staging-checkout    -> pending" in done.stdout
    assert "approval not trusted: not signed by a trusted key" in done.stdout
    assert re.search(r"approvals: approve by arn:aws:kms:\S+: release board: go", done.stdout)
    # A cosign signature pushed after the promotion follows v1.0.0 into prod-microservice, then production
    assert "referrers: 1 copied, 0 deferred; referrers re-synced" in done.stdout
    assert re.search(r"prod-microservice in the production registry: sha256-[0-9a-f]{12}….sig", done.stdout)
    # Events out: one Image Promoted per promotion (6: the duplicate delivery announced nothing twice)
    assert done.stdout.count("   Image Promoted: ") == 6
    # The bypass audit reports the direct push into prod-microservice once; the backfill finds v1.8.0
    assert re.search(r"scheduled run 1 .+-> Unrecorded Image events: prod-microservice@[0-9a-f]{12}\n", done.stdout)
    assert re.search(r"scheduled run 2 .+-> Unrecorded Image events: none\n", done.stdout)
    assert "dev-microservice:v1.8.0 -> pending" in done.stdout
    # The VSA reached production with the image; verify passes there, and fails on each tamper case
    for registry in ("dev", "production"):
        vsa = "a VSA (sha256-<hex> index + .att) for each promoted digest"
        assert f"prod-microservice in the {registry} registry: {vsa} (4)" in done.stdout
        assert f"prod-checkout in the {registry} registry: {vsa} (1)" in done.stdout
    assert re.search(r"verify v1.0.0 in production, the stack's key +-> exit 0: verified ", done.stdout)
    assert re.search(r"verify v1.0.0 in production, another key +-> exit 1: not verified: no signature", done.stdout)
    assert re.search(r"verify v9.9.9-rogue +-> exit 1: not verified: no attestation", done.stdout)
    assert re.search(r"VSA copied +-> exit 1: not verified: the signed statement is not about", done.stdout)
    assert elapsed < 60, f"the demo took {elapsed:.1f} s"


# `  <python> -m promoter <command> …   # exit N: …` as printed by --keep (devtools/demo/report.py drive_by_hand)
DOCUMENTED_COMMAND = re.compile(r"^  (\S+ -m promoter (\S+) .+?)\s+# exit (\d+): (.*)$")


def listening(url: str) -> bool:
    """Something accepts TCP connections at the URL's host and port (whatever it answers)."""
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=2):
            return True
    except OSError:
        return False


def read_until_ready(process: subprocess.Popen[str], seconds: float) -> str:
    """What the kept demo printed up to its `Press Ctrl-C` line (the last thing it prints before waiting)."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    return "".join(seen)


def documented_environment(output: str) -> dict[str, str]:
    from devtools.demo.report import exported

    found = [exported(line) for line in output.splitlines()]
    return dict(pair for pair in found if pair is not None)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_demo_keep_leaves_registries_and_ledger_up_to_drive_by_hand_then_removes_everything() -> None:
    # Given `make demo KEEP=1` has played the scenario and waits
    process = subprocess.Popen(
        [*DEMO, "--keep"], cwd=ROOT, env=demo_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        output = read_until_ready(process, 120)
        assert "RESULT: OK" in output, output[-3000:]
        dev_url = re.search(r"dev account \d+ registry:\s+(http://\S+)", output)
        prod_url = re.search(r"production account \d+ registry:\s+(http://\S+)", output)
        storage = re.search(r"storage: (\S+) ", output)
        assert dev_url and prod_url and storage, output
        assert f"skopeo inspect --tls-verify=false docker://{prod_url[1][7:]}/prod-microservice:v1.0.0" in output

        # Then both registries answer: production holds only prod-microservice
        with urllib.request.urlopen(f"{prod_url[1]}/v2/_catalog", timeout=5) as response:
            assert json.loads(response.read()) == {"repositories": ["prod-checkout", "prod-microservice"]}
        held = images.list_tags(prod_url[1], "prod-microservice")
        referrer_tags = [tag for tag in held if tag.startswith("sha256-")]
        # v1.0.0's cosign signature; an index and a .att per promoted digest (4), and the index the verify
        # scene planted on the image pushed straight into production
        assert sorted(tag.rsplit(".", 1)[-1] if "." in tag else "index" for tag in referrer_tags) == [
            *["att"] * 4,
            *["index"] * 5,
            "sig",
        ]
        assert [tag for tag in held if tag not in referrer_tags] == [
            "v1.0.0",
            "v1.3.0",
            "v1.5.0",
            "v2.0.0",
            "v9.9.9-rogue",
        ]
        assert "v1.2.0" in images.list_tags(dev_url[1], "dev-microservice")  # rejected: stays in dev

        # And it printed the environment and three commands, each with the exit code it should give
        environment = documented_environment(output)
        for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "LEDGER_TABLE"):
            assert environment.get(name), (name, output[-3000:])
        assert environment["REGISTRY_ENDPOINT"] == dev_url[1]
        assert listening(environment["AWS_ENDPOINT_URL"])  # the ledger
        commands = [match for line in output.splitlines() if (match := DOCUMENTED_COMMAND.match(line))]
        assert [match[2] for match in commands] == ["promote", "record-result", "status"], output[-3000:]

        # When a user runs them in that order, in another shell with those exports (nothing else from the demo)
        shell = {**demo_env(), **environment}
        for match in commands:
            done = subprocess.run(
                shlex.split(match[1]), cwd=ROOT, env=shell, capture_output=True, text=True, timeout=60, check=False
            )
            # Then each exits as documented, without a traceback
            assert done.returncode == int(match[3]), (match[1], done.stdout, done.stderr)
            assert "Traceback" not in done.stderr, done.stderr
        # And the image they finished is promoted, by the mounts of a same-registry copy
        assert "v1.4.0" in images.list_tags(dev_url[1], "prod-microservice")

        # When the user stops the demo
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)

        # Then it exits 0, the registries and the ledger are gone, and so is their storage
        assert process.returncode == 0, process.stderr.read() if process.stderr else ""
        assert not answers(f"{dev_url[1]}/v2/") and not answers(f"{prod_url[1]}/v2/")
        assert not listening(environment["AWS_ENDPOINT_URL"])
        assert not Path(storage[1]).exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_demo_without_a_registry_binary_says_why_and_exits_2() -> None:
    done = subprocess.run(
        DEMO,
        cwd=ROOT,
        env=demo_env(REGISTRY_BIN="/nonexistent/registry"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert "demo: cannot run: cannot start the dev registry" in done.stderr
    assert "REGISTRY_BIN" in done.stderr
    assert "Traceback" not in done.stderr


def test_replication_copies_exactly_the_prefix_repositories_by_digest_with_their_tags(
    fresh_registry: Callable[[], LocalRegistry],
) -> None:
    from devtools.replication import list_repositories, replicate

    source, destination = fresh_registry(), fresh_registry()
    shared = images.random_layers(2, 4096)
    released = images.push_image(source.url, "prod-app", "v1", [*shared, b"one"])
    images.put_manifest(source.url, "prod-app", "stable", released.manifest, released.media_type)
    later = images.push_image(source.url, "prod-app", "v2", [*shared, b"two"])
    longer = images.push_image(source.url, "prod-appx", "v1", [b"x"])  # PREFIX_MATCH prod- matches it too
    images.push_image(source.url, "dev-app", "v1", [b"dev"])
    images.push_image(source.url, "production-app", "v1", [b"no dash"])
    images.push_image(destination.url, "prod-appx", "v1", [b"already released differently"])

    report = replicate(source.url, destination.url, "prod-")

    assert report.replicated_repositories == ["prod-app", "prod-appx"]
    assert report.skipped_repositories == ["dev-app", "production-app"]
    assert list_repositories(destination.url) == ["prod-app", "prod-appx"]
    assert images.list_tags(destination.url, "prod-app") == ["stable", "v1", "v2"]
    for tag, image in (("v1", released), ("stable", released), ("v2", later)):
        status, _, body = images.get_manifest(destination.url, "prod-app", tag)
        assert (status, body) == (200, image.manifest)  # byte-exact, same digest
    # The destination tag that holds another digest is not moved: an error on that image only
    [conflict] = report.errors
    assert (conflict.repository, conflict.digest) == ("prod-appx", longer.digest)
    assert images.get_manifest(destination.url, "prod-appx", "v1")[2] != longer.manifest
    # Shared layers travel once; a second run finds everything already there
    assert sum(image.result.blobs_skipped for image in report.images if image.result) >= len(shared)
    again = replicate(source.url, destination.url, "prod-")
    assert not again.new_images and len(again.errors) == 1
