"""Synthesize the CDK app once per test run and hand the templates to every infra test.

Synth starts Node (jsii) and takes seconds, so it happens once per context; under pytest-xdist the
workers share one result through a lock file in the run's common temp directory.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

import pytest

from infra.application import build
from tests.infra.helpers import Synthesized, scenario_context

GLOB_POLICY = {
    "rules": [{"name": "services", "source": "dev-*", "target": "prod-{name}", "tags": ["v*"]}],
    "allow_override": True,
}


def synthesize(context: dict[str, Any], outdir: Path) -> None:
    """What `make synth` does, in-process: build both stacks, run cdk-nag, write the cloud assembly."""
    from aws_cdk import App

    app = App(context=context, outdir=str(outdir))
    build(app)
    app.synth()


def _synth_once(tmp_path_factory: pytest.TempPathFactory, name: str, context: dict[str, Any]) -> Synthesized:
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


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app exactly as cdk.json configures it (the reference scenario)."""
    return _synth_once(tmp_path_factory, "scenario", scenario_context())


@pytest.fixture(scope="session")
def glob_scenario(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """A policy with globs (`dev-*` → `prod-{name}`): wildcard IAM resources and prefix event matching."""
    context = scenario_context()
    context["promotion_policy"] = GLOB_POLICY
    return _synth_once(tmp_path_factory, "glob", context)
