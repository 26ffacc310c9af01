"""The deploy workflow: pinned actions, tests (and an apt-free synth) before anything deploys, installs before
credentials, a cdk diff in the job summary, a production environment, OIDC roles named by repository variables."""

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


def index_of(job_steps: list[dict[str, Any]], predicate: Any) -> int:
    return next(i for i, step in enumerate(job_steps) if predicate(step))


def is_credentials(step: dict[str, Any]) -> bool:
    return str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")


def test_every_action_is_pinned_by_full_commit_sha(workflow: dict[str, Any]) -> None:
    uses = [step["uses"] for job in workflow["jobs"] for step in steps(workflow, job) if "uses" in step]
    assert uses
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", use) for use in uses), uses


def test_test_job_synthesizes_before_the_test_bootstrap_installs_the_registry(workflow: dict[str, Any]) -> None:
    runs = [step.get("run") for step in steps(workflow, "test")]
    assert runs.index("make synth") < runs.index("make test")


def test_unit_tier_also_runs_on_the_newest_python(workflow: dict[str, Any]) -> None:
    job = steps(workflow, "unit-newest-python")
    (setup,) = [s for s in job if str(s.get("uses", "")).startswith("actions/setup-python@")]
    assert tuple(int(part) for part in setup["with"]["python-version"].split(".")) >= (3, 14)
    assert any("pytest" in str(s.get("run")) and "tests/unit" in str(s.get("run")) for s in job)


@pytest.mark.parametrize(("job", "role"), [("plan", "AWS_PLAN_ROLE_ARN"), ("deploy", "AWS_DEPLOY_ROLE_ARN")])
def test_installs_happen_before_credentials(workflow: dict[str, Any], job: str, role: str) -> None:
    job_steps = steps(workflow, job)
    install = index_of(job_steps, lambda s: s.get("run") == "make deploy-tools")
    credentials = index_of(job_steps, is_credentials)
    assert install < credentials
    with_ = job_steps[credentials]["with"]
    assert with_["role-to-assume"] == f"${{{{ vars.{role} }}}}"
    assert "aws-access-key-id" not in with_
    later = " ".join(str(s.get("run", "")) for s in job_steps[credentials + 1 :])
    assert "pip install" not in later and "npm " not in later and "deploy-tools" not in later


def test_plan_puts_the_diff_in_the_job_summary(workflow: dict[str, Any]) -> None:
    plan = workflow["jobs"]["plan"]
    assert plan["needs"] == "test"
    (diff,) = [s for s in plan["steps"] if "make diff" in str(s.get("run"))]
    assert "GITHUB_STEP_SUMMARY" in diff["run"] and "cdk.out/diff.txt" in diff["run"]
    assert "environment" not in plan, "the plan job reads; only the deploy job needs the protected environment"


def test_deploy_runs_after_the_plan_in_the_production_environment(workflow: dict[str, Any]) -> None:
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "plan"
    assert deploy["environment"] == "production"
    for job in ("plan", "deploy"):
        gate = workflow["jobs"][job]["if"]
        assert "refs/heads/main" in gate and "push" in gate
        assert workflow["jobs"][job]["permissions"]["id-token"] == "write"
    last = deploy["steps"][-1]["run"]
    assert last.startswith("make deploy REQUIRE_APPROVAL=never") and "GITHUB_STEP_SUMMARY" in last
    assert workflow["permissions"] == {"contents": "read"}


def test_no_job_deploys_with_npx_or_an_unpinned_cli(workflow: dict[str, Any]) -> None:
    runs = " ".join(str(s.get("run", "")) for job in workflow["jobs"] for s in steps(workflow, job))
    assert "npx" not in runs and "npm install -g" not in runs
