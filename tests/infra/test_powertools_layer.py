"""The Powertools layer is the one published for the version requirements.txt pins (and the tests run against)."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from infra.powertools_layer import PACKAGE, parameter_name, pinned_version, powertools_layer


def test_the_pin_is_what_the_tests_run_against() -> None:
    assert pinned_version() == version(PACKAGE)


def test_parameter_path_follows_the_published_scheme() -> None:
    """Powertools' layer workflow: "/aws/service/powertools/python/arm64/python3.8/3.1.0" → that release's ARN."""
    from aws_cdk import aws_lambda

    name = parameter_name("3.1.0", aws_lambda.Architecture.ARM_64, aws_lambda.Runtime.PYTHON_3_8)
    assert name == "/aws/service/powertools/python/arm64/python3.8/3.1.0"


def test_layer_is_resolved_at_deploy_time_from_the_pinned_parameter() -> None:
    from aws_cdk import App, CfnOutput, Stack, aws_lambda
    from aws_cdk.assertions import Template

    stack = Stack(App(), "Layer")
    layer = powertools_layer(
        stack, "Powertools", architecture=aws_lambda.Architecture.ARM_64, runtime=aws_lambda.Runtime.PYTHON_3_14
    )
    CfnOutput(stack, "Arn", value=layer.layer_version_arn)
    template = Template.from_stack(stack).to_json()
    parameters = {
        name: body for name, body in template["Parameters"].items() if body["Type"].startswith("AWS::SSM::Parameter")
    }
    ((name, body),) = [(n, b) for n, b in parameters.items() if "powertools" in b["Default"]]
    assert body["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert body["Default"] == f"/aws/service/powertools/python/arm64/python3.14/{pinned_version()}"
    assert template["Outputs"]["Arn"]["Value"] == {"Ref": name}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("aws-lambda-powertools==3.37.0\n", "3.37.0"), ("boto3==1\naws-lambda-powertools[tracer]==3.2.1  # x\n", "3.2.1")],
)
def test_pinned_version_reads_the_exact_pin(tmp_path: Path, text: str, expected: str) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(text)
    assert pinned_version(requirements) == expected


@pytest.mark.parametrize("text", ["aws-lambda-powertools>=3\n", "boto3==1.0\n"])
def test_an_unpinned_powertools_is_refused(tmp_path: Path, text: str) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(text)
    with pytest.raises(ValueError, match="must pin aws-lambda-powertools"):
        pinned_version(requirements)
