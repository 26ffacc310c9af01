"""Decide and act, one image digest at a time: candidate → rules → gates → copy → ledger.

`promote(command, services)` is the one entry point. Every outcome of the ⚑ response contract is
decided here; transient faults (registry or AWS) propagate so Lambda retries the event.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from promoter import gates
from promoter.events import (
    Command,
    ImagePushed,
    ImageTestResult,
    ManualPromote,
    NotActionable,
    PipelineSucceeded,
    Reconcile,
    ScanCompleted,
    StatusQuery,
)
from promoter.gates import Evidence, ScanEvidence, SuiteResult
from promoter.images import ImageStore
from promoter.ledger import Decision, Ledger
from promoter.policy import Policy, Rule
from promoter.registry import CopyResult
from promoter.registry.errors import TagConflict

_HEX_REVISION = re.compile(r"^[0-9a-f]{40}$")
# Images are often tagged with a short commit hash: look the run's revision up under these prefixes too.
_SHORT_SHA_LENGTHS = (7, 8, 10, 12)


class RevisionSource(Protocol):
    def revisions(self, pipeline: str, execution_id: str) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Services:
    policy: Policy
    ledger: Ledger
    images: ImageStore
    pipelines: RevisionSource | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Outcome:
    """One decision of the ⚑ response."""

    rule: str | None
    source_repository: str | None
    digest: str | None
    target_repository: str | None
    tags: tuple[str, ...]
    outcome: str
    reasons: tuple[str, ...]
    copy: CopyResult | None = None
    override_reason: str | None = None
    latency_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "source_repository": self.source_repository,
            "digest": self.digest,
            "target_repository": self.target_repository,
            "tags": list(self.tags),
            "outcome": self.outcome,
            "reasons": list(self.reasons),
        }
        if self.override_reason:
            data["override_reason"] = self.override_reason
        if self.copy is not None:
            data["copy"] = self.copy.to_dict()
        return data


@dataclass
class Report:
    decisions: list[Outcome] = field(default_factory=list)
    error: str | None = None
    status: dict[str, Any] | None = None

    def response(self) -> dict[str, Any]:
        body: dict[str, Any] = {"decisions": [decision.to_dict() for decision in self.decisions]}
        if self.error is not None:
            body["error"] = self.error
        if self.status is not None:
            body["status"] = self.status
        return body


@dataclass(frozen=True)
class _Candidate:
    repository: str
    digest: str
    tags: tuple[str, ...]
    evidence: Evidence
    pushed_at: datetime | None


@dataclass(frozen=True)
class _Trigger:
    event_id: str
    at: datetime
    name: str
    dry_run: bool = False
    override_reason: str | None = None


def _ignored(repository: str | None, digest: str | None, reason: str, rule: Rule | None = None) -> Outcome:
    return Outcome(
        rule=rule.name if rule else None,
        source_repository=repository,
        digest=digest,
        target_repository=None,
        tags=(),
        outcome="ignored",
        reasons=(reason,),
    )


class _Promoter:
    def __init__(self, services: Services) -> None:
        self.policy = services.policy
        self.ledger = services.ledger
        self.images = services.images
        self.pipelines = services.pipelines
        self.clock = services.clock

    # ---- one candidate --------------------------------------------------------------------

    def evaluate(self, repository: str, digest: str, trigger: _Trigger) -> list[Outcome]:
        matches = self.policy.rules_for(repository)
        if not matches:
            return [_ignored(repository, digest, f"no rule matches repository {repository}")]
        tags = self.images.tags_of(repository, digest)
        if tags is None:
            if not trigger.dry_run:
                self.ledger.clear_pending(repository, digest)
            return [_ignored(repository, digest, f"image {digest} is not in {repository} (deleted?)")]
        record = self.ledger.image_record(repository, digest)
        evidence = self._with_scan(repository, digest, record.evidence, matches, trigger)
        candidate = _Candidate(repository, digest, tags, evidence, record.pushed_at)
        outcomes = [self._decide(rule, target, candidate, trigger) for rule, target in matches]
        if not trigger.dry_run:
            for outcome in outcomes:
                if outcome.rule is not None:
                    self.ledger.record_decision(repository, digest, self._as_decision(outcome, trigger))
            if any(outcome.outcome == "pending" for outcome in outcomes):
                self.ledger.mark_pending(repository, digest, trigger.at)
            else:
                self.ledger.clear_pending(repository, digest)
        return outcomes

    def _with_scan(
        self, repository: str, digest: str, evidence: Evidence, matches: list[tuple[Rule, str]], trigger: _Trigger
    ) -> Evidence:
        """Ask the registry for scan findings when a rule needs them and no scan event was recorded."""
        if evidence.scan is not None or not any(rule.requires_scan for rule, _ in matches):
            return evidence
        scan = self.images.scan_of(repository, digest)
        if scan is None:
            return evidence
        if not trigger.dry_run:
            self.ledger.record_scan(repository, digest, scan)
        return replace(evidence, scan=scan)

    def _decide(self, rule: Rule, target: str, candidate: _Candidate, trigger: _Trigger) -> Outcome:
        repository, digest, tags = candidate.repository, candidate.digest, candidate.tags
        promotable = rule.promotable_tags(tags)

        def outcome(kind: str, reasons: tuple[str, ...], **extra: Any) -> Outcome:
            return Outcome(rule.name, repository, digest, target, promotable, kind, reasons, **extra)

        if not promotable:
            shown = ", ".join(tags) if tags else "none"
            return _ignored(repository, digest, f"no tag matches {' '.join(rule.tags)} (tags: {shown})", rule)
        verdict = gates.evaluate(rule, candidate.evidence)
        if verdict.state == "rejected":
            return outcome("rejected", verdict.reasons)
        override = None
        if verdict.state == "pending":
            if trigger.override_reason is None:
                return outcome("pending", verdict.reasons)
            if not self.policy.allow_override:
                return outcome("pending", ("override refused: the policy has allow_override false", *verdict.reasons))
            override = trigger.override_reason
            verdict = gates.Verdict("passed", (f"override: {override}", *verdict.reasons))
        if trigger.dry_run:
            return self._dry_run(outcome("dry-run", verdict.reasons, override_reason=override))
        try:
            result = self.images.promote(repository, digest, target, promotable)
        except TagConflict as conflict:
            return outcome(
                "conflict",
                (f"{target}:{conflict.tag} holds {conflict.existing_digest}, not {digest}: never overwritten",),
            )
        if result.already_present:
            # Someone else wrote it (a concurrent duplicate, or an earlier run): they claim the promotion.
            return outcome("already-promoted", (f"{target} already holds {digest}", *verdict.reasons))
        claimed = [
            self.ledger.claim_promotion(
                repository, digest, target=target, tag=tag, rule=rule.name, event_id=trigger.event_id, at=trigger.at
            )
            for tag in promotable
        ]
        if not any(claimed):
            return outcome("already-promoted", (f"{target} already holds {digest}", *verdict.reasons))
        latency = (self.clock() - candidate.pushed_at).total_seconds() if candidate.pushed_at else None
        return outcome(
            "promoted",
            verdict.reasons,
            copy=result,
            override_reason=override,
            latency_seconds=latency,
        )

    def _dry_run(self, would: Outcome) -> Outcome:
        """What promoting would do, from the target's current tags; writes nothing."""
        target, digest = would.target_repository or "", would.digest
        current = self.images.target_digests(target, would.tags)
        clashes = [f"{target}:{tag} holds {found}" for tag, found in current.items() if found not in (None, digest)]
        if clashes:
            reasons = tuple(f"{clash}, not {digest}: never overwritten" for clash in clashes)
            return replace(would, outcome="conflict", reasons=reasons)
        if all(found == digest for found in current.values()):
            return replace(would, outcome="already-promoted", reasons=(f"{target} already holds {digest}",))
        return replace(would, reasons=("would promote", *would.reasons))

    @staticmethod
    def _as_decision(outcome: Outcome, trigger: _Trigger) -> Decision:
        return Decision(
            event_id=trigger.event_id,
            at=trigger.at,
            rule=outcome.rule or "",
            target_repository=outcome.target_repository or "",
            tags=outcome.tags,
            outcome=outcome.outcome,
            reasons=outcome.reasons,
            trigger=trigger.name,
            override_reason=outcome.override_reason,
        )

    # ---- commands -------------------------------------------------------------------------

    def on_push(self, event: ImagePushed) -> list[Outcome]:
        trigger = _Trigger(event.event_id, event.time, "push")
        if not self.policy.rules_for(event.repository):
            return [_ignored(event.repository, event.digest, f"no rule matches repository {event.repository}")]
        self.ledger.record_push(event.repository, event.digest, event.time, event.tag)
        self._link_revisions(event)
        return self.evaluate(event.repository, event.digest, trigger)

    def _link_revisions(self, event: ImagePushed) -> None:
        """Index the image under the commit it was built from, and apply pipeline successes already seen."""
        needs_pipelines = any(rule.require.tests for rule, _ in self.policy.rules_for(event.repository))
        if not needs_pipelines:
            return
        revisions = {event.tag} if event.tag else set()
        label = self.images.revision_of(event.repository, event.digest)
        if label:
            revisions.add(label)
        for revision in sorted(revisions):
            self.ledger.link_revision(revision, event.repository, event.digest)
            for success in self.ledger.revision_successes(revision):
                self.ledger.record_test(event.repository, event.digest, success, event.event_id)

    def on_scan(self, event: ScanCompleted) -> list[Outcome]:
        if not self.policy.rules_for(event.repository):
            return [_ignored(event.repository, event.digest, f"no rule matches repository {event.repository}")]
        self.ledger.record_scan(event.repository, event.digest, ScanEvidence(event.severity_counts, event.time))
        return self.evaluate(event.repository, event.digest, _Trigger(event.event_id, event.time, "scan"))

    def on_test(self, event: ImageTestResult) -> list[Outcome]:
        if not self.policy.rules_for(event.repository):
            return [_ignored(event.repository, event.digest, f"no rule matches repository {event.repository}")]
        result = SuiteResult(event.suite, event.result, event.time, event.run_url)
        self.ledger.record_test(event.repository, event.digest, result, event.event_id)
        return self.evaluate(event.repository, event.digest, _Trigger(event.event_id, event.time, "test"))

    def on_pipeline(self, event: PipelineSucceeded) -> list[Outcome]:
        revisions = event.revisions
        if not revisions and self.pipelines and event.pipeline_name and event.execution_id:
            revisions = self.pipelines.revisions(event.pipeline_name, event.execution_id)
        if not revisions:
            return [_ignored(None, None, f"{event.suite} succeeded but names no source revision")]
        trigger = _Trigger(event.event_id, event.time, event.suite)
        outcomes: list[Outcome] = []
        seen: set[tuple[str, str]] = set()
        for revision in revisions:
            self.ledger.record_revision_success(revision, event.suite, event.time, event.event_id)
            keys = [revision]
            if _HEX_REVISION.fullmatch(revision):
                keys += [revision[:length] for length in _SHORT_SHA_LENGTHS]
            for key in keys:
                for repository, digest in self.ledger.images_for_revision(key):
                    if (repository, digest) in seen:
                        continue
                    seen.add((repository, digest))
                    passed = SuiteResult(event.suite, "PASSED", event.time)
                    self.ledger.record_test(repository, digest, passed, event.event_id)
                    outcomes += self.evaluate(repository, digest, trigger)
        if not outcomes:
            shown = ", ".join(revisions)
            return [_ignored(None, None, f"{event.suite} succeeded for {shown}; no image built from it yet")]
        return outcomes

    def on_reconcile(self, event: Reconcile) -> list[Outcome]:
        trigger = _Trigger(event.event_id, event.time, "reconcile")
        outcomes: list[Outcome] = []
        for repository, digest in self.ledger.pending():
            outcomes += self.evaluate(repository, digest, trigger)
        return outcomes

    def _digest_of(self, repository: str, tag: str | None, digest: str | None) -> str | None:
        if digest is not None:
            return digest if self.images.tags_of(repository, digest) is not None else None
        assert tag is not None  # the event model requires one of them
        return self.images.digest_for_tag(repository, tag)

    def on_manual_promote(self, event: ManualPromote) -> Report:
        digest = self._digest_of(event.repository, event.tag, event.digest)
        if digest is None:
            return Report(error=f"{event.repository}:{event.tag or event.digest} not found")
        trigger = _Trigger(event.event_id, event.time, "manual", event.dry_run, event.override_reason)
        return Report(decisions=self.evaluate(event.repository, digest, trigger))

    def on_status(self, event: StatusQuery) -> Report:
        digest = self._digest_of(event.repository, event.tag, event.digest)
        if digest is None:
            return Report(error=f"{event.repository}:{event.tag or event.digest} not found")
        trigger = _Trigger(event.event_id, event.time, "status", dry_run=True)
        decisions = self.evaluate(event.repository, digest, trigger)
        record = self.ledger.image_record(event.repository, digest)
        status = {
            "repository": event.repository,
            "digest": digest,
            "tags": list(self.images.tags_of(event.repository, digest) or ()),
            "tests": {
                suite: {"result": r.result, "at": r.at.isoformat(), "run_url": r.run_url}
                for suite, r in sorted(record.evidence.tests.items())
            },
            "scan": (
                {"severity_counts": record.evidence.scan.severity_counts, "at": record.evidence.scan.at.isoformat()}
                if record.evidence.scan
                else None
            ),
            "promotions": [
                {"target_repository": p.target_repository, "tag": p.tag, "at": p.at.isoformat(), "rule": p.rule}
                for p in record.promotions
            ],
            "history": [decision.to_dict() for decision in record.history],
        }
        return Report(decisions=decisions, status=status)


def promote(command: Command, services: Services) -> Report:
    """Act on one parsed input; returns the ⚑ response as a Report."""
    promoter = _Promoter(services)
    match command:
        case NotActionable():
            return Report(decisions=[_ignored(command.repository, command.digest, command.reason)])
        case ImagePushed():
            return Report(decisions=promoter.on_push(command))
        case ScanCompleted():
            return Report(decisions=promoter.on_scan(command))
        case ImageTestResult():
            return Report(decisions=promoter.on_test(command))
        case PipelineSucceeded():
            return Report(decisions=promoter.on_pipeline(command))
        case Reconcile():
            return Report(decisions=promoter.on_reconcile(command))
        case ManualPromote():
            return promoter.on_manual_promote(command)
        case StatusQuery():
            return promoter.on_status(command)
