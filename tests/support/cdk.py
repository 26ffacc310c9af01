"""Synthesizing the CDK app once per test run, and reading its templates: resources, Refs, IAM statements.

Synth starts Node (jsii) and takes seconds, so it happens once per context; under pytest-xdist the
workers share one result through a lock file in the run's common temp directory.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.application import DESTINATION_STACK, SOURCE_STACK
from infra.config import context_from_file

ROOT = Path(__file__).resolve().parents[2]

Template = dict[str, Any]


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    context: dict[str, Any]

    def template(self, stack: str) -> Template:
        return json.loads((self.outdir / f"{stack}.template.json").read_text())

    @property
    def source(self) -> Template:
        return self.template(SOURCE_STACK)

    @property
    def destination(self) -> Template:
        return self.template(DESTINATION_STACK)

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.outdir / "manifest.json").read_text())


def scenario_context() -> dict[str, Any]:
    return copy.deepcopy(dict(context_from_file()))


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == kind}


def only(template: Template, kind: str, where: Callable[[dict[str, Any]], bool] = lambda _: True) -> tuple[str, Any]:
    """The one resource of `kind` matching `where`: (logical id, properties)."""
    found = [(name, body.get("Properties", {})) for name, body in resources(template, kind).items() if where(body)]
    assert len(found) == 1, f"expected one {kind}, found {[name for name, _ in found]}"
    return found[0]


def ref_of(value: Any) -> str | None:
    """The logical id a `Ref` / `Fn::GetAtt` points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    """Every statement of every IAM policy attached to `role_id` (inline `AWS::IAM::Policy` resources)."""
    statements = []
    for body in resources(template, "AWS::IAM::Policy").values():
        props = body["Properties"]
        if role_id in [ref_of(role) for role in props.get("Roles", [])]:
            statements.extend(props["PolicyDocument"]["Statement"])
    return statements


def function_named(template: Template, handler: str) -> tuple[str, Any]:
    return only(template, "AWS::Lambda::Function", lambda body: body["Properties"].get("Handler") == handler)


# The other shapes a policy can take, in one synth: a glob rule whose suites name a CodeBuild project and
# a pipeline (targets created by the function), and a named rule whose target exists already (adopted);
# alarms also notify a team's existing topic.
GLOB_POLICY = {
    "rules": [
        {
            "name": "services",
            "source": "dev-*",
            "target": "prod-{name}",
            "tags": ["v*"],
            "require": {"tests": ["codebuild:build-services", "pipeline:release-services", "integration"]},
        },
        {"name": "legacy", "source": "legacy-app", "target": "prod-legacy-app"},
    ],
    "allow_override": True,
}
GLOB_EXISTING_TARGETS = ["prod-legacy-app"]
GLOB_ALARM_TOPICS = ["arn:aws:sns:us-west-2:999988887777:team-pager"]


def glob_context() -> dict[str, Any]:
    context = scenario_context()
    context["promotion_policy"] = copy.deepcopy(GLOB_POLICY)
    context["existing_target_repositories"] = list(GLOB_EXISTING_TARGETS)
    context["alarm_topic_arns"] = list(GLOB_ALARM_TOPICS)
    return context


def synthesize(context: dict[str, Any], outdir: Path) -> None:
    """What `make synth` does, in-process: build both stacks, run cdk-nag, write the cloud assembly."""
    from aws_cdk import App

    from infra.application import build

    app = App(context=context, outdir=str(outdir))
    build(app)
    app.synth()


def synth_once(tmp_path_factory: pytest.TempPathFactory, name: str, context: dict[str, Any]) -> Synthesized:
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker has its own basetemp; their parent belongs to this run only.
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    outdir, done = root / f"{name}.cdk.out", root / f"{name}.done"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            synthesize(context, outdir)
            done.write_text("ok")
    return Synthesized(outdir=outdir, context=context)
