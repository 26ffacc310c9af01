"""Prefix safety at synth: the replication filter is a plain string prefix (aws/containers-roadmap#2129)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.application import CONFIG_WARNING_ID, SOURCE_STACK
from infra.config import ConfigError, DeployConfig
from infra.prefix_safety import check_prefix
from promoter.policy import load_policy
from tests.support.cdk import Synthesized, scenario_context


def rules(*triples: tuple[str, str, str]) -> Any:
    return load_policy(
        {"rules": [{"name": name, "source": source, "target": target} for name, source, target in triples]}
    )


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("prod-dev-app", "a name inside the prefix"),
        ("prod-dev-*", "a glob whose literal part is inside the prefix"),
        ("*-app", "a leading `*` can supply the prefix"),
        ("prod-*-dev", "a glob starting inside the prefix"),
    ],
)
def test_a_source_that_can_match_the_prefix_is_refused(source: str, why: str) -> None:
    target = "prod-{name}" if "*" in source else "prod-app"
    report = check_prefix(rules(("r", source, target)), "prod-")
    assert report.errors == (
        f"cdk.json context 'replication_prefix': rule 'r' reads source {source!r}, which can match repositories "
        "starting with 'prod-': their unpromoted images would replicate too",
    ), why


@pytest.mark.parametrize("source", ["dev-app", "dev-*", "team/*/dev", "build-*"])
def test_sources_outside_the_prefix_pass(source: str) -> None:
    target = "prod-{name}" if "*" in source else "prod-app"
    assert check_prefix(rules(("r", source, target)), "prod-").errors == ()


@pytest.mark.parametrize("target", ["release-app", "{name}-prod", "prod{name}", "pro"])
def test_a_target_that_can_fall_outside_the_prefix_is_refused(target: str) -> None:
    source = "dev-*" if "{name}" in target else "dev-app"
    (error,) = check_prefix(rules(("r", source, target)), "prod-").errors
    assert error == (
        f"cdk.json context 'replication_prefix': rule 'r' promotes into {target!r}, which does not always start "
        "with 'prod-': promoted images would never replicate"
    )


def test_a_target_that_starts_another_targets_name_is_a_warning_not_an_error() -> None:
    # `prod-foo` as a prefix-scoped filter or `prod-foo*` pattern also covers `prod-foobar`.
    report = check_prefix(rules(("foo", "dev-foo", "prod-foo"), ("foobar", "dev-foobar", "prod-foobar")), "prod-")
    assert report.errors == ()
    (warning,) = report.warnings
    assert "rule 'foo' target 'prod-foo' is the start of 'prod-foobar'" in warning
    assert "aws/containers-roadmap#2129" in warning


def test_a_glob_target_that_can_name_another_rules_target_is_a_warning() -> None:
    report = check_prefix(rules(("all", "dev-*", "prod-{name}"), ("one", "legacy", "prod-legacy")), "prod-")
    assert report.warnings == (
        "cdk.json context 'promotion_policy': rule 'all' target 'prod-{name}' can name 'prod-legacy', which rule "
        "'one' also promotes into: both rules may write there",
    )


def test_a_prefix_that_is_a_whole_target_name_is_a_warning() -> None:
    report = check_prefix(rules(("r", "dev-app", "prod-app")), "prod-app")
    assert report.errors == ()
    assert any("'prod-app' is a whole repository name" in warning for warning in report.warnings)


def test_distinct_targets_give_no_warning() -> None:
    assert check_prefix(rules(("a", "dev-a", "prod-a"), ("b", "dev-b", "prod-b")), "prod-").warnings == ()


def test_config_refuses_with_every_problem_named() -> None:
    context = scenario_context()
    context["promotion_policy"] = {
        "rules": [
            {"name": "bad-source", "source": "*-svc", "target": "prod-{name}"},
            {"name": "bad-target", "source": "dev-y", "target": "y"},
        ]
    }
    with pytest.raises(ConfigError) as raised:
        DeployConfig.from_context(context)
    assert "rule 'bad-source' reads source '*-svc'" in str(raised.value)
    assert "rule 'bad-target' promotes into 'y'" in str(raised.value)


def test_synth_records_the_warnings_in_the_cloud_assembly(glob_scenario: Synthesized, scenario: Synthesized) -> None:
    # The glob scenario's `prod-{name}` can name the adopted `prod-legacy-app`; the CDK CLI prints these.
    def warnings(synthesized: Synthesized) -> list[str]:
        metadata = json.loads((synthesized.outdir / f"{SOURCE_STACK}.metadata.json").read_text())
        return [entry["data"] for entry in metadata.get(f"/{SOURCE_STACK}", []) if entry["type"] == "aws:cdk:warning"]

    (warning,) = warnings(glob_scenario)
    assert "rule 'services' target 'prod-{name}' can name 'prod-legacy-app'" in warning
    assert CONFIG_WARNING_ID in warning
    assert warnings(scenario) == []
