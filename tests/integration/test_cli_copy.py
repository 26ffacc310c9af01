"""`python -m promoter copy SRC DST`: what an operator sees, and the exit codes scripts rely on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from devtools import images
from devtools.localregistry import LocalRegistry
from promoter.cli import main

RepoName = Callable[[str], str]
ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lambda_src")}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=60, check=False, cwd=ROOT
    )


def test_copy_prints_a_summary_and_exits_zero(
    registry: LocalRegistry, repo_name: RepoName, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an image in a dev repository
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    pushed = images.push_image(registry.url, dev, "v1", images.random_layers(3, 1000))

    # When it is copied without a DST tag
    code = main(["copy", f"{registry.host}/{dev}:v1", f"{registry.host}/{prod}"])

    # Then it exits 0, says what it did, and DST got SRC's tag
    out = capsys.readouterr().out
    assert code == 0
    assert f"-> {registry.host}/{prod}:v1" in out and "4 mounted" in out and pushed.digest in out
    assert images.get_manifest(registry.url, prod, "v1")[2] == pushed.manifest


def test_copy_json_reports_the_result_and_a_rerun_is_already_present(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an image, When copied across registries with --json twice
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    pushed = images.push_image(registry.url, dev, "v1", images.random_layers(2, 1000))
    args = ["copy", f"{registry.host}/{dev}:v1", f"{second_registry.host}/{prod}:stable", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)

    # Then the first streamed every blob and set the DST tag; the second wrote nothing
    assert first["digest"] == pushed.digest and first["blobs_streamed"] == 3 and first["tags_written"] == ["stable"]
    assert first["bytes_moved"] == pushed.blob_bytes and first["target"] == f"{second_registry.host}/{prod}:stable"
    assert second["already_present"] is True and second["manifests_written"] == 0


def test_copy_by_digest_without_a_tag_pushes_by_digest(
    registry: LocalRegistry, repo_name: RepoName, capsys: pytest.CaptureFixture[str]
) -> None:
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    pushed = images.push_image(registry.url, dev, "v1", images.random_layers(1, 1000))
    assert main(["copy", f"{registry.host}/{dev}@{pushed.digest}", f"{registry.host}/{prod}", "--no-referrers"]) == 0
    assert f"{prod}@{pushed.digest}" in capsys.readouterr().out
    assert images.get_manifest(registry.url, prod, pushed.digest)[0] == 200
    assert images.list_tags(registry.url, prod) == []


def test_tag_conflict_exits_3_with_one_line_and_writes_nothing(
    registry: LocalRegistry, repo_name: RepoName, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given DST's tag already points to another image
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    images.push_image(registry.url, dev, "v1", images.random_layers(1, 1000))
    other = images.push_image(registry.url, prod, "v1", images.random_layers(1, 1000))

    # When copying onto it, Then exit 3, one clear line on stderr, DST unchanged
    code = main(["copy", f"{registry.host}/{dev}:v1", f"{registry.host}/{prod}:v1"])
    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1 and "tag conflict" in err and other.digest in err
    assert images.get_manifest(registry.url, prod, "v1")[2] == other.manifest


@pytest.mark.parametrize(
    "args",
    [
        ["copy", "127.0.0.1:5000/Dev:v1", "127.0.0.1:5000/prod"],
        ["copy", "dev:v1", "127.0.0.1:5000/prod"],
        ["copy", "127.0.0.1:5000/dev", "127.0.0.1:5000/prod"],  # SRC with neither tag nor digest
        ["copy", "127.0.0.1:5000/dev:v1"],  # DST missing
        ["copy", "127.0.0.1:5000/dev:v1", "127.0.0.1:5000/prod", "--jobs", "0"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse's own usage errors
        code = int(exit_.code or 0)
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_missing_image_exits_1_with_one_line_and_no_traceback(registry: LocalRegistry, repo_name: RepoName) -> None:
    # Given a SRC that does not exist, When the real command runs
    result = _run("-m", "promoter", "copy", f"{registry.host}/{repo_name('dev')}:nope", f"{registry.host}/prod")

    # Then it exits 1 with exactly one line on stderr, no traceback
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_loopback_copy_imports_neither_boto3_nor_pydantic_nor_powertools(
    registry: LocalRegistry, repo_name: RepoName
) -> None:
    # Given an image, When `python -X importtime -m promoter copy` runs between loopback references
    dev = repo_name("dev-app")
    images.push_image(registry.url, dev, "v1", images.random_layers(1, 100))
    result = _run("-X", "importtime", "-m", "promoter", "copy", f"{registry.host}/{dev}:v1", f"{registry.host}/prod-x")

    # Then it succeeded and none of the function's heavy dependencies was imported
    assert result.returncode == 0, result.stderr
    imported = [
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    ]
    assert imported and not [
        name for name in imported if name.startswith(("boto3", "botocore", "pydantic", "aws_lambda_powertools"))
    ]
