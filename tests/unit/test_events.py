"""Event parsing: every sample under events/ (also the console test events) and a corpus of bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promoter.commands import Backfill
from promoter.events import (
    ApprovalDecision,
    ImagePushed,
    ImageTestResult,
    InvalidEvent,
    ManualPromote,
    NotActionable,
    PipelineSucceeded,
    Reconcile,
    ScanCompleted,
    StatusQuery,
    parse_event,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
DIGEST = "sha256:" + "ab" * 32
EXPECTED = {
    "ecr-push.json": ImagePushed,
    "ecr-push-untagged.json": ImagePushed,
    "ecr-delete.json": NotActionable,
    "ecr-scan.json": ScanCompleted,
    "inspector-scan.json": ScanCompleted,
    "test-result.json": ImageTestResult,
    "codepipeline-succeeded.json": PipelineSucceeded,
    "codebuild-succeeded.json": PipelineSucceeded,
    "schedule.json": Reconcile,
    "manual-promote.json": ManualPromote,
    "manual-promote-dry-run.json": ManualPromote,
    "manual-promote-override.json": ManualPromote,
    "manual-status.json": StatusQuery,
    "manual-reconcile.json": Reconcile,
    "manual-backfill.json": Backfill,
    "manual-approve.json": ApprovalDecision,
    "manual-reject.json": ApprovalDecision,
}


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_every_sample_event_has_an_expectation() -> None:
    assert sorted(path.name for path in EVENTS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize(("name", "kind"), sorted(EXPECTED.items()))
def test_sample_events_parse_into_their_command(name: str, kind: type) -> None:
    command = parse_event(load(name), request_id="req-1")

    assert isinstance(command, kind)


def test_push_keeps_repository_digest_tag_and_event_id() -> None:
    command = parse_event(load("ecr-push.json"), request_id="unused")

    assert isinstance(command, ImagePushed)
    assert (command.repository, command.tag, command.event_id) == (
        "dev-microservice",
        "v1.0.0",
        load("ecr-push.json")["id"],
    )


def test_scan_keeps_severity_counts_and_codebuild_its_source_version() -> None:
    scan = parse_event(load("ecr-scan.json"), request_id="r")
    build = parse_event(load("codebuild-succeeded.json"), request_id="r")

    assert isinstance(scan, ScanCompleted) and scan.severity_counts == {"HIGH": 1, "MEDIUM": 3}
    assert isinstance(build, PipelineSucceeded)
    assert build.suite == "codebuild:microservice-tests"
    assert build.revisions == ("4f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6",)


def test_inspector_scan_names_the_repository_by_arn_and_total_is_not_a_severity() -> None:
    scan = parse_event(load("inspector-scan.json"), request_id="r")

    assert isinstance(scan, ScanCompleted)
    assert (scan.repository, scan.registry_account) == ("dev-microservice", "111122223333")
    assert scan.severity_counts == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 3}


def test_manual_override_reason_and_request_id_are_kept() -> None:
    command = parse_event(load("manual-promote-override.json"), request_id="req-42")

    assert isinstance(command, ManualPromote)
    assert command.override_reason == "hotfix INC-1234, tests rerun by hand"
    assert command.event_id == "req-42"


def _test_result(**detail: object) -> dict:
    event = load("test-result.json")
    event["detail"].update(detail)
    return event


def _push(**detail: object) -> dict:
    event = load("ecr-push.json")
    event["detail"].update(detail)
    return event


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("not an object", "JSON object"),
        ([], "JSON object"),
        ({}, "neither an EventBridge event"),
        ({"action": "explode"}, "unknown action"),
        ({"action": 7}, "unknown action"),
        ({"action": "promote", "repository": "dev-a"}, "exactly one of 'tag' or 'digest'"),
        ({"action": "promote", "repository": "dev-a", "tag": "v1", "digest": DIGEST}, "exactly one"),
        ({"action": "promote", "repository": "../../etc/passwd", "tag": "v1"}, "not a valid repository name"),
        ({"action": "promote", "repository": "Dev-A", "tag": "v1"}, "not a valid repository name"),
        ({"action": "promote", "repository": "dev-a", "tag": "-bad"}, "not a valid tag"),
        ({"action": "promote", "repository": "dev-a", "tag": "x" * 129}, "not a valid tag"),
        ({"action": "promote", "repository": "dev-a", "digest": "sha256:1234"}, "sha256 digest"),
        ({"action": "promote", "repository": "dev-a", "tag": "v1", "override": {"reason": " "}}, "non-empty reason"),
        ({"action": "promote", "repository": "dev-a", "tag": "v1", "force": True}, "force"),
        ({"action": "reconcile", "everything": True}, "no other fields"),
        ({"action": "status", "repository": "dev-a"}, "exactly one"),
        ({"source": "aws.ecr", "detail-type": "ECR Image Action"}, "id"),
        (_test_result(result="MAYBE"), "result"),
        (_test_result(suite=""), "suite"),
        (_test_result(**{"image-digest": "sha256:" + "Z" * 64}), "sha256 digest"),
        (_test_result(**{"repository-name": "a" * 300}), "not a valid repository name"),
        (_test_result(extra="field"), "extra"),
        (_push(**{"image-digest": None}), "image-digest"),
        (_push(**{"repository-name": "dev/../prod"}), "not a valid repository name"),
        ({**load("ecr-push.json"), "time": "yesterday"}, "time"),
        ({**load("ecr-push.json"), "source": "evil.source"}, "unsupported event"),
        ({**load("test-result.json"), "source": "aws.ecr"}, "unsupported event"),
    ],
)
def test_unreadable_input_is_a_clear_error(event: object, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        parse_event(event, request_id="r")


def test_unsuccessful_push_and_incomplete_scan_are_not_actionable() -> None:
    failed_push = _push(result="FAILURE")
    scan = load("ecr-scan.json")
    scan["detail"]["scan-status"] = "IN_PROGRESS"

    assert isinstance(parse_event(failed_push, request_id="r"), NotActionable)
    assert isinstance(parse_event(scan, request_id="r"), NotActionable)


@pytest.mark.parametrize("status", ["FAILED", "UNSUPPORTED_IMAGE", "SCAN_ELIGIBILITY_EXPIRED"])
def test_a_scan_that_can_never_complete_is_read_as_a_final_failure(status: str) -> None:
    scan = load("ecr-scan.json")
    scan["detail"]["scan-status"] = status

    command = parse_event(scan, request_id="r")

    assert isinstance(command, ScanCompleted) and command.failure == f"{status} (the scan can never complete)"


def test_every_subscribed_event_has_one_reader_keyed_by_contract_names() -> None:
    from promoter.contract import DetailType, Source
    from promoter.events import EVENT_READERS

    assert (Source.ECR, DetailType.IMAGE_ACTION) in EVENT_READERS
    assert all(isinstance(source, Source) and isinstance(kind, DetailType) for source, kind in EVENT_READERS)


def test_a_codebuild_success_without_a_source_version_is_read_not_refused() -> None:
    event = load("codebuild-succeeded.json")
    event["detail"]["additional-information"] = {}

    build = parse_event(event, request_id="r")

    assert isinstance(build, PipelineSucceeded) and build.revisions == ()
    assert build.project_name == "microservice-tests"


def test_names_follow_the_one_grammar_of_registry_reference() -> None:
    longest = "a" * 256

    command = parse_event({"action": "status", "repository": longest, "tag": "v1"}, request_id="r")

    assert isinstance(command, StatusQuery) and command.repository == longest
    with pytest.raises(InvalidEvent, match="not a valid repository name"):
        parse_event({"action": "status", "repository": longest + "a", "tag": "v1"}, request_id="r")


@pytest.mark.parametrize(
    ("repository", "message"),
    [
        ("dev-microservice", "not an ECR repository ARN"),
        ("arn:aws:ecr:us-west-2:111122223333:repository/../prod", "not a valid repository name"),
        ("arn:aws:ecr:us-west-2:1111:repository/dev-a", "not an ECR repository ARN"),
    ],
)
def test_an_inspector_scan_without_a_repository_arn_is_refused(repository: str, message: str) -> None:
    event = load("inspector-scan.json")
    event["detail"]["repository-name"] = repository

    with pytest.raises(InvalidEvent, match=message):
        parse_event(event, request_id="r")
