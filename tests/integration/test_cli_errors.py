"""Expected failures of `python -m promoter`: one line that names the setting to fix, the contract's exit
code, no traceback (a traceback only with -v)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from devtools.lambda_local import create_ledger_table
from devtools.localregistry import LocalRegistry
from promoter import cli

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "a" * 64
RepoName = Callable[[str], str]


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment with no AWS configuration at all: no profile, no keys, no region, no instance metadata."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONPATH": f"{ROOT / 'lambda_src'}:{ROOT}",
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


def run_cli(env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promoter", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def assert_one_line(stderr: str, expected: str) -> None:
    assert stderr.splitlines()[0] == expected, stderr
    assert len(stderr.splitlines()) == 1 and "Traceback" not in stderr, stderr


@pytest.mark.parametrize(
    "args",
    [
        ["record-result", f"dev-m@{DIGEST}", "--suite", "integration", "--result", "PASSED", "--bus", "ci-bus"],
        ["promote", "dev-m:v1"],
        ["status", "dev-m:v1", "--function", "promoter-fn"],
    ],
)
def test_deployed_mode_without_a_region_says_how_to_give_one(tmp_path: Path, args: list[str]) -> None:
    # Given no region anywhere (no flag, no AWS_REGION, no profile), When a deployed-mode command runs
    result = run_cli(isolated_env(tmp_path), *args)

    # Then one line names the fix, exit 1
    assert result.returncode == cli.EXIT_FAILURE
    assert_one_line(result.stderr, "error: no AWS region: pass --region or set AWS_PROFILE")


def test_deployed_record_result_without_credentials_says_where_they_come_from(tmp_path: Path) -> None:
    # Given a region but no credentials, When a result is recorded on the bus
    result = run_cli(
        isolated_env(tmp_path),
        *["record-result", f"dev-m@{DIGEST}", "--suite", "integration", "--result", "PASSED"],
        *["--bus", "ci-bus", "--region", "us-west-2"],
    )

    # Then nothing was sent and one line says how to provide credentials
    assert result.returncode == cli.EXIT_FAILURE
    assert_one_line(
        result.stderr,
        "error: no AWS credentials: set AWS_PROFILE (run `aws sso login` first if it uses SSO) "
        "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    )


def test_copy_to_a_port_where_nothing_listens_names_the_host(tmp_path: Path) -> None:
    # Given no registry on 127.0.0.1:1, When copying from it
    result = run_cli(isolated_env(tmp_path), "copy", "127.0.0.1:1/dev-app:v1", "127.0.0.1:1/prod-app")

    # Then exit 1 and one line that says what to check
    assert result.returncode == cli.EXIT_FAILURE
    assert_one_line(result.stderr, "error: cannot reach 127.0.0.1:1 (connection refused): is the registry running?")


@pytest.fixture
def local_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's DynamoDB in this process, with region and dummy credentials as a local ledger needs."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "PROMOTION_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    with mock_aws():
        yield


def run_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_local_without_the_ledger_table_names_the_table_and_region(
    local_aws: None, registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a local setup whose ledger endpoint has no table 'x'
    monkeypatch.setenv("LEDGER_TABLE", "x")
    monkeypatch.setenv("REGISTRY_ENDPOINT", registry.url)

    # When a --local command needs the ledger
    code, _, err = run_in_process(capsys, "reconcile", "--local")

    # Then one line names LEDGER_TABLE, the table and the region
    assert code == cli.EXIT_FAILURE
    assert_one_line(
        err,
        "error: LEDGER_TABLE 'x' not found in us-west-2: create it (string keys pk, sk) "
        "or point AWS_ENDPOINT_URL at the ledger that has it",
    )


def test_local_with_the_registry_down_names_the_host_and_the_setting(
    local_aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a ledger table, but REGISTRY_ENDPOINT where nothing listens
    create_ledger_table(boto3.client("dynamodb", region_name="us-west-2"), "ledger")
    monkeypatch.setenv("LEDGER_TABLE", "ledger")
    monkeypatch.setenv("REGISTRY_ENDPOINT", "http://127.0.0.1:1")

    # When the operator promotes by tag
    code, _, err = run_in_process(capsys, "promote", "--local", "dev-microservice:v1.0.0")

    # Then exit 1 and one line naming the host and REGISTRY_ENDPOINT
    assert code == cli.EXIT_FAILURE
    assert_one_line(
        err,
        "error: cannot reach 127.0.0.1:1 (connection refused): is the registry running? "
        "(REGISTRY_ENDPOINT=http://127.0.0.1:1)",
    )


def test_local_without_a_region_says_how_to_give_one(
    registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("LEDGER_TABLE", "ledger")
    monkeypatch.setenv("REGISTRY_ENDPOINT", registry.url)

    code, _, err = run_in_process(capsys, "reconcile", "--local")

    assert code == cli.EXIT_FAILURE
    assert_one_line(err, "error: no AWS region: pass --region or set AWS_PROFILE")


def test_a_cdk_json_syntax_error_names_file_line_and_column(
    local_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the checkout's cdk.json with a missing comma on line 3 (a copy: the real one stays untouched)
    import infra.config

    broken = tmp_path / "cdk.json"
    broken.write_text('{\n  "context": {\n    "a": 1\n    "b": 2\n  }\n}\n')
    monkeypatch.setattr(infra.config, "CDK_JSON", broken)
    monkeypatch.setenv("LEDGER_TABLE", "ledger")

    # When a --local command needs the policy from it
    code, _, err = run_in_process(capsys, "reconcile", "--local")

    # Then exit 2 and one line: file:line:column, what is wrong, what to do
    assert code == cli.EXIT_USAGE
    assert_one_line(err, f"error: {broken}:4:5: Expecting ',' delimiter: fix the JSON or set PROMOTION_POLICY")


def test_unexpected_errors_are_one_line_and_show_the_traceback_only_with_v(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a command that fails in a way nobody planned for
    from promoter.cli import copy as copy_command

    def broken(*_: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(copy_command, "run_copy", broken)

    # When it runs without and with -v
    quiet = run_in_process(capsys, "copy", "127.0.0.1:1/a:v1", "127.0.0.1:1/b")
    verbose = run_in_process(capsys, "-v", "copy", "127.0.0.1:1/a:v1", "127.0.0.1:1/b")

    # Then one line without -v, and the traceback with it; exit 1 both times
    assert quiet[0] == verbose[0] == cli.EXIT_FAILURE
    assert_one_line(quiet[2], "error: unexpected RuntimeError: boom (run with -v for the traceback)")
    assert verbose[2].startswith("error: unexpected RuntimeError: boom\n") and "Traceback" in verbose[2]


def test_json_failures_carry_the_kind(tmp_path: Path) -> None:
    result = run_cli(isolated_env(tmp_path), "promote", "dev-m:v1", "--json")

    assert result.returncode == cli.EXIT_FAILURE
    assert json.loads(result.stdout) == {
        "error": "no-region",
        "message": "no AWS region: pass --region or set AWS_PROFILE",
    }


def test_local_policy_comes_from_the_checkout_cdk_json_from_any_directory(
    tmp_path: Path, registry: LocalRegistry
) -> None:
    # Given no PROMOTION_POLICY and a cwd outside the checkout (and lambda_src/ with a relative PYTHONPATH)
    env = isolated_env(tmp_path, LEDGER_TABLE="ledger", REGISTRY_ENDPOINT=registry.url)
    outside = run_cli(env, "promote", "--local", "dev-microservice:v1.0.0", cwd=tmp_path)
    inside = run_cli(
        {**env, "PYTHONPATH": "."}, "promote", "--local", "dev-microservice:v1.0.0", cwd=ROOT / "lambda_src"
    )

    # Then the policy was found (the run got as far as needing a region for the ledger)
    for result in (outside, inside):
        assert result.returncode == cli.EXIT_FAILURE
        assert_one_line(result.stderr, "error: no AWS region: pass --region or set AWS_PROFILE")


def test_local_without_credentials_says_any_value_works(tmp_path: Path) -> None:
    # Given local settings but no AWS keys at all
    env = isolated_env(
        tmp_path,
        AWS_REGION="us-west-2",
        AWS_ENDPOINT_URL="http://127.0.0.1:1",
        LEDGER_TABLE="ledger",
        REGISTRY_ENDPOINT="http://127.0.0.1:1",
    )

    # When a --local command needs the ledger
    result = run_cli(env, "reconcile", "--local")

    # Then one line says a local ledger takes any keys, and how to set them
    assert result.returncode == cli.EXIT_FAILURE
    assert_one_line(
        result.stderr,
        "error: no AWS credentials for the local ledger: any value works, e.g. "
        "export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test",
    )


def test_local_with_the_ledger_endpoint_down_names_the_endpoint(tmp_path: Path) -> None:
    env = isolated_env(
        tmp_path,
        AWS_REGION="us-west-2",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_ENDPOINT_URL="http://127.0.0.1:1",
        LEDGER_TABLE="ledger",
        REGISTRY_ENDPOINT="http://127.0.0.1:1",
    )

    result = run_cli(env, "reconcile", "--local")

    assert result.returncode == cli.EXIT_FAILURE
    assert_one_line(
        result.stderr, "error: cannot reach http://127.0.0.1:1/: is the local ledger running? (AWS_ENDPOINT_URL)"
    )


def test_a_cdk_json_setting_error_is_one_line_naming_the_key(
    local_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a cdk.json whose policy names an invalid target repository
    import infra.config

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context["promotion_policy"]["rules"][0]["target"] = "Prod_Microservice"
    broken = tmp_path / "cdk.json"
    broken.write_text(json.dumps({"context": context}))
    monkeypatch.setattr(infra.config, "CDK_JSON", broken)
    monkeypatch.setenv("LEDGER_TABLE", "ledger")

    # When a --local command needs the policy
    code, _, err = run_in_process(capsys, "reconcile", "--local")

    # Then exit 2 and one line that starts with the cdk.json key, no traceback
    assert code == cli.EXIT_USAGE
    assert err.startswith("error: cdk.json context 'promotion_policy': ") and "Prod_Microservice" in err
    assert err.count("\n") == 1 and "Traceback" not in err
