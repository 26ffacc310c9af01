"""Typed models of every input the function accepts, and one `parse_event` that turns raw JSON into a command.

Anything unreadable raises `InvalidEvent` with a reason a human can act on; the handler turns it into
`{"decisions": [], "error": ...}` before anything is written.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from promoter.policy import is_valid_repository_name

_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_SUITE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9 ._:/@+=-]{0,127}$")
_REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,127}$")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")


class InvalidEvent(ValueError):
    """The input is not one the function understands; the message says why."""


def _repository(value: str) -> str:
    if not is_valid_repository_name(value):
        raise ValueError(f"{value[:80]!r} is not a valid repository name")
    return value


def _digest(value: str) -> str:
    if not _DIGEST.fullmatch(value):
        raise ValueError(f"{value[:80]!r} is not a sha256 digest (sha256: + 64 lowercase hex)")
    return value


def _tag(value: str) -> str:
    if not _TAG.fullmatch(value):
        raise ValueError(f"{value[:80]!r} is not a valid tag")
    return value


Repository = Annotated[str, AfterValidator(_repository)]
Digest = Annotated[str, AfterValidator(_digest)]
Tag = Annotated[str, AfterValidator(_tag)]
Suite = Annotated[str, Field(pattern=_SUITE.pattern)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


# ---- commands: what the promotion logic acts on ---------------------------------------------


class ImagePushed(_Model):
    kind: Literal["push"] = "push"
    event_id: str
    time: datetime
    repository: Repository
    digest: Digest
    tag: Tag | None = None


class ScanCompleted(_Model):
    kind: Literal["scan"] = "scan"
    event_id: str
    time: datetime
    repository: Repository
    digest: Digest
    tags: tuple[Tag, ...] = ()
    severity_counts: dict[str, int]


class ImageTestResult(_Model):
    kind: Literal["test"] = "test"
    event_id: str
    time: datetime
    repository: Repository
    digest: Digest
    suite: Suite
    result: Literal["PASSED", "FAILED"]
    run_url: str | None = None


class PipelineSucceeded(_Model):
    """A CodePipeline execution or CodeBuild build succeeded; counts as suite `pipeline:<name>`/`codebuild:<name>`."""

    kind: Literal["pipeline"] = "pipeline"
    event_id: str
    time: datetime
    suite: str
    revisions: tuple[str, ...] = ()
    pipeline_name: str | None = None
    execution_id: str | None = None


class Reconcile(_Model):
    kind: Literal["reconcile"] = "reconcile"
    event_id: str
    time: datetime


class ManualPromote(_Model):
    kind: Literal["promote"] = "promote"
    event_id: str
    time: datetime
    repository: Repository
    tag: Tag | None = None
    digest: Digest | None = None
    dry_run: bool = False
    override_reason: str | None = None


class StatusQuery(_Model):
    kind: Literal["status"] = "status"
    event_id: str
    time: datetime
    repository: Repository
    tag: Tag | None = None
    digest: Digest | None = None


class NotActionable(_Model):
    """A well-formed event that needs no action (a failed push, a scan still running): outcome `ignored`."""

    kind: Literal["ignored"] = "ignored"
    event_id: str
    time: datetime
    reason: str
    repository: str | None = None
    digest: str | None = None


Command = (
    NotActionable
    | ImagePushed
    | ScanCompleted
    | ImageTestResult
    | PipelineSucceeded
    | Reconcile
    | ManualPromote
    | StatusQuery
)


# ---- raw shapes: what arrives from EventBridge or a person ----------------------------------


class _Envelope(_Model):
    id: str = Field(min_length=1, max_length=128)
    source: str
    detail_type: str = Field(alias="detail-type")
    time: datetime
    detail: dict[str, Any]


class _PushDetail(_Model):
    action_type: str = Field(alias="action-type")
    result: str
    repository_name: Repository = Field(alias="repository-name")
    image_digest: Digest = Field(alias="image-digest")
    image_tag: Tag | None = Field(default=None, alias="image-tag")


class _ScanDetail(_Model):
    scan_status: str = Field(alias="scan-status")
    repository_name: Repository = Field(alias="repository-name")
    image_digest: Digest = Field(alias="image-digest")
    image_tags: tuple[Tag, ...] = Field(default=(), alias="image-tags")
    finding_severity_counts: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, alias="finding-severity-counts"
    )


class _TestDetail(_Model):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")
    repository_name: Repository = Field(alias="repository-name")
    image_digest: Digest = Field(alias="image-digest")
    suite: Suite
    result: Literal["PASSED", "FAILED"]
    run_url: str | None = Field(default=None, alias="run-url", max_length=2048)


class _PipelineDetail(_Model):
    pipeline: str = Field(min_length=1, max_length=100)
    execution_id: str = Field(alias="execution-id", min_length=1, max_length=128)
    state: str


class _CodeBuildDetail(_Model):
    build_status: str = Field(alias="build-status")
    project_name: str = Field(alias="project-name", min_length=1, max_length=255)
    additional_information: dict[str, Any] = Field(default_factory=dict, alias="additional-information")


class _ManualPromote(_Model):
    model_config = ConfigDict(frozen=True, extra="forbid")
    action: Literal["promote"]
    repository: Repository
    tag: Tag | None = None
    digest: Digest | None = None
    dry_run: bool = False
    override: dict[str, str] | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> _ManualPromote:
        if (self.tag is None) == (self.digest is None):
            raise ValueError("give exactly one of 'tag' or 'digest'")
        if self.override is not None:
            reason = self.override.get("reason", "").strip()
            if set(self.override) != {"reason"} or not reason:
                raise ValueError('\'override\' must be {"reason": "<why>"} with a non-empty reason')
        return self


class _ManualStatus(_Model):
    model_config = ConfigDict(frozen=True, extra="forbid")
    action: Literal["status"]
    repository: Repository
    tag: Tag | None = None
    digest: Digest | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> _ManualStatus:
        if (self.tag is None) == (self.digest is None):
            raise ValueError("give exactly one of 'tag' or 'digest'")
        return self


def _describe(error: ValidationError) -> str:
    parts = []
    for issue in error.errors()[:5]:
        where = ".".join(str(part) for part in issue["loc"]) or "event"
        parts.append(f"{where}: {issue['msg']}")
    return "; ".join(parts)


def _codebuild_revision(info: dict[str, Any]) -> tuple[str, ...]:
    revisions = []
    for key in ("resolved-source-version", "source-version"):
        value = info.get(key)
        if isinstance(value, str) and _REVISION.fullmatch(value):
            revisions.append(value)
    return tuple(dict.fromkeys(revisions))


def _from_eventbridge(raw: dict[str, Any]) -> Command:
    """The command for a recognised EventBridge event (NotActionable when it needs no action)."""
    envelope = _Envelope.model_validate(raw)
    source, detail_type, detail = envelope.source, envelope.detail_type, envelope.detail
    common = {"event_id": envelope.id, "time": envelope.time}
    if source == "aws.ecr" and detail_type == "ECR Image Action":
        push = _PushDetail.model_validate(detail)
        if push.action_type != "PUSH" or push.result != "SUCCESS":
            return NotActionable(
                **common,
                reason=f"not a successful push ({push.action_type} {push.result})",
                repository=push.repository_name,
                digest=push.image_digest,
            )
        return ImagePushed(**common, repository=push.repository_name, digest=push.image_digest, tag=push.image_tag)
    if source == "aws.ecr" and detail_type == "ECR Image Scan":
        scan = _ScanDetail.model_validate(detail)
        if scan.scan_status != "COMPLETE":
            return NotActionable(
                **common,
                reason=f"scan not complete ({scan.scan_status})",
                repository=scan.repository_name,
                digest=scan.image_digest,
            )
        return ScanCompleted(
            **common,
            repository=scan.repository_name,
            digest=scan.image_digest,
            tags=scan.image_tags,
            severity_counts={key.upper(): value for key, value in scan.finding_severity_counts.items()},
        )
    if source == "ecr-promoter" and detail_type == "Image Test Result":
        test = _TestDetail.model_validate(detail)
        return ImageTestResult(
            **common,
            repository=test.repository_name,
            digest=test.image_digest,
            suite=test.suite,
            result=test.result,
            run_url=test.run_url,
        )
    if source == "aws.codepipeline" and detail_type == "CodePipeline Pipeline Execution State Change":
        run = _PipelineDetail.model_validate(detail)
        if run.state != "SUCCEEDED":
            return NotActionable(**common, reason=f"pipeline {run.pipeline} {run.state}, not SUCCEEDED")
        # The event carries no commit: the revision comes from GetPipelineExecution later.
        return PipelineSucceeded(
            **common, suite=f"pipeline:{run.pipeline}", pipeline_name=run.pipeline, execution_id=run.execution_id
        )
    if source == "aws.codebuild" and detail_type == "CodeBuild Build State Change":
        build = _CodeBuildDetail.model_validate(detail)
        if build.build_status != "SUCCEEDED":
            return NotActionable(**common, reason=f"build of {build.project_name} {build.build_status}, not SUCCEEDED")
        revisions = _codebuild_revision(build.additional_information)
        if not revisions:
            raise InvalidEvent(f"CodeBuild build of {build.project_name!r} carries no source version to match images")
        return PipelineSucceeded(**common, suite=f"codebuild:{build.project_name}", revisions=revisions)
    if source == "aws.events" and detail_type == "Scheduled Event":
        return Reconcile(**common)
    raise InvalidEvent(f"unsupported event: source {source[:64]!r}, detail-type {detail_type[:64]!r}")


def _from_manual(raw: dict[str, Any], request_id: str, now: datetime) -> Command:
    action = raw.get("action")
    common = {"event_id": request_id, "time": now}
    if action == "reconcile":
        extra = set(raw) - {"action"}
        if extra:
            raise InvalidEvent(f"reconcile takes no other fields (got {', '.join(sorted(map(str, extra)))})")
        return Reconcile(**common)
    if action == "promote":
        promote = _ManualPromote.model_validate(raw)
        return ManualPromote(
            **common,
            repository=promote.repository,
            tag=promote.tag,
            digest=promote.digest,
            dry_run=promote.dry_run,
            override_reason=promote.override["reason"].strip() if promote.override else None,
        )
    if action == "status":
        status = _ManualStatus.model_validate(raw)
        return StatusQuery(**common, repository=status.repository, tag=status.tag, digest=status.digest)
    shown = action if isinstance(action, str) else type(action).__name__
    raise InvalidEvent(f"unknown action {str(shown)[:40]!r}: expected promote, status or reconcile")


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
