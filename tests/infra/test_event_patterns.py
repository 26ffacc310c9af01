"""The synthesized event patterns against events in the shapes AWS documents (moto's EventBridge matcher).

Shapes (the fields a pattern can look at; values changed to this scenario's names):
- `Inspector2 Scan`: ECR user guide, "EventBridge events sent for enhanced scanning" — source
  aws.inspector2, detail.scan-status INITIAL_SCAN_COMPLETE, detail.repository-name is the repository ARN.
- `ECR Image Scan` / `ECR Image Action`: ECR user guide, "Amazon ECR events and EventBridge".
- `CodeBuild Build State Change`: CodeBuild user guide, build notifications sample — detail.build-status,
  detail.project-name (also aws/aws-lambda-go events/testdata, aws_lambda_events fixtures).
- `CodePipeline Pipeline Execution State Change`: CodePipeline user guide — detail.pipeline, detail.state.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from promoter.contract import DetailType, Source
from tests.support.cdk import Synthesized, resources

ACCOUNT, REGION = "111122223333", "us-west-2"
DIGEST = "sha256:" + "ab" * 32


def repository_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:ecr:{REGION}:{account}:repository/{name}"


def event(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "0c18352a-a4d4-6853-ef53-0abEXAMPLE",
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": "2026-11-29T08:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def inspector_scan(repository: str, status: str = "INITIAL_SCAN_COMPLETE") -> dict[str, Any]:
    return event(
        Source.INSPECTOR,
        DetailType.INSPECTOR_SCAN,
        {
            "scan-status": status,
            "repository-name": repository,
            "finding-severity-counts": {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "TOTAL": 3},
            "image-digest": DIGEST,
            "image-tags": ["v1.0.0"],
        },
    )


def basic_scan(repository: str) -> dict[str, Any]:
    return event(
        Source.ECR,
        DetailType.IMAGE_SCAN,
        {
            "scan-status": "COMPLETE",
            "repository-name": repository,
            "finding-severity-counts": {"CRITICAL": 0},
            "image-digest": DIGEST,
            "image-tags": [],
        },
    )


def build(project: str, status: str = "SUCCEEDED") -> dict[str, Any]:
    return event(
        Source.CODEBUILD,
        DetailType.BUILD_STATE,
        {
            "build-status": status,
            "project-name": project,
            "build-id": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{project}:8745a7a9-c340-456a-9166-edf953571bEX",
            "additional-information": {"source-version": "0123456789abcdef0123456789abcdef01234567"},
        },
    )


def pipeline_run(pipeline: str, state: str = "SUCCEEDED") -> dict[str, Any]:
    return event(
        Source.CODEPIPELINE,
        DetailType.PIPELINE_EXECUTION,
        {"pipeline": pipeline, "execution-id": "01234567-0123-0123-0123-012345678901", "state": state, "version": 1},
    )


def matched_by(synthesized: Synthesized, raw: dict[str, Any]) -> list[str]:
    """Logical ids of the source stack's rules whose pattern matches `raw`."""
    return [
        name
        for name, body in resources(synthesized.source, "AWS::Events::Rule").items()
        if "EventPattern" in body["Properties"]
        and EventPattern.load(json.dumps(body["Properties"]["EventPattern"])).matches_event(raw)
    ]


@pytest.mark.parametrize(
    ("raw", "wakes"),
    [
        (inspector_scan(repository_arn("dev-payments")), True),
        (inspector_scan(repository_arn("legacy-app")), True),
        (inspector_scan(repository_arn("dev-payments", account="999988887777")), False),  # another registry
        (inspector_scan(repository_arn("prod-payments")), False),  # a target: nothing to gate
        (inspector_scan("dev-payments"), False),  # Inspector names the repository by ARN, never by name
        (basic_scan("dev-payments"), True),
        (basic_scan("prod-payments"), False),
        (build("build-services"), True),
        (build("build-services", status="FAILED"), False),
        (build("some-other-project"), False),  # every other build of the account stays out
        (pipeline_run("release-services"), True),
        (pipeline_run("release-services", state="FAILED"), False),
        (pipeline_run("another-pipeline"), False),
    ],
)
def test_rules_wake_the_function_only_for_what_the_policy_needs(
    glob_scenario: Synthesized, raw: dict[str, Any], wakes: bool
) -> None:
    matched = matched_by(glob_scenario, raw)
    assert len(matched) == (1 if wakes else 0), matched


def test_without_ci_suites_no_build_or_pipeline_wakes_the_function(scenario: Synthesized) -> None:
    assert matched_by(scenario, build("build-services")) == []
    assert matched_by(scenario, pipeline_run("release-services")) == []
    assert len(matched_by(scenario, inspector_scan(repository_arn("dev-microservice")))) == 1
