"""The ledger in memory: the same semantics as the DynamoDB ledger, for unit tests and dry experiments.

Newest-wins evidence, first-wins promotion claims and decision history, a pending set: exactly
what promoter.ledger.DynamoLedger guarantees with conditional writes, so a test that passes against
this ledger exercises the same decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from promoter.gates import ApprovalRecord, Evidence, ScanEvidence, SuiteResult
from promoter.ports import HistoryEntry, ImageRecord, Promotion, SignedUse

HISTORY_LIMIT = 50
Image = tuple[str, str]


@dataclass
class _ImageState:
    tests: dict[str, SuiteResult] = field(default_factory=dict)
    scan: ScanEvidence | None = None
    pushed_at: datetime | None = None
    tags: set[str] = field(default_factory=set)
    promotions: dict[tuple[str, str], Promotion] = field(default_factory=dict)
    history: dict[tuple[str, str], HistoryEntry] = field(default_factory=dict)
    parents: set[str] = field(default_factory=set)
    approvals: dict[tuple[str, str], ApprovalRecord] = field(default_factory=dict)


@dataclass
class InMemoryLedger:
    """promoter.ports.Ledger held in dictionaries; `writes` counts every state change (tests assert on it)."""

    images: dict[Image, _ImageState] = field(default_factory=dict)
    revisions: dict[str, set[Image]] = field(default_factory=dict)
    revision_suites: dict[str, dict[str, datetime]] = field(default_factory=dict)
    pending_since: dict[Image, datetime] = field(default_factory=dict)
    promoted: set[str] = field(default_factory=set)
    signed_results: dict[str, str] = field(default_factory=dict)
    cursor: str | None = None
    writes: int = 0

    def _image(self, repository: str, digest: str) -> _ImageState:
        return self.images.setdefault((repository, digest), _ImageState())

    def record_test(self, repository: str, digest: str, result: SuiteResult, event_id: str) -> bool:
        tests = self._image(repository, digest).tests
        stored = tests.get(result.suite)
        if stored is not None and stored.at > result.at:
            return False
        tests[result.suite] = result
        self.writes += 1
        return True

    def record_scan(self, repository: str, digest: str, scan: ScanEvidence) -> bool:
        image = self._image(repository, digest)
        if image.scan is not None and image.scan.at > scan.at:
            return False
        image.scan = scan
        self.writes += 1
        return True

    def record_push(self, repository: str, digest: str, at: datetime, tag: str | None) -> None:
        image = self._image(repository, digest)
        image.pushed_at = image.pushed_at or at
        if tag:
            image.tags.add(tag)
        self.writes += 1

    def record_approval(self, repository: str, digest: str, approval: ApprovalRecord) -> bool:
        approvals = self._image(repository, digest).approvals
        key = (approval.rule, approval.attestation_digest)
        if key in approvals:
            return False
        approvals[key] = approval
        self.writes += 1
        return True

    def link_revision(self, revision: str, repository: str, digest: str) -> None:
        self.revisions.setdefault(revision, set()).add((repository, digest))
        self.writes += 1

    def record_revision_success(self, revision: str, suite: str, at: datetime, event_id: str) -> None:
        suites = self.revision_suites.setdefault(revision, {})
        if suite not in suites or suites[suite] <= at:
            suites[suite] = at
            self.writes += 1

    def link_children(self, repository: str, index_digest: str, children: tuple[str, ...]) -> None:
        for child in children:
            self._image(repository, child).parents.add(index_digest)
            self.writes += 1

    def claim_signed_result(self, statement: str, event_id: str) -> SignedUse:
        if statement not in self.signed_results:
            self.signed_results[statement] = event_id
            self.writes += 1
            return SignedUse.FIRST
        return SignedUse.REDELIVERY if self.signed_results[statement] == event_id else SignedUse.REPLAY

    def claim_promotion(
        self, repository: str, digest: str, *, target: str, tag: str, rule: str, event_id: str, at: datetime
    ) -> bool:
        promotions = self._image(repository, digest).promotions
        if (target, tag) in promotions:
            return False
        promotions[(target, tag)] = Promotion(target, tag, at, rule, event_id)
        self.promoted.add(f"{repository}@{digest}")
        self.writes += 1
        return True

    def record_decision(self, repository: str, digest: str, entry: HistoryEntry) -> bool:
        history = self._image(repository, digest).history
        if (entry.event_id, entry.rule) in history:
            return False
        history[(entry.event_id, entry.rule)] = entry
        self.writes += 1
        return True

    def mark_pending(self, repository: str, digest: str, at: datetime) -> None:
        self.pending_since.setdefault((repository, digest), at)
        self.writes += 1

    def clear_pending(self, repository: str, digest: str) -> None:
        if self.pending_since.pop((repository, digest), None) is not None:
            self.writes += 1

    def image_record(self, repository: str, digest: str) -> ImageRecord:
        image = self.images.get((repository, digest))
        if image is None:
            return ImageRecord()
        history = sorted(image.history.values(), key=lambda entry: entry.at)
        return ImageRecord(
            evidence=Evidence(
                tests=dict(image.tests),
                scan=image.scan,
                approvals=tuple(sorted(image.approvals.values(), key=lambda approval: approval.at)),
            ),
            pushed_at=image.pushed_at,
            promotions=tuple(image.promotions.values()),
            history=tuple(history[-HISTORY_LIMIT:]),
            parents=tuple(sorted(image.parents)),
        )

    def images_for_revision(self, revision: str) -> list[tuple[str, str]]:
        return sorted(self.revisions.get(revision, set()))

    def revision_successes(self, revision: str) -> list[SuiteResult]:
        return [
            SuiteResult(suite=suite, result="PASSED", at=at)
            for suite, at in self.revision_suites.get(revision, {}).items()
        ]

    def pending(self) -> list[tuple[str, str]]:
        return sorted(self.pending_since)

    def promoted_images(self, after: str | None, limit: int) -> tuple[list[tuple[str, str]], str | None]:
        keys = sorted(key for key in self.promoted if after is None or key > after)
        page = keys[:limit]
        images = [(key.split("@", 1)[0], key.split("@", 1)[1]) for key in page]
        return images, (page[-1] if len(keys) > limit else None)

    def resync_cursor(self) -> str | None:
        return self.cursor

    def save_resync_cursor(self, cursor: str | None) -> None:
        self.cursor = cursor
