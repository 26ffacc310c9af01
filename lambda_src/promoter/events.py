"""Every input the function accepts, read into one command by a dispatch table; nothing else parses input.

EventBridge events are dispatched on (source, detail-type) to one reader each; manual invocations
(Lambda console, CLI) on their `action` (readers in promoter.manual_events, shared field types in
promoter.event_fields). Anything unreadable raises `InvalidEvent` with a reason a
human can act on; the entry point turns it into `{"decisions": [], "error": ...}` before anything is
written. Names are checked by promoter.registry.reference, the one OCI name grammar.

The envelope mirrors Powertools' `EventBridgeModel` field for field; it is not imported from
`aws_lambda_powertools.utilities.parser.models`, whose package import loads every model it ships and
added about 0.2 s to the cold start (measured: `import promoter.handler` 0.61 s → 0.83 s).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError

from promoter.commands import (
    ApprovalDecision,
    Command,
    CommandBase,
    ImagePushed,
    ImageTestResult,
    ManualPromote,
    NotActionable,
    PipelineSucceeded,
    Reconcile,
    ScanCompleted,
    StatusQuery,
)
from promoter.contract import DetailType, Source
from promoter.event_fields import Digest, InvalidEvent, Model, Repository, Strict, Suite, Tag, checked
from promoter.manual_events import ACTION_READERS, from_manual
from promoter.registry.reference import validate_repository_name

__all__ = [
    "ACTION_READERS",
    "ApprovalDecision",
    "Command",
    "CommandBase",
    "ImagePushed",
    "ImageTestResult",
    "InvalidEvent",
    "ManualPromote",
    "NotActionable",
    "PipelineSucceeded",
    "Reconcile",
    "ScanCompleted",
    "StatusQuery",
    "parse_event",
]

_REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,127}$")
# Scan statuses after which no result will ever come for the image (ECR ImageScanStatus values).
NEVER_SCANNED = frozenset({"FAILED", "UNSUPPORTED_IMAGE", "SCAN_ELIGIBILITY_EXPIRED"})
# ECR ImageScanStatus COMPLETE (basic); Inspector2 Scan says INITIAL_SCAN_COMPLETE (ECR user guide,
# image-scanning-enhanced-events: "scan-status": "INITIAL_SCAN_COMPLETE").
SCAN_DONE = frozenset({"COMPLETE", "INITIAL_SCAN_COMPLETE"})
# arn:aws:ecr:us-east-2:123456789012:repository/amazon/amazon-ecs-sample (Inspector2 Scan repository-name).
_REPOSITORY_ARN = re.compile(r"^arn:aws[a-z-]*:ecr:[a-z0-9-]+:(?P<account>[0-9]{12}):repository/(?P<name>.+)$")


# ---- EventBridge ----------------------------------------------------------------------------


class Envelope(Model):
    """The EventBridge envelope (the fields of Powertools' EventBridgeModel this function reads)."""

    id: str = Field(min_length=1, max_length=128)
    source: str
    detail_type: str = Field(alias="detail-type")
    time: datetime
    account: str | None = None
    region: str | None = None
    detail: dict[str, Any]

    def base(self) -> dict[str, Any]:
        """The fields every command shares."""
        return {"event_id": self.id, "time": self.time}


class _PushDetail(Model):
    action_type: str = Field(alias="action-type")
    result: str
    repository_name: Repository = Field(alias="repository-name")
    image_digest: Digest = Field(alias="image-digest")
    image_tag: Tag | None = Field(default=None, alias="image-tag")


class _ScanFields(Model):
    scan_status: str = Field(alias="scan-status", max_length=64)
    image_digest: Digest = Field(alias="image-digest")
    image_tags: tuple[Tag, ...] = Field(default=(), alias="image-tags")
    finding_severity_counts: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, alias="finding-severity-counts"
    )


class _ScanDetail(_ScanFields):
    repository_name: Repository = Field(alias="repository-name")


def _repository_arn(value: object) -> tuple[str, str]:
    """(account, repository name) of an ECR repository ARN, the name checked by the one grammar."""
    found = _REPOSITORY_ARN.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"not an ECR repository ARN: {str(value)[:120]!r}")
    return found["account"], checked(validate_repository_name, "repository name")(found["name"])


class _InspectorScanDetail(_ScanFields):
    """Inspector names the repository by ARN (ECR user guide, image-scanning-enhanced-events)."""

    repository: Annotated[tuple[str, str], BeforeValidator(_repository_arn)] = Field(alias="repository-name")


class _TestDetail(Strict):
    repository_name: Repository = Field(alias="repository-name")
    image_digest: Digest = Field(alias="image-digest")
    suite: Suite
    result: Literal["PASSED", "FAILED"]
    run_url: str | None = Field(default=None, alias="run-url", max_length=2048)
    attestation: dict[str, Any] | None = None


class _PipelineDetail(Model):
    pipeline: str = Field(min_length=1, max_length=100)
    execution_id: str = Field(alias="execution-id", min_length=1, max_length=128)
    state: str


class _CodeBuildDetail(Model):
    build_status: str = Field(alias="build-status")
    project_name: str = Field(alias="project-name", min_length=1, max_length=255)
    build_id: str | None = Field(default=None, alias="build-id", max_length=1024)
    additional_information: dict[str, Any] = Field(default_factory=dict, alias="additional-information")


def _on_push(envelope: Envelope) -> Command:
    push = _PushDetail.model_validate(envelope.detail)
    image: dict[str, Any] = {"repository": push.repository_name, "digest": push.image_digest}
    if push.action_type != "PUSH" or push.result != "SUCCESS":
        return NotActionable(
            **envelope.base(), **image, reason=f"not a successful push ({push.action_type} {push.result})"
        )
    return ImagePushed(**envelope.base(), **image, tag=push.image_tag)


def _scan_command(envelope: Envelope, scan: _ScanFields, repository: str, account: str | None) -> Command:
    image: dict[str, Any] = {"repository": repository, "digest": scan.image_digest}
    status = scan.scan_status
    if status not in SCAN_DONE and status not in NEVER_SCANNED:
        return NotActionable(**envelope.base(), **image, reason=f"scan not complete ({status})")
    # Inspector adds a TOTAL next to the severities; it is not a severity.
    counts = {key.upper(): value for key, value in scan.finding_severity_counts.items() if key.upper() != "TOTAL"}
    return ScanCompleted(
        **envelope.base(),
        **image,
        tags=scan.image_tags,
        severity_counts=counts,
        failure=None if status in SCAN_DONE else f"{status} (the scan can never complete)",
        registry_account=account,
    )


def _on_ecr_scan(envelope: Envelope) -> Command:
    scan = _ScanDetail.model_validate(envelope.detail)
    return _scan_command(envelope, scan, scan.repository_name, envelope.account)


def _on_inspector_scan(envelope: Envelope) -> Command:
    scan = _InspectorScanDetail.model_validate(envelope.detail)
    account, repository = scan.repository
    return _scan_command(envelope, scan, repository, account)


def _on_test_result(envelope: Envelope) -> Command:
    test = _TestDetail.model_validate(envelope.detail)
    return ImageTestResult(
        **envelope.base(),
        repository=test.repository_name,
        digest=test.image_digest,
        suite=test.suite,
        result=test.result,
        run_url=test.run_url,
        attestation=test.attestation,
    )


def _on_pipeline(envelope: Envelope) -> Command:
    run = _PipelineDetail.model_validate(envelope.detail)
    if run.state != "SUCCEEDED":
        return NotActionable(**envelope.base(), reason=f"pipeline {run.pipeline} {run.state}, not SUCCEEDED")
    # The event carries no commit: the revision comes from GetPipelineExecution.
    return PipelineSucceeded(
        **envelope.base(), suite=f"pipeline:{run.pipeline}", pipeline_name=run.pipeline, execution_id=run.execution_id
    )


def _codebuild_revisions(info: dict[str, Any]) -> tuple[str, ...]:
    revisions = []
    for key in ("resolved-source-version", "source-version"):
        value = info.get(key)
        if isinstance(value, str) and _REVISION.fullmatch(value):
            revisions.append(value)
    return tuple(dict.fromkeys(revisions))


def _on_build(envelope: Envelope) -> Command:
    build = _CodeBuildDetail.model_validate(envelope.detail)
    if build.build_status != "SUCCEEDED":
        return NotActionable(
            **envelope.base(), reason=f"build of {build.project_name} {build.build_status}, not SUCCEEDED"
        )
    return PipelineSucceeded(
        **envelope.base(),
        suite=f"codebuild:{build.project_name}",
        revisions=_codebuild_revisions(build.additional_information),
        project_name=build.project_name,
        build_id=build.build_id,
    )


def _on_schedule(envelope: Envelope) -> Command:
    return Reconcile(**envelope.base())


EVENT_READERS: dict[tuple[str, str], Callable[[Envelope], Command]] = {
    (Source.ECR, DetailType.IMAGE_ACTION): _on_push,
    (Source.ECR, DetailType.IMAGE_SCAN): _on_ecr_scan,
    (Source.INSPECTOR, DetailType.INSPECTOR_SCAN): _on_inspector_scan,
    (Source.PROMOTER, DetailType.TEST_RESULT): _on_test_result,
    (Source.CODEPIPELINE, DetailType.PIPELINE_EXECUTION): _on_pipeline,
    (Source.CODEBUILD, DetailType.BUILD_STATE): _on_build,
    (Source.SCHEDULE, DetailType.SCHEDULED): _on_schedule,
}
"""One reader per (source, detail-type) the function subscribes to."""


def _from_eventbridge(raw: dict[str, Any]) -> Command:
    envelope = Envelope.model_validate(raw)
    reader = EVENT_READERS.get((envelope.source, envelope.detail_type))
    if reader is None:
        source, detail_type = envelope.source[:64], envelope.detail_type[:64]
        raise InvalidEvent(f"unsupported event: source {source!r}, detail-type {detail_type!r}")
    return reader(envelope)


def _describe(error: ValidationError) -> str:
    parts = []
    for issue in error.errors()[:5]:
        where = ".".join(str(part) for part in issue["loc"]) or "event"
        parts.append(f"{where}: {issue['msg']}")
    return "; ".join(parts)


def parse_event(raw: object, request_id: str, now: datetime | None = None) -> Command:
    """The command for `raw`; raises InvalidEvent when it cannot be read.

    `request_id` identifies manual invocations (Lambda's request id, stable across Lambda's retries).
    """
    if not isinstance(raw, dict):
        raise InvalidEvent(f"event must be a JSON object, got {type(raw).__name__}")
    try:
        if "action" in raw:
            return from_manual(raw, request_id, now or datetime.now(UTC))
        if "detail-type" in raw or "source" in raw:
            return _from_eventbridge(raw)
    except ValidationError as error:
        raise InvalidEvent(_describe(error)) from None
    raise InvalidEvent("event is neither an EventBridge event (source, detail-type) nor a manual {'action': ...}")
