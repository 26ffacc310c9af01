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
                    {"name": "b", "source": "stage-*", "target": "dev-{name}"},
                ]
            },
            r"rules 'a' -> 'b' -> 'a' form a cycle",
        ),
        (
            {
                "rules": [
                    {"name": "in", "source": "dev-app", "target": "qa-app"},
                    {"name": "out", "source": "qa-*", "target": "stage-{name}"},
                    {"name": "back", "source": "stage-app", "target": "qa-app"},
                ]
            },
            r"rules 'out' -> 'back' -> 'out' form a cycle.*not allowed to loop back",
        ),
        ({"rules": [{"name": "loop", "source": "dev-*", "target": "dev-again-{name}"}]}, "'loop' -> 'loop'"),
    ],
)
def test_broken_policies_are_refused_with_a_clear_reason(policy: object, message: str) -> None:
    with pytest.raises(PolicyError, match=message) as caught:
        load_policy(policy)  # type: ignore[arg-type]

    assert "Traceback" not in str(caught.value)


KEY_ARN = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MRK_ID = "mrk-1234abcd12ab34cd56ef1234567890ab"
ALIAS_ARN = "arn:aws:kms:us-west-2:111122223333:alias/ci-signer"


def _signed(trust_keys: list[str], approval_keys: list[str]) -> dict:
    rule = {**SCENARIO["rules"][0], "require": {"tests": ["integration"], "approval": {"signed_by": approval_keys}}}  # type: ignore[dict-item]
    return {"rules": [rule], "trust": {"test_results": {"signed_by": trust_keys}}}


def test_signed_evidence_keys_are_read_as_arns_ids_or_alias_arns() -> None:
    policy = load_policy(_signed([KEY_ARN, MRK_ID], [ALIAS_ARN]))

    assert policy.trust.test_results is not None
    assert policy.trust.test_results.signed_by == (KEY_ARN, MRK_ID)
    approval = policy.rules[0].require.approval
    assert approval is not None and approval.signed_by == (ALIAS_ARN,)


def test_a_policy_without_trust_trusts_unsigned_results_as_before() -> None:
    policy = load_policy(SCENARIO)

    assert policy.trust.test_results is None and policy.rules[0].require.approval is None


@pytest.mark.parametrize(
    ("trust_keys", "approval_keys", "message"),
    [
        (["alias/ci-signer"], [KEY_ARN], "not a KMS key"),
        ([KEY_ARN], ["arn:aws:iam::111122223333:role/x"], "not a KMS key"),
        ([], [KEY_ARN], "at least 1"),
        ([KEY_ARN], ["mrk-short"], "not a KMS key"),
        (["1234ABCD-12ab-34cd-56ef-1234567890ab"], [KEY_ARN], "not a KMS key"),
    ],
)
def test_malformed_signing_keys_are_refused(trust_keys: list[str], approval_keys: list[str], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        load_policy(_signed(trust_keys, approval_keys))


def test_chained_rules_are_allowed_and_name_their_next_stage() -> None:
    policy = load_policy(
        {
            "rules": [
                {"name": "to-staging", "source": "dev-*", "target": "staging-{name}", "require": {"tests": ["unit"]}},
                {"name": "to-prod", "source": "staging-*", "target": "prod-{name}", "require": {"tests": ["e2e"]}},
            ]
        }
    )

    first, second = policy.rules
    assert policy.has_chains
    assert policy.next_stages(first) == [second] and policy.next_stages(second) == []
    assert policy.rules_for("staging-app") == [(second, "prod-app")]


def test_unrelated_rules_are_not_a_chain() -> None:
    policy = load_policy(
        {
            "rules": [
                {"name": "a", "source": "dev-a", "target": "prod-a"},
                {"name": "b", "source": "dev-*", "target": "prod-x-{name}"},
            ]
        }
    )

    assert not policy.has_chains


@pytest.mark.parametrize(("source", "target"), [("prod-dev-*", "prod-{name}"), ("*-app", "prod-{name}")])
def test_a_rule_that_feeds_itself_only_by_consuming_its_name_is_not_a_loop(source: str, target: str) -> None:
    # Each hop shortens what `*` can match, so the chain ends (prefix safety refuses these at synth)
    policy = load_policy({"rules": [{"name": "r", "source": source, "target": target}]})

    assert policy.rules[0].source == source


@pytest.mark.parametrize("name", ["a\x00b", "line\nbreak", "bidi\u202eevil", "tab\there"])
def test_a_rule_name_that_could_forge_log_lines_is_refused(name: str) -> None:
    # Given a rule name with a control, line-break or bidi-override character
    policy = {"rules": [{"name": name, "source": "dev-a", "target": "prod-a"}]}
    # When loaded, Then it is refused and the message names the field
    with pytest.raises(PolicyError, match=r"rules\.0\.name: .*printable"):
        load_policy(policy)


def test_a_huge_or_many_times_broken_policy_gives_a_bounded_message() -> None:
    # Given 1000 broken rules, each with a 100 kB source
    huge = "A" * 100_000
    policy = {"rules": [{"name": f"r{i}", "source": huge, "target": "prod-a"} for i in range(1000)]}
    # When loaded, Then the error says what is wrong without repeating it all
    with pytest.raises(PolicyError) as refused:
        load_policy(policy)
    message = str(refused.value)
    assert len(message) < 5000 and "source" in message and message.endswith("more")
