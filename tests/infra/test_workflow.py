"""The deploy workflow: pinned actions, tests before deploy, OIDC into a role named by a repository variable."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.support.cdk import ROOT


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    return data


def steps(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return list(workflow["jobs"][job]["steps"])


def test_every_action_is_pinned_by_full_commit_sha(workflow: dict[str, Any]) -> None:
    uses = [step["uses"] for job in workflow["jobs"] for step in steps(workflow, job) if "uses" in step]
    assert uses
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", use) for use in uses), uses


def test_test_job_runs_make_test(workflow: dict[str, Any]) -> None:
    assert "make test" in [step.get("run") for step in steps(workflow, "test")]


def test_deploy_runs_after_tests_on_main_with_oidc(workflow: dict[str, Any]) -> None:
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "test"
    assert "refs/heads/main" in deploy["if"] and "push" in deploy["if"]
    assert deploy["permissions"]["id-token"] == "write"
    (credentials,) = [
        s for s in deploy["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    ]
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert "aws-access-key-id" not in credentials["with"]
    assert deploy["steps"][-1]["run"] == "make deploy"
    assert workflow["permissions"] == {"contents": "read"}
