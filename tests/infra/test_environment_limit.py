"""The function's environment (policy JSON included) must fit Lambda's 4 KB, checked at synth."""

from __future__ import annotations

from typing import Any

import pytest

from infra.environment_limit import (
    DEPLOY_TIME_VALUE_ALLOWANCE,
    LAMBDA_ENVIRONMENT_LIMIT,
    EnvironmentFits,
    rendered_size,
)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("abc", 3),
        ("é", 2),
        ({"Ref": "Table"}, DEPLOY_TIME_VALUE_ALLOWANCE),
        ({"Fn::Join": ["", ["ab", {"Fn::GetAtt": ["Role", "Arn"]}, "c"]]}, 3 + DEPLOY_TIME_VALUE_ALLOWANCE),
        ({"Fn::Join": [",", ["a", "b", "c"]]}, 5),
    ],
)
def test_rendered_size_is_an_upper_bound(value: Any, size: int) -> None:
    assert rendered_size(value) == size


def check(environment: dict[str, Any]) -> list[str]:
    from aws_cdk import App, Stack

    return list(EnvironmentFits(Stack(App(), "Sized"), environment, what_grows="the policy").validate())


def test_an_environment_over_4_kb_is_refused_naming_what_to_shorten() -> None:
    # Given a promotion policy that alone fills the environment
    # When the check runs, Then it names the size and the setting to shorten
    (error,) = check({"PROMOTION_POLICY": "x" * LAMBDA_ENVIRONMENT_LIMIT})
    assert f"up to {LAMBDA_ENVIRONMENT_LIMIT + len('PROMOTION_POLICY')} bytes" in error
    assert error.endswith("shorten the policy")


def test_an_environment_that_fits_passes() -> None:
    assert check({"PROMOTION_POLICY": "x" * 100, "LEDGER_TABLE": "t"}) == []
