"""The Powertools layer the function runs with: the one published for the version requirements.txt pins.

Powertools publishes each layer's ARN as a public SSM parameter per architecture, Python runtime and release:
"A successful parameter would look similar to: /aws/service/powertools/python/arm64/python3.8/3.1.0 And will
have a value of: arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python38-arm64:4"
(powertools-lambda-python, .github/workflows/layer_ssm_parameters.yml; `/latest` is the moving alias). The stack
reads the parameter for the pinned release at deploy time, so the layer cannot drift from the version the tests
ran against, and a release not published for the runtime fails the deploy before anything changes.
"""

from __future__ import annotations

import re
from pathlib import Path

from aws_cdk import aws_lambda, aws_ssm
from constructs import Construct

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"
PACKAGE = "aws-lambda-powertools"
PARAMETER_ROOT = "/aws/service/powertools/python"


def pinned_version(requirements: Path = REQUIREMENTS) -> str:
    """The exact version requirements.txt pins for aws-lambda-powertools (what every test runs against)."""
    found = re.search(rf"^{re.escape(PACKAGE)}(?:\[[^\]]*\])?==([0-9][^\s;#]*)", requirements.read_text(), re.M)
    if not found:
        raise ValueError(f"{requirements.name} must pin {PACKAGE}==<version> (the layer is resolved from it)")
    return found.group(1)


def parameter_name(version: str, architecture: aws_lambda.Architecture, runtime: aws_lambda.Runtime) -> str:
    """e.g. /aws/service/powertools/python/arm64/python3.14/3.37.0"""
    return f"{PARAMETER_ROOT}/{architecture.name}/{runtime.name}/{version}"


def powertools_layer(
    scope: Construct,
    construct_id: str,
    *,
    architecture: aws_lambda.Architecture,
    runtime: aws_lambda.Runtime,
    version: str | None = None,
) -> aws_lambda.ILayerVersion:
    """The public Powertools layer for `runtime`/`architecture` at the pinned version, resolved at deploy time."""
    name = parameter_name(version or pinned_version(), architecture, runtime)
    arn = aws_ssm.StringParameter.value_for_string_parameter(scope, name)
    return aws_lambda.LayerVersion.from_layer_version_arn(scope, construct_id, arn)
