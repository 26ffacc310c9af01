"""Pipeline and build successes confirmed with the CodePipeline and CodeBuild APIs.

Why this module exists: a ``CodePipeline Pipeline Execution State Change`` or ``CodeBuild Build
State Change`` event is only a trigger. Its ``state``/``build-status`` and any revision it carries
can be forged by whoever may invoke the function, and AWS's documented CodeBuild event often has
no ``source-version`` at all. The run's status and its source revisions are therefore read from
the API, by the run's id from the event:

- GetPipelineExecution: ``pipelineExecution.status`` (``Succeeded`` | ``InProgress`` | ``Stopped``
  | ``Stopping`` | ``Superseded`` | ``Failed`` | ``Cancelled``; note the API's title case, where
  the event says ``SUCCEEDED``) and ``artifactRevisions[].revisionId`` (the commit for Git
  sources). Needs ``codepipeline:GetPipelineExecution``.
- BatchGetBuilds: ``builds[0].buildStatus`` (``SUCCEEDED`` | ``FAILED`` | ``FAULT`` |
  ``TIMED_OUT`` | ``IN_PROGRESS`` | ``STOPPED``), ``resolvedSourceVersion`` ("For CodeCommit,
  GitHub, GitHub Enterprise, and BitBucket, the commit ID. For CodePipeline, the source revision
  provided by CodePipeline. For Amazon S3, this does not apply.") and ``buildsNotFound``.
  Needs ``codebuild:BatchGetBuilds``.

Only *resolved* revisions count: ``secondarySourceVersions[].sourceVersion`` is what was
*requested* (a branch or tag name is allowed there), so it is reported separately and never
used to match image tags. A run that names no revision is reported with ``revisions == ()``;
the caller turns that into an ``ignored`` decision. Missing runs raise :class:`RunNotFound`;
throttling and 5xx propagate (boto's retries ran first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

_PIPELINE_MISSING = frozenset({"PipelineNotFoundException", "PipelineExecutionNotFoundException"})
_SUCCEEDED = "SUCCEEDED"
# Build ARNs look like arn:aws:codebuild:<region>:<account>:build/<project>:<uuid>; the Build id is
# the part after "build/" (CodeBuild user guide, build notifications input format reference).
_BUILD_ARN_MARKER = ":build/"


@dataclass(frozen=True)
class RunConfirmation:
    """What the CI API says about one run. ``revisions`` are resolved source revisions only."""

    succeeded: bool
    status: str
    revisions: tuple[str, ...]
    name: str | None = None  # the pipeline or project the API says the run belongs to
    requested_versions: tuple[str, ...] = ()  # CodeBuild secondarySourceVersions: not evidence


class RunNotFound(Exception):
    """The pipeline, execution or build does not exist (or not in this account and region)."""

    def __init__(self, kind: str, run: str, code: str) -> None:
        super().__init__(f"{kind} {run}: {code}")
        self.kind = kind
        self.run = run
        self.code = code


class PipelineRuns:
    """Confirms a CodePipeline execution through an injected ``codepipeline`` client."""

    def __init__(self, codepipeline_client: Any) -> None:
        self._codepipeline = codepipeline_client

    def confirm(self, pipeline: str, execution_id: str) -> RunConfirmation:
        """The execution's status and artifact revisions, as GetPipelineExecution reports them."""
        try:
            answer = self._codepipeline.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution_id)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _PIPELINE_MISSING:
                raise RunNotFound("pipeline execution", f"{pipeline}/{execution_id}", code) from error
            raise
        execution = answer.get("pipelineExecution") or {}
        status = str(execution.get("status") or "")
        revisions = _unique(artifact.get("revisionId") for artifact in execution.get("artifactRevisions") or [])
        return RunConfirmation(
            succeeded=status.upper() == _SUCCEEDED,
            status=status,
            revisions=revisions,
            name=execution.get("pipelineName"),
        )


class BuildRuns:
    """Confirms a CodeBuild build through an injected ``codebuild`` client."""

    def __init__(self, codebuild_client: Any) -> None:
        self._codebuild = codebuild_client

    def confirm(self, build_id: str) -> RunConfirmation:
        """The build's status and resolved source version; ``build_id`` may be the id or the ARN."""
        wanted = build_id_of(build_id)
        answer = self._codebuild.batch_get_builds(ids=[wanted])
        builds = [build for build in answer.get("builds") or [] if build.get("id") == wanted]
        if not builds:
            missing = "buildsNotFound" if wanted in (answer.get("buildsNotFound") or []) else "no such build"
            raise RunNotFound("build", wanted, missing)
        build = builds[0]
        status = str(build.get("buildStatus") or "")
        requested = _unique(source.get("sourceVersion") for source in build.get("secondarySourceVersions") or [])
        return RunConfirmation(
            succeeded=status == _SUCCEEDED,
            status=status,
            revisions=_unique([build.get("resolvedSourceVersion")]),
            name=build.get("projectName"),
            requested_versions=requested,
        )


def build_id_of(build_id_or_arn: str) -> str:
    """``project:uuid`` from a build ARN (what the event's ``build-id`` carries), or the id unchanged."""
    _, marker, tail = build_id_or_arn.partition(_BUILD_ARN_MARKER)
    return tail if marker and build_id_or_arn.startswith("arn:") else build_id_or_arn


def _unique(values: Iterable[object]) -> tuple[str, ...]:
    """Non-empty strings, first occurrence order."""
    return tuple(dict.fromkeys(str(value) for value in values if isinstance(value, str) and value))
