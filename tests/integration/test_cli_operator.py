"""`python -m promoter promote|status|reconcile|record-result`: --local in-process, and a deployed stack (Stubber)."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from promoter import cli
from promoter.cli import deployed
from tests.support.promotion import Promoter, rule


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_local_promote_status_and_reconcile(promoter: Promoter, repo_name, capsys) -> None:
    # Given a gated rule and a release image with no test result yet
    dev, prod = repo_name("dev"), repo_name("prod")
    policy = {"rules": [rule(dev, prod, tags=["v*"], require={"tests": ["integration"]})], "allow_override": True}
    promoter.configure(policy)
    image = promoter.push(dev, "v1.0.0")

    # When the operator asks, Then: pending (exit 4), a dry run writes nothing, an override promotes
    code, out, _ = run(["promote", "--local", f"{dev}:v1.0.0"], capsys)
    assert code == cli.EXIT_PENDING and "tests: integration has no result yet" in out
    code, out, _ = run(["promote", "--local", f"{dev}:v1.0.0", "--override-reason", "INC-7", "--dry-run"], capsys)
    assert code == cli.EXIT_OK and out.startswith("dry-run")
    assert promoter.target_digest(prod, "v1.0.0") is None
    code, out, _ = run(["promote", "--local", f"{dev}@{image.digest}", "--override-reason", "INC-7", "--json"], capsys)
    assert code == cli.EXIT_OK and json.loads(out)["decisions"][0]["outcome"] == "promoted"
    assert promoter.target_digest(prod, "v1.0.0") == image.digest

    code, out, _ = run(["status", "--local", f"{dev}:v1.0.0"], capsys)
    assert code == cli.EXIT_OK and f"promoted to {prod}:v1.0.0" in out
    code, out, _ = run(["reconcile", "--local", "--json"], capsys)
    assert code == cli.EXIT_OK and json.loads(out) == {"decisions": []}


def test_local_record_result_promotes_and_conflicts_exit_3(promoter: Promoter, repo_name, capsys) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod, require={"tests": ["e2e"]})]})
    image = promoter.push(dev, "v2")
    promoter.push(prod, "v2")  # prod already holds another v2

    code, out, _ = run(
        ["record-result", "--local", f"{dev}@{image.digest}", "--suite", "e2e", "--result", "PASSED"], capsys
    )

    assert code == cli.EXIT_CONFLICT and out.startswith("conflict")


@pytest.mark.parametrize(
    "argv",
    [
        ["promote", "--local", "dev-app"],
        ["promote", "--local", "Dev-App:v1"],
        ["promote", "--local", "dev-app@sha256:nothex"],
        ["record-result", "--local", "dev-app:v1", "--suite", "s", "--result", "PASSED"],
        ["record-result", "--local", "dev-app@sha256:" + "a" * 64, "--suite", "s", "--result", "MAYBE"],
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], capsys) -> None:
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse's own usage errors
        code = int(exit_.code or 0)
    err = capsys.readouterr().err

    assert code == cli.EXIT_USAGE
    assert "Traceback" not in err


def _stubbed(monkeypatch: pytest.MonkeyPatch, clients: dict[str, Any]) -> None:
    monkeypatch.setattr(deployed, "aws_client", lambda service, region: clients[service])


def test_deployed_promote_invokes_the_function_named_in_the_stack_outputs(monkeypatch, capsys) -> None:
    # Given a deployed stack (CloudFormation and Lambda answers as documented by their API references)
    cloudformation = boto3.client(
        "cloudformation", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b"
    )
    lambda_ = boto3.client("lambda", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")
    response = {
        "decisions": [
            {
                "rule": "m",
                "source_repository": "dev-m",
                "digest": "sha256:" + "1" * 64,
                "target_repository": "prod-m",
                "tags": ["v1"],
                "outcome": "rejected",
                "reasons": ["tests: integration FAILED"],
            }
        ]
    }
    with Stubber(cloudformation) as cfn_stub, Stubber(lambda_) as lambda_stub:
        cfn_stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "EcrPromoterSource",
                        "CreationTime": "2026-01-01T00:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": "PromoterFunctionName", "OutputValue": "promoter-fn"}],
                    }
                ]
            },
            {"StackName": "EcrPromoterSource"},
        )
        lambda_stub.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(response).encode())},  # type: ignore[dict-item]
            {"FunctionName": "promoter-fn", "InvocationType": "RequestResponse", "Payload": ANY},
        )
        _stubbed(monkeypatch, {"cloudformation": cloudformation, "lambda": lambda_})

        code, out, _ = run(["promote", "dev-m:v1"], capsys)

    # Then the function's decision is shown and the exit code says rejected
    assert code == cli.EXIT_REJECTED
    assert "rejected" in out and "tests: integration FAILED" in out


def test_deployed_record_result_puts_the_event_on_the_ci_bus(monkeypatch, capsys) -> None:
    events = boto3.client("events", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")
    digest = "sha256:" + "2" * 64
    detail = {"repository-name": "dev-m", "image-digest": digest, "suite": "integration", "result": "FAILED"}
    with Stubber(events) as stub:
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]},
            {
                "Entries": [
                    {
                        "Source": "ecr-promoter",
                        "DetailType": "Image Test Result",
                        "Detail": json.dumps(detail),
                        "EventBusName": "ci-bus",
                    }
                ]
            },
        )
        _stubbed(monkeypatch, {"events": events})

        code, out, _ = run(
            ["record-result", f"dev-m@{digest}", "--suite", "integration", "--result", "FAILED", "--bus", "ci-bus"],
            capsys,
        )

    assert code == cli.EXIT_OK and "e-1" in out


def test_deployed_invoke_sends_the_file_with_its_substitutions_to_the_named_function(
    monkeypatch, capsys, tmp_path
) -> None:
    # Given a console sample and a function named on the command line
    digest = "sha256:" + "3" * 64
    sample = tmp_path / "status.json"
    sample.write_text(json.dumps({"action": "status", "repository": "dev-m", "tag": "v1"}))
    lambda_ = boto3.client("lambda", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")
    answer = {"decisions": [], "status": {"repository": "dev-m", "digest": digest}}
    expected = json.dumps({"action": "status", "repository": "dev-m", "tag": "v2"}).encode()
    with Stubber(lambda_) as stub:
        stub.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())},  # type: ignore[dict-item]
            {"FunctionName": "promoter-fn", "InvocationType": "RequestResponse", "Payload": expected},
        )
        _stubbed(monkeypatch, {"lambda": lambda_})

        # When it is invoked with --tag
        code, out, _ = run(["invoke", str(sample), "--tag", "v2", "--function", "promoter-fn"], capsys)

    # Then the function got the substituted event, and its response is printed as JSON; a status answer exits 0
    assert code == cli.EXIT_OK and json.loads(out) == answer


def test_a_missing_stack_names_the_stack_region_and_the_options(monkeypatch, capsys) -> None:
    # Given no source stack in the region (CloudFormation answers ValidationError, as its API reference says)
    cloudformation = boto3.client(
        "cloudformation", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b"
    )
    with Stubber(cloudformation) as stub:
        stub.add_client_error(
            "describe_stacks",
            service_error_code="ValidationError",
            service_message="Stack with id EcrPromoterSource does not exist",
            http_status_code=400,
        )
        _stubbed(monkeypatch, {"cloudformation": cloudformation})

        code, _, err = run(["status", "dev-m:v1"], capsys)

    assert code == cli.EXIT_FAILURE
    assert err == (
        "error: cannot read stack 'EcrPromoterSource' in us-west-2 (Stack with id EcrPromoterSource does not exist): "
        "pass --stack, --region or --function/--bus\n"
    )
