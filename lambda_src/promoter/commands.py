"""Commands: what the promotion service acts on, one per kind of input, already validated.

`promoter.events.parse_event` turns raw JSON into exactly one of these. They carry facts only in
the shape the service needs; every command shares `event_id` (stable across redeliveries, so the
ledger records a decision once) and `time` (the event's own time, so late events lose to newer ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from promoter.backfill import BackfillRequest


@dataclass(frozen=True, kw_only=True)
class CommandBase:
    # What kind of input this is, in one word (logs, tests): each command class sets its own.
    kind: ClassVar[str] = ""
    event_id: str
    time: datetime


@dataclass(frozen=True, kw_only=True)
class ImagePushed(CommandBase):
    kind: ClassVar[str] = "push"
    repository: str
    digest: str
    tag: str | None = None


@dataclass(frozen=True, kw_only=True)
class ScanCompleted(CommandBase):
    """A scanner says it finished scanning an image (ECR basic scanning or Amazon Inspector).

    With ECR this is only a trigger (the service re-reads the scan from the API); in local mode the
    counts and the failure are the evidence.
    """

    kind: ClassVar[str] = "scan"
    repository: str
    digest: str
    tags: tuple[str, ...] = ()
    severity_counts: dict[str, int]
    # Set when the scanner says the image can never be scanned (unsupported, eligibility expired).
    failure: str | None = None
    # The account whose registry holds the repository, when the event names it (Inspector's ARN).
    registry_account: str | None = None


@dataclass(frozen=True, kw_only=True)
class ImageTestResult(CommandBase):
    kind: ClassVar[str] = "test"
    repository: str
    digest: str
    suite: str
    result: Literal["PASSED", "FAILED"]
    run_url: str | None = None
    # The DSSE envelope of a signed result (`detail.attestation`); verified only when the policy trusts signers.
    attestation: Mapping[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class PipelineSucceeded(CommandBase):
    """A CodePipeline execution or CodeBuild build succeeded; counts as suite `pipeline:<name>`/`codebuild:<name>`."""

    kind: ClassVar[str] = "pipeline"
    suite: str
    revisions: tuple[str, ...] = ()
    pipeline_name: str | None = None
    execution_id: str | None = None
    project_name: str | None = None
    build_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Reconcile(CommandBase):
    kind: ClassVar[str] = "reconcile"


@dataclass(frozen=True, kw_only=True)
class Backfill(CommandBase):
    """`{"action": "reconcile", "scope": "all", ...}`: every image of the source repositories, a batch at a time."""

    kind: ClassVar[str] = "reconcile"
    request: BackfillRequest


@dataclass(frozen=True, kw_only=True)
class ManualPromote(CommandBase):
    kind: ClassVar[str] = "promote"
    repository: str
    tag: str | None = None
    digest: str | None = None
    dry_run: bool = False
    override_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApprovalDecision(CommandBase):
    """A person's signed approve or reject of one image for one rule; only the signature makes it count."""

    kind: ClassVar[str] = "approval"
    repository: str
    tag: str | None = None
    digest: str | None = None
    rule: str
    decision: Literal["approve", "reject"]
    reason: str
    attestation: Mapping[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class StatusQuery(CommandBase):
    kind: ClassVar[str] = "status"
    repository: str
    tag: str | None = None
    digest: str | None = None


@dataclass(frozen=True, kw_only=True)
class NotActionable(CommandBase):
    """A well-formed event that needs no action (a failed push, a scan still running): outcome `ignored`."""

    kind: ClassVar[str] = "ignored"
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
    | Backfill
    | ManualPromote
    | ApprovalDecision
    | StatusQuery
)
