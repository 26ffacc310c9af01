"""PipelineRuns and BuildRuns against GetPipelineExecution / BatchGetBuilds as AWS documents them.

Sources:
- GetPipelineExecution response: ``"status": 'Cancelled'|'InProgress'|'Stopped'|'Stopping'|'Succeeded'|
  'Superseded'|'Failed'`` and ``artifactRevisions[].revisionId``; errors PipelineNotFoundException,
  PipelineExecutionNotFoundException:
  https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetPipelineExecution.html
- BatchGetBuilds: ``builds`` and ``buildsNotFound`` ("The IDs of builds for which information could
  not be found"): https://docs.aws.amazon.com/codebuild/latest/APIReference/API_BatchGetBuilds.html
- Build: ``buildStatus`` (SUCCEEDED | FAILED | FAULT | TIMED_OUT | IN_PROGRESS | STOPPED),
  ``resolvedSourceVersion`` ("For CodeCommit, GitHub, GitHub Enterprise, and BitBucket, the commit ID.
  For CodePipeline, the source revision provided by CodePipeline. For Amazon S3, this does not
  apply."), ``secondarySourceVersions`` ("An array of ProjectSourceVersion objects. Each
  ProjectSourceVersion must be one of: ... the commit ID, branch, or Git tag to use"):
  https://docs.aws.amazon.com/codebuild/latest/APIReference/API_Build.html

moto implements GetPipelineExecution's two not-found errors correctly and is used for them. moto's
BatchGetBuilds diverges (every build comes back SUCCEEDED, no ``resolvedSourceVersion``, no
``buildsNotFound``), so CodeBuild is pinned with Stubber only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from promoter.adapters.ci_runs import BuildRuns, PipelineRuns, RunNotFound, build_id_of

CREDENTIALS = {"region_name": "us-west-2", "aws_access_key_id": "a", "aws_secret_access_key": "b"}


def _commit() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex[:8]


@pytest.fixture
def pipelines() -> Iterator[tuple[PipelineRuns, Stubber]]:
    client = boto3.client("codepipeline", **CREDENTIALS)
    with Stubber(client) as stubber:
        yield PipelineRuns(client), stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def builds() -> Iterator[tuple[BuildRuns, Stubber]]:
    client = boto3.client("codebuild", **CREDENTIALS)
    with Stubber(client) as stubber:
        yield BuildRuns(client), stubber
        stubber.assert_no_pending_responses()


def _execution(execution_id: str, status: str, revisions: list[str]) -> dict[str, Any]:
    artifacts = [{"name": "SourceArtifact", "revisionId": r, "revisionSummary": "a commit"} for r in revisions]
    return {
        "pipelineExecution": {
            "pipelineName": "myPipeline",
            "pipelineVersion": 3,
            "pipelineExecutionId": execution_id,
            "status": status,
            "artifactRevisions": artifacts,
        }
    }


def test_a_succeeded_execution_yields_its_artifact_revisions(pipelines: tuple[PipelineRuns, Stubber]) -> None:
    # Given GetPipelineExecution reporting "Succeeded" (title case, unlike the event's SUCCEEDED) with two sources
    runs, stubber = pipelines
    execution_id, first, second = str(uuid.uuid4()), _commit(), _commit()
    stubber.add_response(
        "get_pipeline_execution",
        _execution(execution_id, "Succeeded", [first, second, first]),
        {"pipelineName": "myPipeline", "pipelineExecutionId": execution_id},
    )
    # When it is confirmed
    confirmation = runs.confirm("myPipeline", execution_id)
    # Then the revisions come from the API, each once
    assert confirmation.succeeded
    assert (confirmation.status, confirmation.revisions, confirmation.name) == (
        "Succeeded",
        (first, second),
        "myPipeline",
    )


@pytest.mark.parametrize("status", ["InProgress", "Stopped", "Stopping", "Superseded", "Failed", "Cancelled"])
def test_any_other_execution_status_is_not_a_success(pipelines: tuple[PipelineRuns, Stubber], status: str) -> None:
    runs, stubber = pipelines
    execution_id = str(uuid.uuid4())
    stubber.add_response("get_pipeline_execution", _execution(execution_id, status, [_commit()]))
    confirmation = runs.confirm("myPipeline", execution_id)
    assert (confirmation.succeeded, confirmation.status) == (False, status)


def test_an_execution_without_artifacts_names_no_revision(pipelines: tuple[PipelineRuns, Stubber]) -> None:
    runs, stubber = pipelines
    execution_id = str(uuid.uuid4())
    stubber.add_response("get_pipeline_execution", _execution(execution_id, "Succeeded", []))
    assert runs.confirm("myPipeline", execution_id).revisions == ()


def test_pipeline_throttling_propagates(pipelines: tuple[PipelineRuns, Stubber]) -> None:
    runs, stubber = pipelines
    stubber.add_client_error("get_pipeline_execution", service_error_code="ThrottlingException", http_status_code=400)
    with pytest.raises(ClientError):
        runs.confirm("myPipeline", str(uuid.uuid4()))


BUILD_ID = "my-sample-project:8745a7a9-c340-456a-9166-edf953571bEX"
BUILD_ARN = "arn:aws:codebuild:us-west-2:123456789012:build/" + BUILD_ID  # the event's build-id (AWS sample)


def _build(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": BUILD_ID,
        "arn": BUILD_ARN,
        "projectName": "my-sample-project",
        "buildStatus": status,
        "buildComplete": status != "IN_PROGRESS",
        **fields,
    }


def test_a_succeeded_build_yields_its_resolved_source_version(builds: tuple[BuildRuns, Stubber]) -> None:
    # Given a GitHub build that asked for a branch and resolved it to a commit, plus a secondary source
    runs, stubber = builds
    commit = _commit()
    build = _build(
        "SUCCEEDED",
        sourceVersion="refs/heads/main",
        resolvedSourceVersion=commit,
        secondarySourceVersions=[{"sourceIdentifier": "tools", "sourceVersion": "main"}],
    )
    stubber.add_response("batch_get_builds", {"builds": [build]}, {"ids": [BUILD_ID]})
    # When the event's build ARN is confirmed
    confirmation = runs.confirm(BUILD_ARN)
    # Then only the resolved commit counts; the requested secondary version is reported, not trusted
    assert confirmation.succeeded
    assert (confirmation.revisions, confirmation.requested_versions) == ((commit,), ("main",))
    assert confirmation.name == "my-sample-project"


@pytest.mark.parametrize("status", ["FAILED", "FAULT", "TIMED_OUT", "IN_PROGRESS", "STOPPED"])
def test_any_other_build_status_is_not_a_success(builds: tuple[BuildRuns, Stubber], status: str) -> None:
    runs, stubber = builds
    stubber.add_response("batch_get_builds", {"builds": [_build(status, resolvedSourceVersion=_commit())]})
    confirmation = runs.confirm(BUILD_ID)
    assert (confirmation.succeeded, confirmation.status) == (False, status)


def test_an_s3_source_build_names_no_revision(builds: tuple[BuildRuns, Stubber]) -> None:
    # "For Amazon S3, this does not apply": the object version is no commit and is not used
    runs, stubber = builds
    stubber.add_response("batch_get_builds", {"builds": [_build("SUCCEEDED", sourceVersion="3HL4kqtJl.Vb")]})
    confirmation = runs.confirm(BUILD_ID)
    assert (confirmation.succeeded, confirmation.revisions) == (True, ())


def test_a_build_in_builds_not_found_is_run_not_found(builds: tuple[BuildRuns, Stubber]) -> None:
    runs, stubber = builds
    stubber.add_response("batch_get_builds", {"builds": [], "buildsNotFound": [BUILD_ID]}, {"ids": [BUILD_ID]})
    with pytest.raises(RunNotFound) as raised:
        runs.confirm(BUILD_ARN)
    assert (raised.value.run, raised.value.code) == (BUILD_ID, "buildsNotFound")


def test_an_answer_about_another_build_is_not_a_confirmation(builds: tuple[BuildRuns, Stubber]) -> None:
    runs, stubber = builds
    other = _build("SUCCEEDED", resolvedSourceVersion=_commit()) | {"id": "other-project:" + str(uuid.uuid4())}
    stubber.add_response("batch_get_builds", {"builds": [other]})
    with pytest.raises(RunNotFound):
        runs.confirm(BUILD_ID)


def test_codebuild_invalid_input_propagates(builds: tuple[BuildRuns, Stubber]) -> None:
    runs, stubber = builds
    stubber.add_client_error("batch_get_builds", service_error_code="InvalidInputException", http_status_code=400)
    with pytest.raises(ClientError):
        runs.confirm("not-a-build-id")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (BUILD_ARN, BUILD_ID),
        (BUILD_ID, BUILD_ID),
        ("arn:aws-cn:codebuild:cn-north-1:123456789012:build/p:1", "p:1"),
    ],
)
def test_build_id_of(given: str, expected: str) -> None:
    assert build_id_of(given) == expected
