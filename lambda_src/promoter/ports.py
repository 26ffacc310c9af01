"""The interfaces the promotion service depends on, and the plain records that cross them.

The service (promoter.promotion) sees only these Protocols; `promoter.wiring` picks the concrete
adapters (DynamoDB ledger, ECR or plain-OCI image store), and unit tests pass in-memory ones
(`promoter.adapters.memory`, tests/unit/fakes.py). That is what keeps the decision testable without
a registry or AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from promoter.contract import Outcome
from promoter.decision import CopyStats, Decision
from promoter.gates import ApprovalRecord, Evidence, ScanEvidence, SuiteResult
from promoter.scan_evidence import ScanReading


@dataclass(frozen=True)
class HistoryEntry:
    """A Decision as the ledger keeps it: with the event that led to it."""

    event_id: str
    at: datetime
    rule: str
    target_repository: str
    tags: tuple[str, ...]
    outcome: Outcome
    reasons: tuple[str, ...]
    trigger: str
    override_reason: str | None = None

    @classmethod
    def of(cls, decision: Decision, *, event_id: str, at: datetime, trigger: str) -> HistoryEntry:
        return cls(
            event_id=event_id,
            at=at,
            rule=decision.rule or "",
            target_repository=decision.target_repository or "",
            tags=decision.tags,
            outcome=decision.outcome,
            reasons=decision.reasons,
            trigger=trigger,
            override_reason=decision.override_reason,
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "at": self.at.isoformat(),
            "event_id": self.event_id,
            "rule": self.rule,
            "target_repository": self.target_repository,
            "tags": list(self.tags),
            "outcome": str(self.outcome),
            "reasons": list(self.reasons),
            "trigger": self.trigger,
        }
        if self.override_reason:
            data["override_reason"] = self.override_reason
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], at: datetime) -> HistoryEntry:
        return cls(
            event_id=data["event_id"],
            at=at,
            rule=data["rule"],
            target_repository=data["target_repository"],
            tags=tuple(data["tags"]),
            outcome=Outcome(data["outcome"]),
            reasons=tuple(data["reasons"]),
            trigger=data["trigger"],
            override_reason=data.get("override_reason"),
        )


@dataclass(frozen=True)
class Promotion:
    target_repository: str
    tag: str
    at: datetime
    rule: str
    event_id: str


@dataclass(frozen=True)
class ImageRecord:
    """Everything the ledger holds for one digest, read in one query."""

    evidence: Evidence = field(default_factory=Evidence)
    pushed_at: datetime | None = None
    promotions: tuple[Promotion, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    # Image indexes that list this digest as a platform child (recorded when the index is seen).
    parents: tuple[str, ...] = ()


class SignedUse(StrEnum):
    """How an event's signed statement relates to what the ledger has seen (see Ledger.claim_signed_result)."""

    FIRST = "first"
    REDELIVERY = "redelivery"
    REPLAY = "replay"


class Ledger(Protocol):
    """Evidence, decisions and pending work. Writes are idempotent: duplicates and late events are harmless."""

    def record_test(self, repository: str, digest: str, result: SuiteResult, event_id: str) -> bool:
        """Store a suite result unless a newer one is stored; True when stored."""
        ...

    def claim_signed_result(self, statement: str, event_id: str) -> SignedUse:
        """Remember the first event that carried the signed statement `statement` (the sha256 of what the
        signature covers): FIRST for that event, REDELIVERY when that same event comes again, REPLAY when
        another event carries it."""
        ...

    def record_scan(self, repository: str, digest: str, scan: ScanEvidence) -> bool: ...

    def record_push(self, repository: str, digest: str, at: datetime, tag: str | None) -> None: ...

    def record_approval(self, repository: str, digest: str, approval: ApprovalRecord) -> bool:
        """Store a verified approval or rejection (once per signed envelope); True when stored."""
        ...

    def link_revision(self, revision: str, repository: str, digest: str) -> None: ...

    def record_revision_success(self, revision: str, suite: str, at: datetime, event_id: str) -> None: ...

    def link_children(self, repository: str, index_digest: str, children: tuple[str, ...]) -> None:
        """Remember that `index_digest` lists `children`, so a child's scan re-evaluates the index."""
        ...

    def claim_promotion(
        self, repository: str, digest: str, *, target: str, tag: str, rule: str, event_id: str, at: datetime
    ) -> bool:
        """True only for the first caller (concurrent duplicates get False)."""
        ...

    def record_decision(self, repository: str, digest: str, entry: HistoryEntry) -> bool:
        """First delivery of an event wins; True when stored."""
        ...

    def mark_pending(self, repository: str, digest: str, at: datetime) -> None: ...

    def clear_pending(self, repository: str, digest: str) -> None: ...

    def image_record(self, repository: str, digest: str) -> ImageRecord: ...

    def images_for_revision(self, revision: str) -> list[tuple[str, str]]: ...

    def revision_successes(self, revision: str) -> list[SuiteResult]: ...

    def pending(self) -> list[tuple[str, str]]: ...

    def promoted_images(self, after: str | None, limit: int) -> tuple[list[tuple[str, str]], str | None]:
        """Up to `limit` promoted (repository, digest) in key order after the cursor `after`; the next cursor
        (None: the list was read to its end)."""
        ...

    def resync_cursor(self) -> str | None:
        """Where the scheduled referrer re-sync stopped last time."""
        ...

    def save_resync_cursor(self, cursor: str | None) -> None: ...


class ImageStore(Protocol):
    """What the service reads about images and how it copies them (the registry side)."""

    def digest_for_tag(self, repository: str, tag: str) -> str | None: ...

    def tags_of(self, repository: str, digest: str) -> tuple[str, ...] | None:
        """Current tags of `digest`; None when the image (or repository) does not exist."""
        ...

    def revision_of(self, repository: str, digest: str) -> str | None:
        """The `org.opencontainers.image.revision` label, if the image has one."""
        ...

    def platform_children(self, repository: str, digest: str) -> tuple[str, ...]:
        """The platform image digests of an index (attestations skipped); () for a single image."""
        ...

    def subject_of(self, repository: str, digest: str) -> str | None:
        """The digest a referrer manifest (signature, SBOM, attestation) names as its `subject`, if any."""
        ...

    def target_digests(self, repository: str, tags: tuple[str, ...]) -> dict[str, str | None]:
        """What each tag points to in `repository` now (None: absent)."""
        ...

    def promote(self, source_repository: str, digest: str, target_repository: str, tags: tuple[str, ...]) -> CopyStats:
        """Copy the image; raises promoter.registry.TagConflict when a tag holds another digest."""
        ...


class ScanSource(Protocol):
    """Scan findings read from the scanner's API (the event that triggered the read is not evidence)."""

    def scan_of(self, repository: str, digest: str) -> ScanReading | None:
        """What the scanner says about the image; None when no scan exists for it."""
        ...


class RunStatus(Protocol):
    """What a CI API says about one run (promoter.adapters.ci_runs.RunConfirmation fits)."""

    @property
    def succeeded(self) -> bool: ...

    @property
    def status(self) -> str: ...

    @property
    def revisions(self) -> tuple[str, ...]: ...


class PipelineConfirmer(Protocol):
    def confirm(self, pipeline: str, execution_id: str) -> RunStatus | None:
        """The execution as GetPipelineExecution reports it; None when it does not exist."""
        ...


class BuildConfirmer(Protocol):
    def confirm(self, build_id: str) -> RunStatus | None:
        """The build as BatchGetBuilds reports it; None when it does not exist."""
        ...


class TestResultVerifier(Protocol):
    """Checks a signed test result against the policy's trusted keys (promoter.attest does the DSSE work)."""

    def verify(self, attestation: Mapping[str, Any] | None, digest: str, suite: str, result: str) -> str | None:
        """None when the envelope is signed by a trusted key and agrees with the event; else the reason why not."""
        ...


@dataclass(frozen=True)
class SignedApproval:
    """What a verified approval envelope says: who signed it (key ARN), why, and which envelope it was."""

    key_id: str
    reason: str
    attestation_digest: str


class ApprovalVerifier(Protocol):
    """Checks a signed approval against the rule's approver keys (promoter.attest does the DSSE work)."""

    def verify(
        self,
        attestation: Mapping[str, Any] | None,
        digest: str,
        *,
        rule: str,
        decision: str,
        repository: str,
        trusted: tuple[str, ...],
    ) -> SignedApproval | str:
        """The signed approval when a key of `trusted` signed it for this digest, rule and decision; else why not."""
        ...


class TargetRepositories(Protocol):
    """Creates targets of `{name}` rules protected before their first write (promoter.adapters.ecr_targets)."""

    def prepare(self, repository: str) -> str | None:
        """None when `repository` exists write-protected (created now if missing); else why it is refused."""
        ...
