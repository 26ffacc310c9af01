"""Synthesize the CDK app once per test run and hand the templates to every infra test.

Synth starts Node (jsii) and takes seconds, so it happens once per context; under pytest-xdist the
workers share one result through a lock file in the run's common temp directory.
"""

from __future__ import annotations

import pytest

from tests.support.cdk import Synthesized, glob_context, keys_context, scenario_context, synth_once


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app exactly as cdk.json configures it (the reference scenario)."""
    return synth_once(tmp_path_factory, "scenario", scenario_context())


@pytest.fixture(scope="session")
def glob_scenario(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """A glob rule (`dev-*` → `prod-{name}`) requiring CodeBuild/pipeline suites, and an adopted named target."""
    return synth_once(tmp_path_factory, "glob", glob_context())


@pytest.fixture(scope="session")
def keys_scenario(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Both signing keys on, and a policy whose trust section and approval name keys in every spelling."""
    return synth_once(tmp_path_factory, "keys", keys_context())
