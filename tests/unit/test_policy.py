"""Policy validation: the one function both the Lambda and the CDK app call."""

from __future__ import annotations

import json

import pytest

from promoter.policy import PolicyError, load_policy

SCENARIO = {
    "rules": [
        {
            "name": "microservice",
            "source": "dev-microservice",
            "target": "prod-microservice",
            "tags": ["v*"],
            "require": {"tests": ["integration"], "scan": {"fail_on": ["CRITICAL"]}},
        }
    ],
    "allow_override": False,
}


def test_scenario_policy_loads_from_json_text() -> None:
    policy = load_policy(json.dumps(SCENARIO))

    rule = policy.rules[0]
    assert rule.require.tests == ("integration",)
    assert rule.require.scan is not None and rule.require.scan.fail_on == ("CRITICAL",)
    assert policy.rules_for("dev-microservice")[0][1] == "prod-microservice"
    assert policy.rules_for("dev-other") == []
    assert policy.source_patterns == ("dev-microservice",)
    assert policy.target_patterns == ("prod-microservice",)


def test_wildcard_rule_maps_the_matched_part_into_the_target() -> None:
    policy = load_policy({"rules": [{"name": "all", "source": "dev-*", "target": "prod-{name}"}]})

    assert policy.rules_for("dev-payments")[0][1] == "prod-payments"
    assert policy.rules_for("dev-team/api")[0][1] == "prod-team/api"
    assert policy.rules_for("dev-") == []
    assert policy.rules_for("prod-payments") == []
    assert policy.target_patterns == ("prod-*",)


def test_tag_globs_filter_promotable_tags_and_default_is_everything() -> None:
    versioned = load_policy(SCENARIO).rules[0]
    anything = load_policy({"rules": [{"name": "a", "source": "dev-a", "target": "prod-a"}]}).rules[0]

    assert versioned.promotable_tags(["latest", "v1.2.3", "dev-42", "v2"]) == ("v1.2.3", "v2")
    assert anything.promotable_tags(["latest", "v1"]) == ("latest", "v1")


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        ({"rules": []}, "at least 1"),
        ({"rules": [{"name": "a", "source": "dev-*-*", "target": "prod-{name}"}]}, "at most one '*'"),
        ({"rules": [{"name": "a", "source": "dev-a", "target": "prod-{name}"}]}, "has no '*'"),
        ({"rules": [{"name": "a", "source": "dev-a", "target": "Prod-A"}]}, "not a valid repository name"),
        ({"rules": [{"name": "a", "source": "../etc", "target": "prod-a"}]}, "not a valid repository name"),
        ({"rules": [{"name": "a", "source": "dev-a", "target": "prod-*"}]}, "glob characters"),
        ({"rules": [{"name": "a", "source": "dev-a", "target": "prod-a", "colour": "red"}]}, "colour"),
        ({"rules": [{"name": "a", "source": "dev-a", "target": "prod-a"}], "allow": True}, "allow"),
        (
            {"rules": [{"name": "a", "source": "dev-a", "target": "prod-a", "require": {"lint": []}}]},
            "lint",
        ),
        (
            {
                "rules": [
                    {"name": "a", "source": "dev-a", "target": "prod-a", "require": {"scan": {"fail_on": ["BAD"]}}}
                ]
            },
            "fail_on",
        ),
        ({"rules": [{"name": "a", "source": "dev-a", "target": "prod-a", "tags": []}]}, "at least one glob"),
        ({"rules": [{"name": "a", "source": "dev-a", "target": "dev-a"}]}, "same repository"),
        (
            {
                "rules": [
                    {"name": "a", "source": "dev-a", "target": "prod-a"},
                    {"name": "a", "source": "dev-b", "target": "prod-b"},
                ]
            },
            "unique",
        ),
        (
            {
                "rules": [
                    {"name": "a", "source": "dev-*", "target": "stage-{name}"},
                    {"name": "b", "source": "stage-*", "target": "prod-{name}"},
                ]
            },
            "chains",
        ),
    ],
)
def test_broken_policies_are_refused_with_a_clear_reason(policy: object, message: str) -> None:
    with pytest.raises(PolicyError, match=message) as caught:
        load_policy(policy)  # type: ignore[arg-type]

    assert "Traceback" not in str(caught.value)
