"""The settings decide where evidence comes from: with ECR the APIs (events are triggers), with a plain
registry the events themselves. No AWS call is made by building the services."""

from __future__ import annotations

import json

import pytest

from promoter.adapters.evidence import CodeBuildRuns, CodePipelineRuns, EcrScans
from promoter.config import ConfigError, Settings
from promoter.contract import Env
from promoter.wiring import build_services

POLICY = json.dumps({"rules": [{"name": "r", "source": "dev-a", "target": "prod-a"}]})


def settings(**extra: str) -> Settings:
    return Settings.from_environ(
        {Env.PROMOTION_POLICY: POLICY, Env.LEDGER_TABLE: "ledger", "AWS_REGION": "us-west-2", **extra}
    )


def test_with_ecr_scans_and_runs_are_read_from_the_apis_of_this_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    services = build_services(settings(), "111122223333")

    assert isinstance(services.scans, EcrScans)
    assert isinstance(services.pipeline_runs, CodePipelineRuns) and isinstance(services.build_runs, CodeBuildRuns)
    assert services.account_id == "111122223333"


def test_with_a_plain_registry_the_events_are_the_evidence() -> None:
    local = settings(**{Env.REGISTRY_ENDPOINT: "http://127.0.0.1:5000"})

    services = build_services(local, "111122223333")

    assert local.events_are_evidence
    assert (services.scans, services.pipeline_runs, services.build_runs, services.account_id) == (
        None,
        None,
        None,
        None,
    )


def test_ecr_needs_the_account_id() -> None:
    with pytest.raises(ValueError, match="account id"):
        build_services(settings(), None)


def test_a_malformed_registry_endpoint_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=Env.REGISTRY_ENDPOINT):
        settings(**{Env.REGISTRY_ENDPOINT: "127.0.0.1:5000/v2"})


def test_a_trust_section_wires_the_kms_verifier_of_signed_results() -> None:
    from promoter.adapters.signed_results import KmsTestResults

    key = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    policy = json.dumps(
        {
            "rules": [{"name": "r", "source": "dev-a", "target": "prod-a"}],
            "trust": {"test_results": {"signed_by": [key]}},
        }
    )
    local = Settings.from_environ(
        {
            Env.PROMOTION_POLICY: policy,
            Env.LEDGER_TABLE: "t",
            Env.REGISTRY_ENDPOINT: "http://127.0.0.1:5000",
            "AWS_REGION": "us-west-2",
        }
    )

    assert isinstance(build_services(local, None).test_results, KmsTestResults)
    assert build_services(settings(**{Env.REGISTRY_ENDPOINT: "http://127.0.0.1:5000"}), None).test_results is None


def test_targets_are_created_only_with_ecr_and_a_target_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    from promoter.adapters.ecr_targets import EcrTargetRepositories

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    policy = json.dumps({"Statement": [{"Effect": "Deny", "Action": "ecr:PutImage", "Principal": "*"}]})

    with_ecr = build_services(settings(**{Env.TARGET_REPOSITORY_POLICY: policy}), "111122223333")
    local = build_services(
        settings(**{Env.TARGET_REPOSITORY_POLICY: policy, Env.REGISTRY_ENDPOINT: "http://127.0.0.1:5000"}), None
    )
    without = build_services(settings(), "111122223333")

    assert isinstance(with_ecr.targets, EcrTargetRepositories)
    assert local.targets is None and without.targets is None


def test_a_rule_requiring_approval_wires_the_kms_approval_verifier() -> None:
    from promoter.adapters.signed_results import KmsApprovals

    keys = ["arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
    approving = json.dumps(
        {"rules": [{"name": "r", "source": "dev-a", "target": "prod-a", "require": {"approval": {"signed_by": keys}}}]}
    )
    local = {Env.REGISTRY_ENDPOINT: "http://127.0.0.1:5000"}

    assert isinstance(
        build_services(settings(**local, **{Env.PROMOTION_POLICY: approving}), None).approvals, KmsApprovals
    )
    assert build_services(settings(**local), None).approvals is None
