"""Reserved concurrency: the function is held at the ECR PutImage quota (cdk.json reserved_concurrency)."""

from __future__ import annotations

import pytest

from infra.config import ConfigError, DeployConfig
from tests.support.cdk import Synthesized, function_named, scenario_context

HANDLER = "promoter.handler.lambda_handler"


def test_the_function_reserves_the_measured_concurrency(scenario: Synthesized) -> None:
    # Given cdk.json as shipped, When synthesized, Then the promoter keeps 5 instances for itself
    _, function = function_named(scenario.source, HANDLER)
    assert scenario.context["reserved_concurrency"] == 5
    assert function["ReservedConcurrentExecutions"] == 5


@pytest.mark.parametrize("value", [0, -1, 1001, "five"])
def test_an_impossible_reserved_concurrency_names_the_key(value: object) -> None:
    context = scenario_context()
    context["reserved_concurrency"] = value
    with pytest.raises(ConfigError, match="reserved_concurrency"):
        DeployConfig.from_context(context)


def test_null_leaves_the_function_unreserved() -> None:
    context = scenario_context()
    context["reserved_concurrency"] = None
    assert DeployConfig.from_context(context).reserved_concurrency is None
