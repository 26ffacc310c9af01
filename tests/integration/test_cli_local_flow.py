"""The README's local operator flow, run by its documented commands: the shipped policy (cdk.json: tests
`integration` and a scan without CRITICAL findings) driven end to end with `--local`, each exit code as the
README says. A moto server stands in for the ledger `make local` leaves running, as the README's exports say."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from devtools import images
from devtools.lambda_local import create_ledger_table
from devtools.localregistry import LocalRegistry, free_port
from promoter import cli

ROOT = Path(__file__).resolve().parents[2]
SOURCE, TARGET = "dev-microservice", "prod-microservice"  # the shipped cdk.json policy's rule
PLACEHOLDER = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678"  # in events/*.json


@pytest.fixture
def local_env(fresh_registry: Callable[[], LocalRegistry], tmp_path: Path) -> Iterator[dict[str, str]]:
    """What the README's `export …` lines set: a private registry, a moto ledger with its table, dummy keys."""
    registry = fresh_registry()  # its own registry: the shipped policy's repository names are fixed
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PYTHONPATH": "lambda_src:.",
            "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_DEFAULT_REGION": "us-west-2",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "LEDGER_TABLE": f"ecr-promoter-ledger-{uuid.uuid4().hex[:8]}",  # moto servers share state in-process
            "REGISTRY_ENDPOINT": registry.url,
        }
        dynamodb = boto3.client(
            "dynamodb",
            region_name="us-west-2",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        create_ledger_table(dynamodb, env["LEDGER_TABLE"])
        yield env
    finally:
        server.stop()


def promoter(env: dict[str, str], command: str) -> subprocess.CompletedProcess[str]:
    """`python -m promoter COMMAND` from the checkout root, as the README writes it."""
    return subprocess.run(
        [sys.executable, "-m", "promoter", *command.split()],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def push(env: dict[str, str], repository: str, tag: str) -> images.PushedImage:
    return images.push_image(env["REGISTRY_ENDPOINT"], repository, tag, images.random_layers(2, 1024))


def target_digest(env: dict[str, str], tag: str) -> str | None:
    status, _, body = images.get_manifest(env["REGISTRY_ENDPOINT"], TARGET, tag)
    return images.sha256_digest(body) if status == 200 else None


def test_the_readme_local_flow_promotes_once_tests_and_scan_pass(local_env: dict[str, str]) -> None:
    # Given a release image in the dev repository (as `docker push` would leave it)
    image = push(local_env, SOURCE, "v1.0.0")

    # When the operator follows the README, Then each command exits as documented
    pending = promoter(local_env, f"promote --local {SOURCE}:v1.0.0")
    assert pending.returncode == cli.EXIT_PENDING, pending.stderr
    assert "tests: integration has no result yet" in pending.stdout and "scan: no completed scan yet" in pending.stdout

    status = promoter(local_env, f"status --local {SOURCE}:v1.0.0")
    assert status.returncode == cli.EXIT_OK and status.stdout.startswith(f"{SOURCE}@{image.digest}")

    replayed = promoter(local_env, f"invoke --local events/ecr-push.json --digest {image.digest}")
    assert replayed.returncode == cli.EXIT_PENDING, replayed.stderr
    assert json.loads(replayed.stdout)["decisions"][0]["outcome"] == "pending"

    tested = promoter(local_env, f"record-result --local {SOURCE}@{image.digest} --suite integration --result PASSED")
    assert tested.returncode == cli.EXIT_PENDING and "scan: no completed scan yet" in tested.stdout

    scanned = promoter(local_env, f"record-scan --local {SOURCE}:v1.0.0 --high 1")
    assert scanned.returncode == cli.EXIT_OK, scanned.stdout + scanned.stderr
    assert scanned.stdout.startswith("promoted") and target_digest(local_env, "v1.0.0") == image.digest

    again = promoter(local_env, f"promote --local {SOURCE}:v1.0.0")
    assert again.returncode == cli.EXIT_OK and again.stdout.startswith("already-promoted")
    final = promoter(local_env, f"status --local {SOURCE}:v1.0.0")
    assert final.returncode == cli.EXIT_OK and f"promoted to {TARGET}:v1.0.0" in final.stdout


def test_a_critical_finding_rejects_and_a_taken_tag_conflicts(local_env: dict[str, str]) -> None:
    # Given two release images: one with a CRITICAL finding, one whose tag prod already holds for another image
    bad = push(local_env, SOURCE, "v2.0.0")
    taken = push(local_env, SOURCE, "v3.0.0")
    push(local_env, TARGET, "v3.0.0")
    for image in (bad, taken):
        passed = promoter(
            local_env, f"record-result --local {SOURCE}@{image.digest} --suite integration --result PASSED"
        )
        assert passed.returncode == cli.EXIT_PENDING, passed.stderr

    # When their scans are recorded
    rejected = promoter(local_env, f"record-scan --local {SOURCE}@{bad.digest} --critical 1")
    conflict = promoter(local_env, f"record-scan --local {SOURCE}:v3.0.0")

    # Then: rejected (exit 5) and conflict (exit 3), and prod's tags are untouched
    assert rejected.returncode == cli.EXIT_REJECTED and "CRITICAL" in rejected.stdout
    assert conflict.returncode == cli.EXIT_CONFLICT and conflict.stdout.startswith("conflict")
    assert target_digest(local_env, "v2.0.0") is None and target_digest(local_env, "v3.0.0") != taken.digest


def test_invoke_rejects_a_substitution_the_sample_has_no_field_for(local_env: dict[str, str]) -> None:
    result = promoter(local_env, f"invoke --local events/manual-reconcile.json --digest {PLACEHOLDER}")

    assert result.returncode == cli.EXIT_USAGE
    assert result.stderr == "error: --digest: events/manual-reconcile.json has no digest field to replace\n"


def test_record_scan_needs_local_mode(local_env: dict[str, str]) -> None:
    deployed = promoter(local_env, f"record-scan {SOURCE}:v1.0.0 --critical 1")
    without_registry = promoter(
        {k: v for k, v in local_env.items() if k != "REGISTRY_ENDPOINT"}, f"record-scan --local {SOURCE}:v1.0.0"
    )

    assert deployed.returncode == without_registry.returncode == cli.EXIT_USAGE
    assert deployed.stderr.startswith("error: record-scan needs --local") and "Traceback" not in deployed.stderr
    assert without_registry.stderr.startswith("error: record-scan --local needs REGISTRY_ENDPOINT")
