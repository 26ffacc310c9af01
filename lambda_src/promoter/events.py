"""Every input the function accepts, read into one command by a dispatch table; nothing else parses input.

EventBridge events are dispatched on (source, detail-type) to one reader each; manual invocations
(Lambda console, CLI) on their `action`. Anything unreadable raises `InvalidEvent` with a reason a
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

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

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
from promoter.registry.errors import InvalidReference
from promoter.registry.reference import validate_digest, validate_repository_name, validate_tag

__all__ = [
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

_SUITE_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9 ._:/@+=-]{0,127}$"
_REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,127}$")
# Scan statuses after which no result will ever come for the image (ECR ImageScanStatus values).
NEVER_SCANNED = frozenset({"FAILED", "UNSUPPORTED_IMAGE", "SCAN_ELIGIBILITY_EXPIRED"})
# ECR ImageScanStatus COMPLETE (basic); Inspector2 Scan says INITIAL_SCAN_COMPLETE (ECR user guide,
# image-scanning-enhanced-events: "scan-status": "INITIAL_SCAN_COMPLETE").
SCAN_DONE = frozenset({"COMPLETE", "INITIAL_SCAN_COMPLETE"})
# arn:aws:ecr:us-east-2:123456789012:repository/amazon/amazon-ecs-sample (Inspector2 Scan repository-name).
_REPOSITORY_ARN = re.compile(r"^arn:aws[a-z-]*:ecr:[a-z0-9-]+:(?P<account>[0-9]{12}):repository/(?P<name>.+)$")


class InvalidEvent(ValueError):
    """The input is not one the function understands; the message says why."""


def _checked(check: Callable[[str], str], what: str) -> Callable[[str], str]:
    def validate(value: str) -> str:
        try:
            return check(value)
        except InvalidReference as error:
            raise ValueError(f"not a valid {what}: {str(error)[:200]}") from None

    return validate


Repository = Annotated[str, AfterValidator(_checked(validate_repository_name, "repository name"))]
Digest = Annotated[str, AfterValidator(_checked(validate_digest, "sha256 digest"))]
Tag = Annotated[str, AfterValidator(_checked(validate_tag, "tag"))]
Suite = Annotated[str, Field(pattern=_SUITE_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")


# ---- EventBridge ----------------------------------------------------------------------------


class Envelope(_Model):
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


class _PushDetail(_Model):
    action_type: str = Field(alias="action-type")
    result: str
    repository_name: Repository = Field(alias="repository-name")
    image_digest: Digest = Field(alias="image-digest")
    image_tag: Tag | None = Field(default=None, alias="image-tag")


class _ScanFields(_Model):
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
    return found["account"], _checked(validate_repository_name, "repository name")(found["name"])


class _InspectorScanDetail(_ScanFields):
    """Inspector names the repository by ARN (ECR user guide, image-scanning-enhanced-events)."""

    repository: Annotated[tuple[str, str], BeforeValidator(_repository_arn)] = Field(alias="repository-name")


class _TestDetail(_Strict):
    repository_name: Repository = Field(alias="repository-name")
    image_digest: Digest = Field(alias="image-digest")
    suite: Suite
    result: Literal["PASSED", "FAILED"]
    run_url: str | None = Field(default=None, alias="run-url", max_length=2048)
    attestation: dict[str, Any] | None = None


class _PipelineDetail(_Model):
    pipeline: str = Field(min_length=1, max_length=100)
    execution_id: str = Field(alias="execution-id", min_length=1, max_length=128)
    state: str


class _CodeBuildDetail(_Model):
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


# ---- manual invocations ---------------------------------------------------------------------


class _ImageRequest(_Strict):
    action: str
    repository: Repository
    tag: Tag | None = None
    digest: Digest | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> _ImageRequest:
        if (self.tag is None) == (self.digest is None):
            raise ValueError("give exactly one of 'tag' or 'digest'")
        return self


class _PromoteRequest(_ImageRequest):
    action: Literal["promote"]
    dry_run: bool = False
    override: dict[str, str] | None = None

    @model_validator(mode="after")
    def _override_has_a_reason(self) -> _PromoteRequest:
        if self.override is not None:
            reason = self.override.get("reason", "").strip()
            if set(self.override) != {"reason"} or not reason:
                raise ValueError('\'override\' must be {"reason": "<why>"} with a non-empty reason')
        return self


class _StatusRequest(_ImageRequest):
    action: Literal["status"]


class _ApprovalRequest(_ImageRequest):
    action: Literal["approve", "reject"]
    rule: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=1024)
    # Optional here so an unsigned approval is answered `ignored` with its reason, not as unreadable input.
    attestation: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _reason_is_text(self) -> _ApprovalRequest:
        if not self.reason.strip():
            raise ValueError("'reason' must say why")
        return self


class _ReconcileRequest(_Strict):
    action: Literal["reconcile"]


def _on_promote(raw: dict[str, Any], base: dict[str, Any]) -> Command:
    request = _PromoteRequest.model_validate(raw)
    return ManualPromote(
        **base,
        repository=request.repository,
        tag=request.tag,
        digest=request.digest,
        dry_run=request.dry_run,
        override_reason=request.override["reason"].strip() if request.override else None,
    )


def _on_status(raw: dict[str, Any], base: dict[str, Any]) -> Command:
    request = _StatusRequest.model_validate(raw)
    return StatusQuery(**base, repository=request.repository, tag=request.tag, digest=request.digest)


def _on_approval(raw: dict[str, Any], base: dict[str, Any]) -> Command:
    request = _ApprovalRequest.model_validate(raw)
    return ApprovalDecision(
        **base,
        repository=request.repository,
        tag=request.tag,
        digest=request.digest,
        rule=request.rule,
        decision=request.action,
        reason=request.reason.strip(),
        attestation=request.attestation,
    )


def _on_reconcile(raw: dict[str, Any], base: dict[str, Any]) -> Command:
    extra = set(raw) - {"action"}
    if extra:
        raise InvalidEvent(f"reconcile takes no other fields (got {', '.join(sorted(map(str, extra)))[:200]})")
    _ReconcileRequest.model_validate(raw)
    return Reconcile(**base)


ACTION_READERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], Command]] = {
    "promote": _on_promote,
    "status": _on_status,
    "reconcile": _on_reconcile,
    "approve": _on_approval,
    "reject": _on_approval,
}


def _from_manual(raw: dict[str, Any], request_id: str, now: datetime) -> Command:
    action = raw.get("action")
    reader = ACTION_READERS.get(action) if isinstance(action, str) else None
    if reader is None:
        shown = action if isinstance(action, str) else type(action).__name__
        raise InvalidEvent(f"unknown action {str(shown)[:40]!r}: expected {', '.join(ACTION_READERS)}")
    return reader(raw, {"event_id": request_id, "time": now})


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
            return _from_manual(raw, request_id, now or datetime.now(UTC))
        if "detail-type" in raw or "source" in raw:
            return _from_eventbridge(raw)
    except ValidationError as error:
        raise InvalidEvent(_describe(error)) from None
    raise InvalidEvent("event is neither an EventBridge event (source, detail-type) nor a manual {'action': ...}")
