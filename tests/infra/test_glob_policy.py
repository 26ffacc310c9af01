"""The other policy shapes: globs (prefix matching, bounded wildcards), build/pipeline suites, an adopted target."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.ci_suites import CiSuites, SuiteNameError, ci_suites
from infra.config import DeployConfig
from infra.permissions import promotion_statements
from infra.promoter_function import HANDLER
from infra.triggers import repository_matchers
from promoter.contract import DetailType, Env, Source
from promoter.policy import load_policy
from tests.support.cdk import (
    Synthesized,
    Template,
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
    config = DeployConfig.from_context(context)
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
    assert all(p["detail"]["repository-name"] == [{"prefix": "dev-"}, "legacy-app"] for p in ecr)
    (inspector,) = [p for p in patterns if p.get("source") == [Source.INSPECTOR]]
    assert inspector["detail"]["repository-name"] == [
        {"prefix": "arn:aws:ecr:us-west-2:111122223333:repository/dev-"},
        "arn:aws:ecr:us-west-2:111122223333:repository/legacy-app",
    ]
    statements = role_statements(template, promoter_role(template))
    put = [r for s in statements if "ecr:PutImage" in as_list(s["Action"]) for r in as_list(s["Resource"])]
    assert put == [
        "arn:aws:ecr:us-west-2:111122223333:repository/prod-*",
        "arn:aws:ecr:us-west-2:111122223333:repository/prod-legacy-app",
    ]
    # `prod-{name}` targets are created by the function; the named target exists already (adopted).
    names = {body["Properties"]["RepositoryName"] for body in resources(template, "AWS::ECR::Repository").values()}
    assert names == {"legacy-app"}  # the named source, as a reference repository
    assert json.loads(function_named(template, HANDLER)[1]["Environment"]["Variables"][Env.PROMOTION_POLICY])[
        "allow_override"
    ]


def promoter_role(template: Template) -> str:
    role = ref_of(function_named(template, HANDLER)[1]["Role"])
    assert role is not None
    return role


def test_build_and_pipeline_rules_listen_only_to_what_required_suites_name(glob_scenario: Synthesized) -> None:
    # Given suites `codebuild:build-services` and `pipeline:release-services` (AWS's documented event fields:
    # CodeBuild `project-name`, CodePipeline `pipeline`)
    rules = [
        body["Properties"]["EventPattern"]
        for body in resources(glob_scenario.source, "AWS::Events::Rule").values()
        if "EventPattern" in body["Properties"]
    ]
    (build,) = [p for p in rules if p["source"] == [Source.CODEBUILD]]
    (pipeline,) = [p for p in rules if p["source"] == [Source.CODEPIPELINE]]
    assert build == {
        "source": [Source.CODEBUILD],
        "detail-type": [DetailType.BUILD_STATE],
        "detail": {"build-status": ["SUCCEEDED"], "project-name": ["build-services"]},
    }
    assert pipeline == {
        "source": [Source.CODEPIPELINE],
        "detail-type": [DetailType.PIPELINE_EXECUTION],
        "detail": {"state": ["SUCCEEDED"], "pipeline": ["release-services"]},
    }


def test_build_and_pipeline_reads_are_scoped_to_those_names(glob_scenario: Synthesized) -> None:
    template = glob_scenario.source
    statements = role_statements(template, promoter_role(template))

    def granted(action: str) -> list[Any]:
        return [r for s in statements if action in as_list(s["Action"]) for r in as_list(s["Resource"])]

    assert granted("codebuild:BatchGetBuilds") == ["arn:aws:codebuild:us-west-2:111122223333:project/build-services"]
    assert granted("codepipeline:GetPipelineExecution") == [
        "arn:aws:codepipeline:us-west-2:111122223333:release-services"
    ]
    assert granted("inspector2:ListFindings") == ["*"]


def test_ci_suites_are_read_from_every_rule_once() -> None:
    policy = load_policy(
        {
            "rules": [
                {
                    "name": "a",
                    "source": "dev-a",
                    "target": "prod-a",
                    "require": {"tests": ["codebuild:p1", "unit", "pipeline:x"]},
                },
                {
                    "name": "b",
                    "source": "dev-b",
                    "target": "prod-b",
                    "require": {"tests": ["codebuild:p1", "codebuild:p2"]},
                },
            ]
        }
    )
    assert ci_suites(policy) == CiSuites(codebuild_projects=("p1", "p2"), pipelines=("x",))


@pytest.mark.parametrize(
    "suite", ["codebuild:*", "codebuild:a", "codebuild:team/*", "pipeline:", "pipeline:x*", "pipeline:" + "p" * 101]
)
def test_a_suite_that_is_no_project_or_pipeline_name_is_refused(suite: str) -> None:
    # A wildcard would widen the IAM grant and the event rule to every project/pipeline of the account.
    policy = load_policy(
        {"rules": [{"name": "r", "source": "dev-a", "target": "prod-a", "require": {"tests": [suite]}}]}
    )
    with pytest.raises(SuiteNameError, match=r"rule 'r' requires suite"):
        ci_suites(policy)
