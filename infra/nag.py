"""cdk-nag 3 (a CDK policy-validation plugin): any finding not acknowledged here fails `synth`."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def check_with_nag(app: App) -> None:
    """Run the AwsSolutions pack over every stack; findings make `app.synth()` raise ValidationFailed."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept one finding (`AwsSolutions-IAM5[Resource::*]`, ...) on `scope` and below, with the reason why."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
