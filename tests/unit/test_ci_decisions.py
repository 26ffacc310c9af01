"""Pipeline and build successes as AWS sends them: confirmed through the API with ECR, taken from the
event in local mode, and ignored (with a reason, not an error) when no rule needs them or they name
no revision. Shapes: CodeBuild user guide (build notifications), CodePipeline user guide
(detect-state-changes-cloudwatch-events); GetPipelineExecution / BatchGetBuilds as
promoter.adapters.ci_runs reports them."""

from __future__ import annotations

import uuid

import pytest

from devtools.eventfactory import codebuild_event, codepipeline_event, push_event
from promoter.adapters.ci_runs import RunConfirmation
from promoter.entry import handle
from tests.unit.fakes import World, new_commit, rule, world

BUILD_ARN = "arn:aws:codebuild:us-west-2:111122223333:build/app-tests:8745a7a9-c340-456a-9166-edf953571b01"


@pytest.fixture
def names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"dev-{suffix}", f"prod-{suffix}"


def needs(dev: str, prod: str, suite: str) -> dict:
    return {"rules": [rule(dev, prod, require={"tests": [suite]})]}


def invoke(w: World, event: object) -> list[tuple[str | None, str, list[str]]]:
    response = handle(event, w.services, request_id=str(uuid.uuid4()))
    assert "error" not in response, response
    return [(d["digest"], d["outcome"], d["reasons"]) for d in response["decisions"]]


def build_event(project: str, source_version: str | None) -> dict:
    event = codebuild_event(project, source_version or "unused")
    if source_version is None:
        event["detail"]["additional-information"].pop("source-version")
    event["detail"]["build-id"] = BUILD_ARN
    return event


def succeeded(*revisions: str, status: str = "SUCCEEDED") -> RunConfirmation:
    return RunConfirmation(succeeded=status.upper() == "SUCCEEDED", status=status, revisions=revisions)


def test_with_ecr_the_build_revision_comes_from_the_api_not_the_event(names: tuple[str, str]) -> None:
    # Given an image built from commit A, and a build the API says ran on commit A
    dev, prod = names
    commit, forged = new_commit(), new_commit()
    w = world(needs(dev, prod, "codebuild:app-tests"), apis=True)
    image = w.images.add(dev, commit[:7], "v1")
    invoke(w, push_event(dev, image, commit[:7]))
    w.runs.builds[BUILD_ARN] = succeeded(commit)

    # When the build event names another commit (or none at all)
    decisions = invoke(w, build_event("app-tests", forged))

    # Then the API's revision maps the success to the image
    assert [(digest, kind) for digest, kind, _ in decisions] == [(image, "promoted")]
    assert w.runs.asked == [BUILD_ARN]


def test_a_documented_build_event_without_source_version_is_confirmed_through_the_api(names: tuple[str, str]) -> None:
    dev, prod = names
    commit = new_commit()
    w = world(needs(dev, prod, "codebuild:app-tests"), apis=True)
    image = w.images.add(dev, commit, "v1")
    invoke(w, push_event(dev, image, commit))
    w.runs.builds[BUILD_ARN] = succeeded(commit)

    decisions = invoke(w, build_event("app-tests", None))

    assert [(digest, kind) for digest, kind, _ in decisions] == [(image, "promoted")]


def test_a_build_the_api_says_failed_or_does_not_know_is_ignored(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(needs(dev, prod, "codebuild:app-tests"), apis=True)

    unknown = invoke(w, build_event("app-tests", new_commit()))
    w.runs.builds[BUILD_ARN] = succeeded(new_commit(), status="FAILED")
    failed = invoke(w, build_event("app-tests", new_commit()))

    assert unknown == [(None, "ignored", [f"build {BUILD_ARN} does not exist: nothing to confirm"])]
    assert failed == [(None, "ignored", [f"build {BUILD_ARN} is FAILED according to the API, not SUCCEEDED"])]
    assert w.ledger.writes == 0


def test_a_confirmed_build_without_a_revision_is_ignored_not_an_error(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(needs(dev, prod, "codebuild:app-tests"), apis=True)
    w.runs.builds[BUILD_ARN] = succeeded()  # an S3 source: BatchGetBuilds has no resolvedSourceVersion

    decisions = invoke(w, build_event("app-tests", None))

    assert decisions == [(None, "ignored", ["codebuild:app-tests succeeded but names no source revision"])]


def test_a_project_or_pipeline_no_rule_needs_is_ignored_without_asking_the_api(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(needs(dev, prod, "codebuild:app-tests"), apis=True)

    build = invoke(w, build_event("nightly-lint", new_commit()))
    pipeline = invoke(w, codepipeline_event("other-pipeline", "exec-1"))

    assert build == [(None, "ignored", ["no rule requires codebuild:nightly-lint"])]
    assert pipeline == [(None, "ignored", ["no rule requires pipeline:other-pipeline"])]
    assert w.runs.asked == []


def test_a_pipeline_execution_the_api_says_is_not_succeeded_is_ignored(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(needs(dev, prod, "pipeline:release"), apis=True)
    w.runs.pipelines[("release", "exec-9")] = succeeded(new_commit(), status="Failed")

    decisions = invoke(w, codepipeline_event("release", "exec-9"))

    assert decisions == [
        (None, "ignored", ["pipeline release execution exec-9 is Failed according to the API, not SUCCEEDED"])
    ]


def test_in_local_mode_the_build_events_revision_is_the_evidence(names: tuple[str, str]) -> None:
    dev, prod = names
    commit = new_commit()
    w = world(needs(dev, prod, "codebuild:app-tests"))
    image = w.images.add(dev, commit, "v1")
    invoke(w, push_event(dev, image, commit))

    decisions = invoke(w, build_event("app-tests", commit))
    pipeline = invoke(w, codepipeline_event("release", "exec-1"))

    assert [(digest, kind) for digest, kind, _ in decisions] == [(image, "promoted")]
    assert pipeline == [(None, "ignored", ["no rule requires pipeline:release"])]
    assert w.runs.asked == []
