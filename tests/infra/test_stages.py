"""Chained stages at synth (dev → staging → prod): only the last stage may sit inside the replication prefix.

Pure checks over (rule, source, target) triples, because the policy model may still refuse chains itself.
"""

from __future__ import annotations

from infra.prefix_safety import check_stages

PREFIX = "prod-"


def test_a_chain_whose_intermediate_stage_is_outside_the_prefix_passes() -> None:
    # Given dev-* → staging-{name} → prod-{name}
    rules = [("to-staging", "dev-*", "staging-{name}"), ("to-prod", "staging-*", "prod-{name}")]
    # Then the intermediate stage outside the prefix is not an error
    assert check_stages(rules, PREFIX) == ()


def test_a_three_stage_named_chain_passes() -> None:
    rules = [("a", "dev-app", "test-app"), ("b", "test-app", "staging-app"), ("c", "staging-app", "prod-app")]
    assert check_stages(rules, PREFIX) == ()


def test_a_chain_whose_last_stage_is_outside_the_prefix_is_refused() -> None:
    rules = [("to-staging", "dev-*", "staging-{name}"), ("to-qa", "staging-*", "qa-{name}")]
    (error,) = check_stages(rules, PREFIX)
    assert "rule 'to-qa' promotes into 'qa-{name}'" in error
    assert "does not always start with 'prod-'" in error


def test_an_intermediate_stage_inside_the_prefix_is_refused_naming_both_rules() -> None:
    # Given an intermediate stage that replicates (prod-stage-*) before the last gate
    rules = [("first", "dev-*", "prod-stage-{name}"), ("second", "prod-stage-*", "prod-{name}")]
    errors = check_stages(rules, PREFIX)
    assert any(
        "rule 'first' promotes into 'prod-stage-{name}', an intermediate stage that rule 'second'" in e for e in errors
    )
    # and the second rule reads a source inside the prefix: its unpromoted images would replicate too
    assert any("rule 'second' reads source 'prod-stage-*'" in e for e in errors)


def test_a_cycle_is_refused_naming_its_rules() -> None:
    rules = [("up", "dev-*", "staging-{name}"), ("down", "staging-*", "dev-{name}")]
    errors = check_stages(rules, PREFIX)
    cycles = [e for e in errors if "form a cycle" in e]
    assert len(cycles) == 1
    assert "'up' → 'down' → 'up'" in cycles[0] or "'down' → 'up' → 'down'" in cycles[0]


def test_a_rule_that_feeds_itself_is_a_cycle() -> None:
    errors = check_stages([("loop", "dev-*", "dev-again-{name}")], PREFIX)
    assert any("rules 'loop' → 'loop' form a cycle" in e for e in errors)


def test_an_unchained_rule_keeps_the_plain_target_check() -> None:
    (error,) = check_stages([("r", "dev-app", "release-app")], PREFIX)
    assert error == (
        "cdk.json context 'replication_prefix': rule 'r' promotes into 'release-app', which does not always start "
        "with 'prod-': promoted images would never replicate"
    )
