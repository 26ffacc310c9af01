"""A glob policy (`dev-*` → `prod-{name}`) yields prefix event matching and wildcard-but-bounded IAM resources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import DeployConfig
from infra.permissions import promotion_statements
from infra.promoter_function import HANDLER
from infra.triggers import repository_matchers
from promoter.contract import Env, Source
from tests.support.cdk import (
    Synthesized,
    as_list,
    function_named,
    ref_of,
    resources,
    role_statements,
    scenario_context,
)


@pytest.mark.parametrize(
    ("pattern", "matcher"),
    [
        ("dev-microservice", "dev-microservice"),
        ("dev-*", {"prefix": "dev-"}),
        ("*-dev", {"suffix": "-dev"}),
        ("team/*/dev", {"wildcard": "team/*/dev"}),
    ],
)
def test_repository_matchers(pattern: str, matcher: Any) -> None:
    assert repository_matchers([pattern]) == [matcher]


def test_statements_follow_the_policy_patterns() -> None:
    context = scenario_context()
    context["promotion_policy"] = {"rules": [{"name": "r", "source": "dev-*", "target": "prod-{name}"}]}
    config = DeployConfig.from_context(context.get)
    by_sid = {s.sid: s.to_statement_json() for s in promotion_statements(config, "arn:aws:dynamodb:::table/t")}
    assert by_sid["ReadSourceRepositories"]["Resource"] == "arn:aws:ecr:us-west-2:111122223333:repository/dev-*"
    assert by_sid["WriteTargetRepositories"]["Resource"] == "arn:aws:ecr:us-west-2:111122223333:repository/prod-*"


def test_glob_policy_synthesizes_clean_with_prefix_matching(glob_scenario: Synthesized) -> None:
    template = glob_scenario.source
    patterns = [
        body["Properties"].get("EventPattern", {}) for body in resources(template, "AWS::Events::Rule").values()
    ]
    ecr = [p for p in patterns if p.get("source") in ([Source.ECR], [Source.PROMOTER])]
    assert len(ecr) == 3
    assert all(p["detail"]["repository-name"] == [{"prefix": "dev-"}] for p in ecr)
    role = ref_of(function_named(template, HANDLER)[1]["Role"])
    assert role is not None
    statements = role_statements(template, role)
    put = [r for s in statements if "ecr:PutImage" in as_list(s["Action"]) for r in as_list(s["Resource"])]
    assert put == ["arn:aws:ecr:us-west-2:111122223333:repository/prod-*"]
    # No concrete names: nothing to pre-create on either side.
    assert not resources(template, "AWS::ECR::Repository")
    assert not resources(glob_scenario.destination, "AWS::ECR::Repository")
    assert json.loads(function_named(template, HANDLER)[1]["Environment"]["Variables"][Env.PROMOTION_POLICY])[
        "allow_override"
    ]
