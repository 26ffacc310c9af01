"""cdk.json context → DeployConfig: the scenario loads, and every mistake names its key (no synth needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import ConfigError, DeployConfig
from promoter.policy import PolicyError
from tests.support.cdk import scenario_context


def load(**changes: Any) -> DeployConfig:
    context = scenario_context()
    for key, value in changes.items():
        if value is None:
            context.pop(key, None)
        else:
            context[key] = value
    return DeployConfig.from_context(context.get)


def test_scenario_context_is_the_reference_scenario() -> None:
    config = load()
    assert (config.source.account, config.source.region) == ("111122223333", "us-west-2")
    assert (config.destination.account, config.destination.region) == ("444455556666", "us-west-2")
    assert config.replication_prefix == "prod-"
    assert config.create_reference_repositories is True
    assert config.policy.allow_override is False
    (rule,) = config.policy.rules
    assert (rule.name, rule.source, rule.target, rule.tags) == (
        "microservice",
        "dev-microservice",
        "prod-microservice",
        ("v*",),
    )
    assert rule.require.tests == ("integration",)
    assert rule.require.scan is not None and rule.require.scan.fail_on == ("CRITICAL",)
    assert config.powertools_layer_arn.startswith(
        "arn:aws:lambda:us-west-2:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:"
    )


def test_policy_json_is_the_context_policy_compacted() -> None:
    config = load()
    assert config.policy_json == json.dumps(scenario_context()["promotion_policy"], separators=(",", ":"))


def test_structured_values_may_be_json_text_as_from_cdk_c_flags() -> None:
    context = scenario_context()
    config = load(
        source=json.dumps(context["source"]),
        promotion_policy=json.dumps(context["promotion_policy"]),
        ci_principals=json.dumps(context["ci_principals"]),
    )
    assert config.source.account == "111122223333"
    assert config.policy.rules[0].name == "microservice"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"source": None}, "missing 'source'"),
        ({"source": {"account": "1234", "region": "us-west-2"}}, "'source.account': must be a 12-digit AWS account id"),
        ({"destination": {"account": "444455556666", "region": "mars"}}, "'destination.region': must be an AWS region"),
        ({"destination": {"account": "444455556666"}}, "'destination.region': Field required"),
        ({"source": {"account": "111122223333", "region": "us-west-2", "zone": "a"}}, "'source.zone': unknown setting"),
        ({"replication_prefix": "-prod"}, "'replication_prefix': must be the start of a repository name"),
        (
            {"replication_prefix": "release-"},
            "'replication_prefix': rule 'microservice' promotes into 'prod-microservice'",
        ),
        ({"replication_prefix": "dev-"}, "'replication_prefix': rule 'microservice' reads source 'dev-microservice'"),
        (
            {"existing_target_repositories": ["prod-other"]},
            "'existing_target_repositories': 'prod-other' is not a named",
        ),
        ({"existing_target_repositories": "prod-microservice"}, "'existing_target_repositories': not valid JSON"),
        ({"powertools_layer_version": 0}, "'powertools_layer_version'"),
        ({"ci_principals": []}, "'ci_principals'"),
        ({"ci_principals": ["arn:aws:iam::1:role/x"]}, "'ci_principals.0': must be an IAM ARN"),
        ({"reconcile_schedule": "every 5 minutes"}, "'reconcile_schedule': must be an EventBridge"),
        ({"alarm_email": "ops"}, "'alarm_email': must be an e-mail address"),
        ({"destination": {"account": "111122223333", "region": "us-west-2"}}, "'destination': must differ"),
        ({"source": "{not json"}, "'source': not valid JSON"),
    ],
)
def test_a_mistake_names_its_context_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"cdk\.json context") as raised:
        load(**changes)
    assert message in str(raised.value)


def test_a_source_inside_the_replication_prefix_would_replicate_unpromoted_images() -> None:
    policy = {"rules": [{"name": "r", "source": "prod-dev-*", "target": "prod-{name}"}]}
    with pytest.raises(
        ConfigError, match="rule 'r' reads source 'prod-dev-\\*', which can match repositories starting"
    ):
        load(promotion_policy=policy)


def test_a_suite_naming_no_valid_project_is_a_policy_mistake() -> None:
    policy = {"rules": [{"name": "r", "source": "dev-a", "target": "prod-a", "require": {"tests": ["codebuild:*"]}}]}
    with pytest.raises(
        ConfigError, match=r"cdk\.json context 'promotion_policy': rule 'r' requires suite 'codebuild:\*'"
    ):
        load(promotion_policy=policy)


def test_existing_targets_are_not_created() -> None:
    config = load(existing_target_repositories=["prod-microservice"])
    assert config.existing_target_repositories == ("prod-microservice",)
    assert config.named_targets == ("prod-microservice",)
    assert config.created_targets == ()
    assert load().created_targets == ("prod-microservice",)


def test_a_bad_policy_fails_with_the_policy_error() -> None:
    policy = {"rules": [{"name": "r", "source": "dev-*-*", "target": "prod-x"}]}
    with pytest.raises(
        PolicyError, match=r"cdk\.json context 'promotion_policy': invalid promotion policy: .*at most one"
    ):
        load(promotion_policy=policy)
