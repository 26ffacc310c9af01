"""The promotion service: gather the facts once, let the decision core decide, act, record once.

For one command: the matching rules (read once), then per candidate digest its tags, its ledger
record and, when a rule needs one, its scan; `promoter.decision.plan` turns those into a Decision or
a copy per rule; the copies are made; `settle` gives their Decisions; the ledger records them. The
service holds no rule logic of its own. Transient faults (registry or AWS) propagate so Lambda
retries the event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from promoter.adapters.test_envelopes import envelope_digest, signed_statement_digest
from promoter.approvals import approval_stage, untrusted_result, verified_approval
from promoter.attested_copy import evidence_inputs
from promoter.ci_successes import CiSuccesses
from promoter.commands import (
    ApprovalDecision,
    Backfill,
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
from promoter.contract import Outcome
from promoter.decision import (
    Candidate,
    CopyImage,
    CopyStats,
    Decision,
    RuleMatch,
    TagHeld,
    Trigger,
    ignored,
    plan,
    refused,
    settle,
)
from promoter.decision import wanted_tags as _wanted_tags
from promoter.gates import ScanEvidence, SuiteResult, with_chain_tests
from promoter.ports import HistoryEntry, ImageRecord, SignedUse
from promoter.referrer_sync import ReferrerSync
from promoter.registry.errors import TagConflict
from promoter.scan_evidence import NO_SCAN, ImageScan, combine, from_reading
from promoter.services import Report, Services
from promoter.status import status_of
from promoter.sweeps import audit_batch, backfill_batch

__all__ = ["PromotionService", "Report", "Services", "promote"]


@dataclass(frozen=True)
class _Facts:
    candidate: Candidate
    record: ImageRecord


class PromotionService:
    def __init__(self, services: Services) -> None:
        self.policy = services.policy
        self.ledger = services.ledger
        self.images = services.images
        self.scans = services.scans
        self.ci = CiSuccesses(services.ledger, services.pipeline_runs, services.build_runs)
        self.account_id = services.account_id
        self.verifier = services.test_results
        self.approvals = services.approvals
        self.targets = services.targets
        self.referrers = ReferrerSync(services.ledger, services.images)
        self.clock = services.clock
        self.services = services

    # ---- one candidate --------------------------------------------------------------------

    def _facts(self, repository: str, digest: str, matches: list[RuleMatch], trigger: Trigger) -> _Facts | None:
        tags = self.images.tags_of(repository, digest)
        if tags is None:
            return None
        record = self.ledger.image_record(repository, digest)
        chain = self.policy.chain_repositories(repository)
        if chain:  # a chained stage: results recorded for this digest in the other stages count here too
            others = [self.ledger.image_record(other, digest).evidence for other in chain]
            record = replace(record, evidence=with_chain_tests(record.evidence, others))
        evidence = record.evidence
        if any(rule.requires_scan for rule, _ in matches):
            scan, pending = self._scan(repository, digest, record, trigger)
            evidence = replace(evidence, scan=scan, scan_pending_reason=pending)
        return _Facts(Candidate(repository, digest, tags, evidence, record.pushed_at), record)

    def _scan(
        self, repository: str, digest: str, record: ImageRecord, trigger: Trigger
    ) -> tuple[ScanEvidence | None, str | None]:
        """The candidate's scan evidence: its own, or for an index the union of its platform images'."""
        children = self.images.platform_children(repository, digest)
        if children and not trigger.dry_run:
            self.ledger.link_children(repository, digest, children)
        images = children or (digest,)
        if self.scans is None:  # local mode: the scan events recorded in the ledger
            scans = [self._recorded_scan(repository, image, record if image == digest else None) for image in images]
            return combine(scans, index=bool(children))
        now = self.clock()
        scans = [from_reading(image, self.scans.scan_of(repository, image), now) for image in images]
        evidence, pending = combine(scans, index=bool(children))
        if evidence is not None and pending is None and not trigger.dry_run:
            self.ledger.record_scan(repository, digest, evidence)  # for `status` and the audit trail
        return evidence, pending

    def _recorded_scan(self, repository: str, digest: str, record: ImageRecord | None) -> ImageScan:
        scan = (record or self.ledger.image_record(repository, digest)).evidence.scan
        return ImageScan(digest, scan, None if scan is not None else NO_SCAN)

    def evaluate(self, repository: str, digest: str, matches: list[RuleMatch], trigger: Trigger) -> list[Decision]:
        if not matches:
            return [ignored(repository, digest, f"no rule matches repository {repository}")]
        facts = self._facts(repository, digest, matches, trigger)
        if facts is None:
            if not trigger.dry_run:
                self.ledger.clear_pending(repository, digest)
            return [ignored(repository, digest, f"image {digest} is not in {repository} (deleted?)")]
        return self._decide(facts.candidate, matches, trigger)

    def _decide(self, candidate: Candidate, matches: list[RuleMatch], trigger: Trigger) -> list[Decision]:
        target_tags = None
        if trigger.dry_run:
            target_tags = {
                target: self.images.target_digests(target, tags)
                for target, tags in _wanted_tags(matches, candidate.tags).items()
                if tags
            }
        steps = plan(matches, candidate, trigger, allow_override=self.policy.allow_override, target_tags=target_tags)
        decisions = [step if isinstance(step, Decision) else self._copy(step, candidate, trigger) for step in steps]
        if not trigger.dry_run:
            self._record(candidate, decisions, trigger)
            if self.services.events is not None:  # after the ledger holds the decision; once per state change
                for decision in decisions:
                    self.services.events.announce(decision, decision.attestation_digest)
        return decisions

    def _copy(self, copy: CopyImage, candidate: Candidate, trigger: Trigger) -> Decision:
        if self.targets is not None and self.policy.rule_named(copy.rule).creates_target:
            refusal = self.targets.prepare(copy.target_repository)
            if refusal is not None:
                return refused(copy, refusal)
        try:
            result, attestation = self._copy_image(copy, candidate)
        except TagConflict as conflict:
            return settle(copy, TagHeld(conflict.tag, conflict.existing_digest), claimed=False)
        if result.already_present:
            return replace(settle(copy, result, claimed=False), attestation_digest=attestation)
        claims = [
            self.ledger.claim_promotion(
                copy.source_repository,
                copy.digest,
                target=copy.target_repository,
                tag=tag,
                rule=copy.rule,
                event_id=trigger.event_id,
                at=trigger.at,
            )
            for tag in copy.tags
        ]
        latency = (self.clock() - candidate.pushed_at).total_seconds() if candidate.pushed_at else None
        decision = settle(copy, result, claimed=any(claims), latency_seconds=latency)
        return replace(decision, attestation_digest=attestation)

    def _copy_image(self, copy: CopyImage, candidate: Candidate) -> tuple[CopyStats, str | None]:
        """The copy; with an attestation key, untagged first, then its VSA, then the tags (no tag without it)."""
        attested = self.services.attested
        if attested is None:
            return self.images.promote(copy.source_repository, copy.digest, copy.target_repository, copy.tags), None
        suites = self.policy.rule_named(copy.rule).require.tests
        inputs = evidence_inputs(candidate.evidence, suites, self._signed_envelopes(copy, suites), rule=copy.rule)
        done = attested.promote(
            copy.source_repository, copy.digest, copy.target_repository, copy.tags, rule=copy.rule, inputs=inputs
        )
        return done.copy, done.attestation_digest

    def _signed_envelopes(self, copy: CopyImage, suites: tuple[str, ...]) -> dict[str, str]:
        """suite -> digest of the signed envelope its result came with (in any stage of the digest's chain)."""
        kept, found = self.services.test_envelopes, dict[str, str]()
        if kept is None:
            return found
        stages = (copy.source_repository, *self.policy.chain_repositories(copy.source_repository))
        for suite in suites:
            envelopes = (kept.of(stage, copy.digest, suite) for stage in stages)
            envelope = next((digest for digest in envelopes if digest is not None), None)
            if envelope is not None:
                found[suite] = envelope
        return found

    def _record(self, candidate: Candidate, decisions: list[Decision], trigger: Trigger) -> None:
        repository, digest = candidate.repository, candidate.digest
        for decision in decisions:
            if decision.rule is not None:
                entry = HistoryEntry.of(decision, event_id=trigger.event_id, at=trigger.at, trigger=trigger.name)
                self.ledger.record_decision(repository, digest, entry)
        if any(decision.outcome is Outcome.PENDING for decision in decisions):
            self.ledger.mark_pending(repository, digest, trigger.at)
        else:
            self.ledger.clear_pending(repository, digest)

    # ---- commands -------------------------------------------------------------------------

    def on_not_actionable(self, event: NotActionable) -> Report:
        return Report([ignored(event.repository, event.digest, event.reason)])

    def on_push(self, event: ImagePushed) -> Report:
        matches = self.policy.rules_for(event.repository)
        if not matches:
            return Report([ignored(event.repository, event.digest, f"no rule matches repository {event.repository}")])
        subject = self.referrers.subject_of_push(event)
        if subject is not None:  # a signature/SBOM/attestation pushed for an image: it follows a promoted image
            record = self.ledger.image_record(event.repository, subject)
            if record.promotions:
                return Report(self.referrers.resync(event.repository, subject, record))
        self.ledger.record_push(event.repository, event.digest, event.time, event.tag)
        if any(rule.require.tests for rule, _ in matches):
            self.ci.link_push(event, self.images.revision_of(event.repository, event.digest))
        return Report(
            self.evaluate(event.repository, event.digest, matches, Trigger(event.event_id, event.time, "push"))
        )

    def on_scan(self, event: ScanCompleted) -> Report:
        repository, digest = event.repository, event.digest
        foreign = event.registry_account
        if self.account_id is not None and foreign is not None and foreign != self.account_id:
            reason = f"scan of a repository in account {foreign}, not this account ({self.account_id})"
            return Report([ignored(repository, digest, reason)])
        matches = self.policy.rules_for(repository)
        if not matches:
            return Report([ignored(repository, digest, f"no rule matches repository {repository}")])
        if self.scans is None:  # local mode: the event is the evidence; with ECR it is re-read from the API
            self.ledger.record_scan(repository, digest, ScanEvidence(event.severity_counts, event.time, event.failure))
        trigger = Trigger(event.event_id, event.time, "scan")
        # A platform image's scan decides for the indexes that list it (it is promoted with them).
        parents = self.ledger.image_record(repository, digest).parents
        decisions: list[Decision] = []
        for image in parents or (digest,):
            decisions += self.evaluate(repository, image, matches, trigger)
        return Report(decisions)

    def on_test(self, event: ImageTestResult) -> Report:
        repository, digest = event.repository, event.digest
        # The result counts in every stage of the digest's chain: decide each other stage that needs the suite.
        stages = [
            (stage, matches)
            for stage in (repository, *self.policy.chain_repositories(repository))
            if (matches := self.policy.rules_for(stage))
            and (stage == repository or any(event.suite in rule.require.tests for rule, _ in matches))
        ]
        if not stages:
            return Report([ignored(repository, digest, f"no rule matches repository {repository}")])
        untrusted = untrusted_result(event, self.policy, self.verifier)
        if untrusted is not None:
            return Report([ignored(repository, digest, f"test result not trusted: {untrusted}")])
        signed = event.attestation is not None and self.policy.trust.test_results is not None
        use = SignedUse.FIRST
        if signed:
            # The signature covers the statement, not the event around it (its id, its time): each signed
            # statement is recorded once, at its first arrival; a redelivery only re-evaluates.
            use = self.ledger.claim_signed_result(signed_statement_digest(event.attestation or {}), event.event_id)
            if use is SignedUse.REPLAY:
                return Report(
                    [ignored(repository, digest, "test result not trusted: this signed result was already used")]
                )
        # Unsigned, the event's time orders results (capped at now: a future date would outrank every later
        # result); signed, the arrival does, since no signature covers the event's time.
        at = self.clock() if signed else min(event.time, self.clock())
        if use is SignedUse.FIRST:
            self.ledger.record_test(
                repository, digest, SuiteResult(event.suite, event.result, at, event.run_url), event.event_id
            )
            if signed and self.services.test_envelopes:
                self.services.test_envelopes.record(
                    repository, digest, event.suite, envelope_digest(event.attestation or {}), at
                )
        trigger = Trigger(event.event_id, at, "test")
        # Which stages hold the digest is settled before deciding: one invocation decides one hop.
        held = [(stage, m) for stage, m in stages if stage == repository or self.images.tags_of(stage, digest)]
        decisions: list[Decision] = []
        for stage, matches in held:
            decisions += self.evaluate(stage, digest, matches, trigger)
        if not decisions:
            return Report([ignored(repository, digest, f"recorded; {digest} is in no stage that needs it yet")])
        return Report(decisions)

    def on_pipeline(self, event: PipelineSucceeded) -> Report:
        if not any(event.suite in rule.require.tests for rule in self.policy.rules):
            return Report([ignored(None, None, f"no rule requires {event.suite}")])
        revisions = self.ci.confirmed_revisions(event)
        if isinstance(revisions, str):
            return Report([ignored(None, None, revisions)])
        if not revisions:
            return Report([ignored(None, None, f"{event.suite} succeeded but names no source revision")])
        trigger = Trigger(event.event_id, event.time, event.suite)
        decisions: list[Decision] = []
        for repository, digest in self.ci.record_success(event, revisions):
            decisions += self.evaluate(repository, digest, self.policy.rules_for(repository), trigger)
        if not decisions:
            shown = ", ".join(revisions)
            return Report([ignored(None, None, f"{event.suite} succeeded for {shown}; no image built from it yet")])
        return Report(decisions)

    def on_reconcile(self, event: Reconcile) -> Report:
        trigger = Trigger(event.event_id, event.time, "reconcile")
        decisions: list[Decision] = []
        for repository, digest in self.ledger.pending():
            decisions += self.evaluate(repository, digest, self.policy.rules_for(repository), trigger)
        return Report(decisions + self.referrers.scheduled(), unrecorded=audit_batch(self.services))

    def on_backfill(self, event: Backfill) -> Report:
        return backfill_batch(self.services, event, self.evaluate)

    def _digest_of(self, repository: str, tag: str | None, digest: str | None) -> str | None:
        if digest is not None:
            return digest if self.images.tags_of(repository, digest) is not None else None
        return self.images.digest_for_tag(repository, tag) if tag is not None else None

    def on_manual_promote(self, event: ManualPromote) -> Report:
        digest = self._digest_of(event.repository, event.tag, event.digest)
        if digest is None:
            return Report(error=f"{event.repository}:{event.tag or event.digest} not found")
        trigger = Trigger(event.event_id, event.time, "manual", event.dry_run, event.override_reason)
        return Report(self.evaluate(event.repository, digest, self.policy.rules_for(event.repository), trigger))

    def on_approval(self, event: ApprovalDecision) -> Report:
        """Record a verified approve/reject, then decide the image again (an approval may promote it)."""
        repository = event.repository
        digest = self._digest_of(repository, event.tag, event.digest)
        if digest is None:
            return Report(error=f"{repository}:{event.tag or event.digest} not found")
        stage = approval_stage(self.policy, repository, event.rule)
        matches = self.policy.rules_for(stage)
        approval = verified_approval(event, digest, matches, self.policy, self.approvals)
        if isinstance(approval, str):
            return Report([ignored(repository, digest, approval, event.rule)])
        self.ledger.record_approval(stage, digest, approval)
        trigger = Trigger(event.event_id, event.time, event.decision)
        if stage != repository and self.images.tags_of(stage, digest) is None:
            # Not in the rule's stage yet: the approval waits there; say where the image stands now.
            return Report(self.evaluate(repository, digest, self.policy.rules_for(repository), trigger))
        return Report(self.evaluate(stage, digest, matches, trigger))

    def on_status(self, event: StatusQuery) -> Report:
        """Gates and history of one image; writes nothing."""
        repository = event.repository
        digest = self._digest_of(repository, event.tag, event.digest)
        trigger = Trigger(event.event_id, event.time, "status", dry_run=True)
        matches = self.policy.rules_for(repository)
        facts = self._facts(repository, digest, matches, trigger) if digest is not None else None
        if digest is None or facts is None:
            return Report(error=f"{repository}:{event.tag or event.digest} not found")
        decisions = (
            self._decide(facts.candidate, matches, trigger)
            if matches
            else [ignored(repository, digest, f"no rule matches repository {repository}")]
        )
        status = status_of(repository, digest, facts.candidate.tags, facts.record)
        unrecorded = self.services.audit_state.unrecorded(repository, digest) if self.services.audit_state else None
        if unrecorded is not None:
            status["unrecorded"] = unrecorded
        return Report(decisions, status=status)


def promote(command: Command, services: Services) -> Report:
    """Act on one parsed command; returns the response as a Report."""
    service = PromotionService(services)
    handlers: dict[type[Any], Callable[[Any], Report]] = {
        NotActionable: service.on_not_actionable,
        ImagePushed: service.on_push,
        ScanCompleted: service.on_scan,
        ImageTestResult: service.on_test,
        PipelineSucceeded: service.on_pipeline,
        Reconcile: service.on_reconcile,
        Backfill: service.on_backfill,
        ManualPromote: service.on_manual_promote,
        ApprovalDecision: service.on_approval,
        StatusQuery: service.on_status,
    }
    return handlers[type(command)](command)
