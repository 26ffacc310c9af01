"""Fail synth, not the deployment, when the function's environment outgrows Lambda's 4 KB.

Lambda limits all environment variables of a function to 4 KB together (Lambda quotas: "Environment
variables: 4 KB, for all environment variables associated with the function, in aggregate"). The
promotion policy and the target repository policy both travel there, so a long policy would pass synth
and fail `cdk deploy` half-way. Values known only at deploy time (ARNs, names) are counted generously.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsii
from aws_cdk import Stack
from constructs import Construct, IValidation

LAMBDA_ENVIRONMENT_LIMIT = 4096
# A Ref/GetAtt resolved at deploy time: an IAM role ARN is at most ~100 characters, a table name 255.
DEPLOY_TIME_VALUE_ALLOWANCE = 255


def rendered_size(value: Any) -> int:
    """Bytes a resolved template value takes once CloudFormation has resolved it (upper bound)."""
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return sum(rendered_size(part) for part in parts) + len(str(separator).encode()) * max(len(parts) - 1, 0)
    return DEPLOY_TIME_VALUE_ALLOWANCE


@jsii.implements(IValidation)
class EnvironmentFits:
    """Validation of `variables` (the function's environment, kept by its owner as the function's own
    property does not read back through jsii) against Lambda's limit."""

    def __init__(self, scope: Construct, variables: Mapping[str, str], what_grows: str) -> None:
        self._scope = scope
        self._variables = variables
        self._what_grows = what_grows

    def validate(self) -> list[str]:
        resolved: dict[str, Any] = Stack.of(self._scope).resolve(dict(self._variables))
        size = sum(len(name.encode()) + rendered_size(value) for name, value in resolved.items())
        if size <= LAMBDA_ENVIRONMENT_LIMIT:
            return []
        return [
            f"the function's environment would take up to {size} bytes, over Lambda's {LAMBDA_ENVIRONMENT_LIMIT}: "
            f"shorten {self._what_grows}"
        ]
