"""The gates around synth: the policy validator, cdk-nag (any unacknowledged finding fails) and cfn-lint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cfnlint.api import lint

from infra.application import DESTINATION_STACK, SOURCE_STACK
from promoter.policy import PolicyError
from tests.support.cdk import Synthesized, scenario_context


def test_synth_with_a_bad_policy_fails_with_the_policy_error(tmp_path: Path) -> None:
    from aws_cdk import App

    from infra.application import build

    context = scenario_context()
    context["promotion_policy"] = {"rules": [{"name": "loop", "source": "dev-*", "target": "dev-again-{name}"}]}
    app = App(context=context, outdir=str(tmp_path))
    with pytest.raises(PolicyError, match=r"cdk\.json context 'promotion_policy': .*promotion chains are not allowed"):
        build(app)
    assert not app.node.children, "no stack may be built from a bad policy"


def test_the_app_fails_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    # The fixtures' synth raised ValidationFailed on any finding, but a synth without cdk-nag passes too:
    # prove the app's own build() wires cdk-nag over its stacks.
    from aws_cdk import App, aws_sqs

    from infra.application import build

    app = App(context=scenario_context(), outdir=str(tmp_path))
    deployment = build(app)
    aws_sqs.Queue(deployment.source, "Plaintext", encryption=aws_sqs.QueueEncryption.UNENCRYPTED)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violations = [v for plugin in report["pluginReports"] for v in plugin["violations"]]
    assert {v["ruleName"] for v in violations} == {"AwsSolutions-SQS2", "AwsSolutions-SQS3", "AwsSolutions-SQS4"}
    assert all(
        location["constructPath"].startswith(f"{SOURCE_STACK}/Plaintext")
        for v in violations
        for location in v["violatingConstructs"]
    ), "only the careless queue may be reported: everything else is clean or acknowledged"


def acknowledgements(synthesized: Synthesized) -> dict[tuple[str, str], str]:
    """(construct path, rule) → reason, for every cdk-nag acknowledgement in both stacks."""
    found = {}
    for stack in (SOURCE_STACK, DESTINATION_STACK):
        metadata = json.loads((synthesized.outdir / f"{stack}.metadata.json").read_text())
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    for rule, reason in entry["data"].items():
                        found[(path, rule.removeprefix("Annotation::"))] = reason
    return found


def test_every_acknowledgement_is_narrow_and_says_why(scenario: Synthesized, glob_scenario: Synthesized) -> None:
    for synthesized in (scenario, glob_scenario):
        acknowledged = acknowledgements(synthesized)
        assert acknowledged
        for (path, rule), reason in acknowledged.items():
            assert len(reason.split()) >= 8, f"{path}: {rule} needs a reason"
            # IAM5 is acknowledged per wildcard resource, never for the whole rule.
            assert not rule.startswith("AwsSolutions-IAM5") or "[Resource::" in rule, (path, rule)
        role_star = (f"/{SOURCE_STACK}/Promoter/Role", "AwsSolutions-IAM5[Resource::*]")
        assert role_star in acknowledged
        assert "inspector2:ListFindings" in acknowledged[role_star]


def test_nag_fails_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    from aws_cdk import App, Stack, aws_sqs

    from infra.nag import check_with_nag

    app = App(outdir=str(tmp_path))
    aws_sqs.Queue(Stack(app, "Careless"), "Plaintext", encryption=aws_sqs.QueueEncryption.UNENCRYPTED)
    check_with_nag(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert {"AwsSolutions-SQS2", "AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules


@pytest.mark.parametrize("stack", [SOURCE_STACK, DESTINATION_STACK])
def test_cfn_lint_finds_no_errors(scenario: Synthesized, glob_scenario: Synthesized, stack: str) -> None:
    for synthesized in (scenario, glob_scenario):
        template = (synthesized.outdir / f"{stack}.template.json").read_text()
        errors = [str(match) for match in lint(template, regions=["us-west-2"]) if match.rule.id.startswith("E")]
        assert errors == []
