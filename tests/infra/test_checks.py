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


def test_nag_found_nothing_unacknowledged(scenario: Synthesized, glob_scenario: Synthesized) -> None:
    # The fixtures' synth already raised ValidationFailed on any finding; the report confirms it was nag that ran.
    for synthesized in (scenario, glob_scenario):
        report = json.loads((synthesized.outdir / "validation-report.json").read_text())
        assert all(not plugin.get("violations") for plugin in report["pluginReports"])


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
