"""AWS's published sample events (tests/fixtures/aws_events) parse and are what their names claim.

Shape checks only: feeding them through the handler is the core's test. The files are verbatim
copies; where each comes from is in tests/fixtures/aws_events/README.md (one line per file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "aws_events"

# file -> (source, detail-type, the detail fields that make it the documented case)
CLAIMS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "ecr-image-action-push.json": ("aws.ecr", "ECR Image Action", {"action-type": "PUSH", "result": "SUCCESS"}),
    "ecr-image-scan-basic.json": ("aws.ecr", "ECR Image Scan", {"scan-status": "COMPLETE", "image-tags": []}),
    "ecr-image-scan-basic-aws-lambda-go.json": ("aws.ecr", "ECR Image Scan", {"scan-status": "COMPLETE"}),
    "inspector2-scan-enhanced.json": ("aws.inspector2", "Inspector2 Scan", {"scan-status": "INITIAL_SCAN_COMPLETE"}),
    "codebuild-build-state-change-succeeded.json": (
        "aws.codebuild",
        "CodeBuild Build State Change",
        {"build-status": "SUCCEEDED"},
    ),
    "codebuild-build-state-change-succeeded-with-source-version.json": (
        "aws.codebuild",
        "CodeBuild Build State Change",
        {"build-status": "SUCCEEDED"},
    ),
    "codepipeline-pipeline-execution-succeeded.json": (
        "aws.codepipeline",
        "CodePipeline Pipeline Execution State Change",
        {"state": "SUCCEEDED"},
    ),
}


def _load(name: str) -> dict[str, Any]:
    loaded = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_every_fixture_is_claimed_and_listed_with_its_source() -> None:
    on_disk = {path.name for path in EVENTS.glob("*.json")}
    readme = (EVENTS / "README.md").read_text(encoding="utf-8")
    assert on_disk == set(CLAIMS)
    for name in on_disk:
        assert f"- `{name}` — " in readme, f"{name} has no source line in README.md"


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_sample_event_is_an_eventbridge_envelope_of_the_claimed_kind(name: str) -> None:
    source, detail_type, detail_fields = CLAIMS[name]
    event = _load(name)
    assert (event["source"], event["detail-type"]) == (source, detail_type)
    assert {"version", "id", "account", "time", "region", "resources", "detail"} <= event.keys()
    for key, value in detail_fields.items():
        assert event["detail"][key] == value


def test_inspector_names_the_repository_by_arn() -> None:
    # ECR user guide, enhanced scanning events: "repository-name": "arn:aws:ecr:us-east-2:...:repository/..."
    detail = _load("inspector2-scan-enhanced.json")["detail"]
    assert detail["repository-name"].startswith("arn:aws:ecr:")
    assert detail["repository-name"].endswith(":repository/amazon/amazon-ecs-sample")


def test_documented_codebuild_event_has_no_source_version_and_the_other_shape_has_one() -> None:
    plain = _load("codebuild-build-state-change-succeeded.json")["detail"]["additional-information"]
    with_version = _load("codebuild-build-state-change-succeeded-with-source-version.json")["detail"]
    assert "source-version" not in plain
    assert with_version["additional-information"]["source-version"] == "my-source-version"
    assert with_version["build-id"].startswith("arn:aws:codebuild:")


def test_documented_pipeline_success_carries_an_execution_id_and_no_revision() -> None:
    detail = _load("codepipeline-pipeline-execution-succeeded.json")["detail"]
    assert detail["execution-id"] == "12345678-1234-5678-abcd-12345678abcd"
    assert not {"revision", "source-version", "artifactRevisions"} & detail.keys()
