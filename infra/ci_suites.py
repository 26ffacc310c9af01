"""Which CodeBuild projects and CodePipeline pipelines the promotion policy relies on.

A required test suite named `codebuild:<project>` or `pipeline:<name>` is passed by a successful build
or pipeline run (the function confirms it with BatchGetBuilds / GetPipelineExecution). The stack listens
to, and may read, exactly those projects and pipelines: no suite, no rule and no permission. The names
end up in IAM resource ARNs and event patterns, so they are checked against the services' own grammar
here (a `*` in a suite name must never widen a grant).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from promoter.contract import SuitePrefix
from promoter.policy import Policy

# CodeBuild CreateProject `name`: 2-255 characters, `[A-Za-z0-9][A-Za-z0-9\-_]{1,254}`.
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_]{1,254}$")
# CodePipeline `name`: 1-100 characters of `[A-Za-z0-9.@\-_]`.
_PIPELINE = re.compile(r"^[A-Za-z0-9.@\-_]{1,100}$")


@dataclass(frozen=True)
class CiSuites:
    """The projects and pipelines named by required suites, each once, in policy order."""

    codebuild_projects: tuple[str, ...]
    pipelines: tuple[str, ...]


class SuiteNameError(ValueError):
    """A `codebuild:`/`pipeline:` suite does not name a valid project or pipeline."""


def ci_suites(policy: Policy) -> CiSuites:
    """The CodeBuild projects and pipelines that `policy`'s required suites name; SuiteNameError if one is invalid."""
    projects: dict[str, None] = {}
    pipelines: dict[str, None] = {}
    for rule in policy.rules:
        for suite in rule.require.tests:
            if suite.startswith(SuitePrefix.CODEBUILD):
                projects[_checked(rule.name, suite, SuitePrefix.CODEBUILD, _PROJECT, "CodeBuild project")] = None
            elif suite.startswith(SuitePrefix.PIPELINE):
                pipelines[_checked(rule.name, suite, SuitePrefix.PIPELINE, _PIPELINE, "CodePipeline pipeline")] = None
    return CiSuites(codebuild_projects=tuple(projects), pipelines=tuple(pipelines))


def _checked(rule: str, suite: str, prefix: str, grammar: re.Pattern[str], what: str) -> str:
    name = suite.removeprefix(prefix)
    if not grammar.fullmatch(name):
        raise SuiteNameError(
            f"rule {rule!r} requires suite {suite!r}, but {name!r} is not a {what} name "
            f"(no wildcards: the name scopes the function's read permission and the event rule)"
        )
    return name
