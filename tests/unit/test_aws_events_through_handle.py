"""AWS's own published sample events (tests/fixtures/aws_events, verbatim) fed through `handle`.

What each does, with a policy that has a rule for every repository, project and pipeline they name:
- ecr-image-action-push, ecr-image-scan-basic, inspector2-scan-enhanced: AWS's `image-digest` is not
  a sha256 digest (60 hex digits; or ending in EXAMPLE), so each is refused as unreadable input with
  that reason, and nothing is written.
- ecr-image-scan-basic-aws-lambda-go (COMPLETE, CRITICAL 10, HIGH 2): local mode takes the counts as
  evidence and rejects the image; with ECR the event names account 123456789012, not this one, and is
  ignored before any API call.
- codebuild-build-state-change-succeeded (S3 source, no source-version): local mode ignores it, it names
  no revision; with ECR the build is looked up by its `build-id` (unknown here: ignored, not an error).
- codebuild ... -with-source-version (`my-source-version`): local mode records the success for that
  revision; no image was built from it yet, so it is ignored with that reason.
- codepipeline-pipeline-execution-succeeded (no revision in the event): local mode ignores it (no
  revision); with ECR the execution is looked up through GetPipelineExecution (unknown here: ignored).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promoter.entry import handle
from tests.unit.fakes import rule, world

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "aws_events"
POLICY = {
    "rules": [
        rule("my-repository-name", "prod-my-repository-name", name="push"),
        rule("tribble-image-scan-test", "prod-tribble", name="scan", require={"scan": {"fail_on": ["CRITICAL"]}}),
        rule("amazon/amazon-ecs-sample", "prod/amazon-ecs-sample", name="inspector"),
        rule(
            "dev-app", "prod-app", name="ci", require={"tests": ["codebuild:my-sample-project", "pipeline:myPipeline"]}
        ),
    ]
}
BUILD = "codebuild-build-state-change-succeeded.json"
BUILD_WITH_VERSION = "codebuild-build-state-change-succeeded-with-source-version.json"
PIPELINE = "codepipeline-pipeline-execution-succeeded.json"
BUILD_ARN = "arn:aws:codebuild:us-west-2:123456789012:build/my-sample-project:8745a7a9-c340-456a-9166-edf953571bEX"

REFUSED = {
    "ecr-image-action-push.json": "image-digest",
    "ecr-image-scan-basic.json": "image-digest",
    "inspector2-scan-enhanced.json": "image-digest",
}
LOCAL = {
    "ecr-image-scan-basic-aws-lambda-go.json": ("rejected", ["scan: 10 CRITICAL finding(s)"]),
    BUILD: ("ignored", ["codebuild:my-sample-project succeeded but names no source revision"]),
    BUILD_WITH_VERSION: (
        "ignored",
        ["codebuild:my-sample-project succeeded for my-source-version; no image built from it yet"],
    ),
    PIPELINE: ("ignored", ["pipeline:myPipeline succeeded but names no source revision"]),
}
WITH_ECR = {
    "ecr-image-scan-basic-aws-lambda-go.json": (
        "ignored",
        ["scan of a repository in account 123456789012, not this account (111122223333)"],
    ),
    BUILD: ("ignored", [f"build {BUILD_ARN} does not exist: nothing to confirm"]),
    PIPELINE: (
        "ignored",
        ["pipeline myPipeline execution 12345678-1234-5678-abcd-12345678abcd does not exist: nothing to confirm"],
    ),
}


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_every_sample_event_has_a_stated_behaviour() -> None:
    assert {path.name for path in EVENTS.glob("*.json")} == set(REFUSED) | set(LOCAL)


@pytest.mark.parametrize(("name", "field"), sorted(REFUSED.items()))
def test_samples_with_an_invalid_digest_are_refused_and_write_nothing(name: str, field: str) -> None:
    w = world(POLICY)

    response = handle(load(name), w.services)

    assert response["decisions"] == [] and field in response["error"] and "sha256 digest" in response["error"]
    assert w.ledger.writes == 0


@pytest.mark.parametrize(("name", "expected"), sorted(LOCAL.items()))
def test_in_local_mode_the_samples_are_evidence(name: str, expected: tuple[str, list[str]]) -> None:
    w = world(POLICY)
    w.images.add("tribble-image-scan-test", "1572471135", digest=load(name)["detail"].get("image-digest"))

    decisions = handle(load(name), w.services)["decisions"]

    assert [(d["outcome"], d["reasons"]) for d in decisions] == [expected]


@pytest.mark.parametrize(("name", "expected"), sorted(WITH_ECR.items()))
def test_with_ecr_the_samples_are_only_triggers(name: str, expected: tuple[str, list[str]]) -> None:
    w = world(POLICY, apis=True)

    decisions = handle(load(name), w.services)["decisions"]

    assert [(d["outcome"], d["reasons"]) for d in decisions] == [expected]
    assert w.scans.reads == 0
