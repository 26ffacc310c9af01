"""What the promotion service is given (Services) and what it answers (Report).

Kept apart from promoter.promotion so the service module holds only the flow; wiring, the handler
and the tests build and read these two without the flow's imports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from promoter.decision import Decision
from promoter.policy import Policy
from promoter.ports import (
    ApprovalVerifier,
    BuildConfirmer,
    ImageStore,
    Ledger,
    PipelineConfirmer,
    ScanSource,
    TargetRepositories,
    TestResultVerifier,
)

if TYPE_CHECKING:
    from promoter.adapters.audit_state import AuditState, Finding
    from promoter.adapters.event_bus import EventPublisher, OnceOnlyEvents
    from promoter.adapters.test_envelopes import TestEnvelopes
    from promoter.attested_copy import AttestedCopies
    from promoter.audit import Manifests
    from promoter.image_batches import RepositoryImages


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """Everything the service talks to, built once per cold start by promoter.wiring.build_services.

    Where an evidence API is None (local mode: a plain registry, no AWS), the events are the
    evidence: scan events are recorded and used, a build's revision is taken from its event. Where
    it is set (ECR), events are only triggers: scans and runs are read from the API.
    """

    policy: Policy
    ledger: Ledger
    images: ImageStore
    scans: ScanSource | None = None
    pipeline_runs: PipelineConfirmer | None = None
    build_runs: BuildConfirmer | None = None
    # This account: scan events about another account's registry are ignored. None in local mode.
    account_id: str | None = None
    # Verifies signed test results when the policy has a trust section; None: none can be verified.
    test_results: TestResultVerifier | None = None
    # Verifies signed approvals against each rule's approver keys; None: none can be verified.
    approvals: ApprovalVerifier | None = None
    # Creates `{name}` targets write-protected before their first write (ECR); None: targets are not created.
    targets: TargetRepositories | None = None
    clock: Callable[[], datetime] = field(default=_now)
    # Events out (EVENT_BUS): each state-changing decision announced once; None: no events.
    events: OnceOnlyEvents | None = None
    # Where the bypass audit announces `Unrecorded Image` (the same bus); None: no events.
    publisher: EventPublisher | None = None
    # Walking repositories (backfill, bypass audit); None: neither is available.
    listing: RepositoryImages | None = None
    manifests: Manifests | None = None
    audit_state: AuditState | None = None
    # ATTESTATION_KEY set: promotions copy untagged, publish their VSA, then tag; None: plain copies.
    attested: AttestedCopies | None = None
    # The digests of verified signed test-result envelopes, listed in the attestation; None: not kept.
    test_envelopes: TestEnvelopes | None = None


@dataclass
class Report:
    """The response, plus what the handler needs for metrics (copies, latencies, unreadable input, findings)."""

    decisions: list[Decision] = field(default_factory=list)
    error: str | None = None
    status: dict[str, Any] | None = None
    invalid_input: bool = False
    # Backfill: where the next invocation resumes (in the response only while images remain).
    cursor: str | None = None
    # Bypass audit: images found in targets that no promotion accounts for (new this run).
    unrecorded: list[Finding] = field(default_factory=list)

    def response(self) -> dict[str, Any]:
        body: dict[str, Any] = {"decisions": [decision.to_dict() for decision in self.decisions]}
        if self.error is not None:
            body["error"] = self.error
        if self.status is not None:
            body["status"] = self.status
        if self.cursor is not None:
            body["cursor"] = self.cursor
        return body
