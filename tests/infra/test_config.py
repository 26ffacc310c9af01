"""cdk.json context → DeployConfig: the scenario loads, and every mistake names its key (no synth needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import KNOWN_KEYS, ConfigError, DeployConfig
from promoter.policy import PolicyError
from tests.support.cdk import scenario_context


def load(**changes: Any) -> DeployConfig:
    context = scenario_context()
    for key, value in changes.items():
        if value is None:
            context.pop(key, None)
        else:
            context[key] = value
    return DeployConfig.from_context(context)


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
    assert config.alarm_email is None
    assert config.alarm_topic_arns == ()


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
        (
            {"alarm_topic_arns": ["arn:aws:sqs:us-west-2:111122223333:queue"]},
            "'alarm_topic_arns.0': must be an SNS topic ARN",
        ),
        (
            {"alarm_topic_arns": [f"arn:aws:sns:us-west-2:111122223333:topic-{n}" for n in range(5)]},
            "'alarm_topic_arns': Tuple should have at most 4 items",
        ),
        ({"alarm_topic_arns": "arn:aws:sns:us-west-2:111122223333:pager"}, "'alarm_topic_arns': not valid JSON"),
        # A setting this version no longer reads is refused, not ignored (the layer now follows requirements.txt).
        ({"powertools_layer_version": 38}, "'powertools_layer_version': unknown setting"),
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


def test_alarm_topics_are_read_as_a_list_or_as_json_text() -> None:
    topics = ["arn:aws:sns:us-west-2:111122223333:pager", "arn:aws-cn:sns:cn-north-1:999988887777:chat-ops"]
    assert load(alarm_topic_arns=topics).alarm_topic_arns == tuple(topics)
    assert load(alarm_topic_arns=json.dumps(topics)).alarm_topic_arns == tuple(topics)


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("alarm_emails", "alarm_email"), ("alarm-email", "alarm_email"), ("replication_prefx", "replication_prefix")],
)
def test_a_misspelt_setting_is_refused_naming_it_and_the_known_ones(key: str, suggestion: str) -> None:
    # Given the scenario with one setting under a name this app does not read
    context = scenario_context()
    context[key] = context.get(suggestion, "ops@example.com")

    # When it is loaded, Then the error names the key, a likely meaning, and every setting there is
    with pytest.raises(ConfigError) as raised:
        DeployConfig.from_context(context)
    message = str(raised.value)
    assert f"cdk.json context {key!r}: unknown setting (did you mean {suggestion!r}?)" in message
    assert all(repr(known) in message for known in KNOWN_KEYS)


def test_the_cdk_own_context_keys_pass() -> None:
    # Feature flags, CLI and lookup keys are CDK's, not ours: never snake_case, so they are left alone.
    context = scenario_context()
    context.update(
        {
            "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
            "aws:cdk:enable-path-metadata": True,
            "availability-zones:account=111122223333:region=us-west-2": ["us-west-2a"],
            "acknowledged-issue-numbers": [32775],
            "cli-telemetry": False,
        }
    )
    assert DeployConfig.from_context(context).source.account == "111122223333"


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
