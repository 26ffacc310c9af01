"""`python -m promoter invoke --local FILE.json`: every console sample in events/ replays through the function's
entry point, with `--digest`/`--tag` putting a real local image in place of the placeholders."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devtools import images
from devtools.lambda_local import create_ledger_table
from devtools.localregistry import LocalRegistry
from promoter import cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "events").glob("*.json"))
SOURCE = "dev-microservice"  # the repository the samples and the shipped cdk.json policy name


@pytest.fixture
def local(fresh_registry: Callable[[], LocalRegistry], monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalRegistry]:
    """--local settings: a private registry (the samples' repository name is fixed), moto's DynamoDB, the
    shipped cdk.json policy (PROMOTION_POLICY unset)."""
    registry = fresh_registry()
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "PROMOTION_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("LEDGER_TABLE", "ledger")
    monkeypatch.setenv("REGISTRY_ENDPOINT", registry.url)
    with mock_aws():
        create_ledger_table(boto3.client("dynamodb", region_name="us-west-2"), "ledger")
        yield registry


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = cli.main(["invoke", "--local", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else {}, captured.err


@pytest.mark.parametrize("sample", SAMPLES, ids=[path.name for path in SAMPLES])
def test_every_console_sample_replays_locally(
    local: LocalRegistry, sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the sample's image, really present in the local registry
    pushed = images.push_image(local.url, SOURCE, "v1.0.0", images.random_layers(1, 512))
    with_digest = '"digest"' in sample.read_text() or '"image-digest"' in sample.read_text()

    # When the sample is replayed, its placeholder digest replaced by the real one
    code, response, err = invoke(capsys, str(sample), *(["--digest", pushed.digest] if with_digest else []))

    # Then the function answered it (no unreadable-input error) and the exit code follows the response
    assert "error" not in response, response
    assert code in (cli.EXIT_OK, cli.EXIT_PENDING, cli.EXIT_IGNORED), (code, response, err)
    digests = {decision["digest"] for decision in response["decisions"]}
    assert digests <= {pushed.digest, None}, digests


def test_tag_and_digest_are_substituted(local: LocalRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    # Given an image under another tag
    pushed = images.push_image(local.url, SOURCE, "v9.9.9", images.random_layers(1, 512))

    # When the push sample is replayed with --tag and --digest
    code, response, _ = invoke(
        capsys, str(ROOT / "events" / "ecr-push.json"), "--digest", pushed.digest, "--tag", "v9.9.9"
    )

    # Then the decision is about that image and tag (pending: the shipped policy wants tests and a scan)
    (decision,) = response["decisions"]
    assert code == cli.EXIT_PENDING
    assert decision["digest"] == pushed.digest and decision["tags"] == ["v9.9.9"] and decision["outcome"] == "pending"


def test_an_unreadable_file_is_a_usage_error(local: LocalRegistry, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "event.json"
    broken.write_text('{"action": "promote",\n "repository": }\n')

    code, _, err = invoke(capsys, str(broken))

    assert code == cli.EXIT_USAGE
    assert err == f"error: {broken}:2:16: Expecting value\n"


def test_an_unreadable_event_exits_1_with_the_functions_answer(local: LocalRegistry, tmp_path: Path, capsys) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "frobnicate"}))

    code, response, _ = invoke(capsys, str(event))

    assert code == cli.EXIT_FAILURE
    assert response["decisions"] == [] and response["error"]
