"""Reading synthesized templates: find resources, follow Refs, collect IAM statements."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    return copy.deepcopy(dict(context_from_file(str(ROOT / "cdk.json"))))


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
