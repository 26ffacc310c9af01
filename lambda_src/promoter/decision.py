"""The decision core: from the facts about one image digest to one `Decision` per matching rule.

Pure: no registry, no AWS, no ledger, no clock. The service (`promoter.promotion`) gathers the facts
once, asks `plan` what to do, performs the copies it asks for, hands what happened to `settle`, and
records the result. Every outcome of the response contract is decided in this module, so each one
is unit-tested in microseconds.

Words: an `Outcome` (promoter.contract) is the kind of result; a `Decision` is the per-rule record
of the response; a `GateStatus` (promoter.gates) is what the evidence says about a rule's gates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from promoter.contract import Outcome
from promoter.gates import Evidence, GateState, evaluate
from promoter.policy import Rule

RuleMatch = tuple[Rule, str]
"""A rule whose source matches the candidate's repository, with the target it maps to."""

TargetTags = Mapping[str, Mapping[str, str | None]]
"""Per target repository: what each tag the rule would write points to now (None: absent)."""


class CopyStats(Protocol):
    """What the service reports about a copy it made (promoter.registry.CopyResult fits)."""

    @property
    def already_present(self) -> bool: ...

    @property
    def blobs_mounted(self) -> int: ...

    @property
    def bytes_moved(self) -> int: ...

    @property
    def referrers_copied(self) -> int: ...

    @property
    def referrers_deferred(self) -> int: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Decision:
    """One rule's decision about one digest: an item of the response's `decisions`."""

    rule: str | None
    source_repository: str | None
    digest: str | None
    target_repository: str | None
    tags: tuple[str, ...]
    outcome: Outcome
    reasons: tuple[str, ...]
    copy: CopyStats | None = None
    override_reason: str | None = None
    latency_seconds: float | None = None
    # The promotion attestation (VSA) published with this promotion, when ATTESTATION_KEY is set.
    attestation_digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "source_repository": self.source_repository,
            "digest": self.digest,
            "target_repository": self.target_repository,
            "tags": list(self.tags),
            "outcome": str(self.outcome),
            "reasons": list(self.reasons),
        }
        if self.override_reason:
            data["override_reason"] = self.override_reason
        if self.copy is not None:
            data["copy"] = self.copy.to_dict()
        if self.attestation_digest is not None and self.outcome is Outcome.PROMOTED:
            data["attestation_digest"] = self.attestation_digest
        return data


@dataclass(frozen=True)
class Candidate:
    """The image under decision, as the registry and the ledger describe it now."""

    repository: str
    digest: str
    tags: tuple[str, ...]
    evidence: Evidence
    pushed_at: datetime | None = None


@dataclass(frozen=True)
class Trigger:
    """Why the candidate is being decided: the event (its id and time) and the caller's wishes."""

    event_id: str
    at: datetime
    name: str
    dry_run: bool = False
    override_reason: str | None = None


@dataclass(frozen=True)
class CopyImage:
    """A planned action: copy the candidate into `target_repository` under `tags`."""

    rule: str
    source_repository: str
    digest: str
    target_repository: str
    tags: tuple[str, ...]
    reasons: tuple[str, ...]
    override_reason: str | None = None


@dataclass(frozen=True)
class TagHeld:
    """What a copy found instead of copying: `tag` in the target already holds another digest."""

    tag: str
    existing_digest: str


Step = Decision | CopyImage


def ignored(repository: str | None, digest: str | None, reason: str, rule: str | None = None) -> Decision:
    return Decision(rule, repository, digest, None, (), Outcome.IGNORED, (reason,))


def _conflict_reason(target: str, tag: str, existing: str, digest: str) -> str:
    return f"{target}:{tag} holds {existing}, not {digest}: never overwritten"


def wanted_tags(matches: Sequence[RuleMatch], tags: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Per target: the tags the matching rules would write (what a dry run must look up)."""
    wanted: dict[str, tuple[str, ...]] = {}
    for rule, target in matches:
        wanted[target] = tuple(sorted({*wanted.get(target, ()), *rule.promotable_tags(tags)}))
    return wanted


def _dry_run(would: CopyImage, target_tags: TargetTags) -> Decision:
    """What promoting would do, from the target's current tags."""
    target, digest = would.target_repository, would.digest
    current = {tag: target_tags.get(target, {}).get(tag) for tag in would.tags}
    base = Decision(
        would.rule,
        would.source_repository,
        digest,
        target,
        would.tags,
        Outcome.DRY_RUN,
        (),
        None,
        would.override_reason,
    )
    clashes = [
        _conflict_reason(target, tag, found, digest) for tag, found in current.items() if found not in (None, digest)
    ]
    if clashes:
        return replace(base, outcome=Outcome.CONFLICT, reasons=tuple(clashes))
    if current and all(found == digest for found in current.values()):
        return replace(base, outcome=Outcome.ALREADY_PROMOTED, reasons=(f"{target} already holds {digest}",))
    return replace(base, reasons=("would promote", *would.reasons))


def plan_rule(
    rule: Rule, target: str, candidate: Candidate, trigger: Trigger, *, allow_override: bool, target_tags: TargetTags
) -> Step:
    """One rule's step: a final Decision, or the copy to make (a dry run never asks for a copy)."""
    repository, digest = candidate.repository, candidate.digest
    promotable = rule.promotable_tags(candidate.tags)
    if not promotable:
        shown = ", ".join(candidate.tags) if candidate.tags else "none"
        return ignored(repository, digest, f"no tag matches {' '.join(rule.tags)} (tags: {shown})", rule.name)

    def decided(outcome: Outcome, reasons: tuple[str, ...]) -> Decision:
        return Decision(rule.name, repository, digest, target, promotable, outcome, reasons)

    gates = evaluate(rule, candidate.evidence)
    if gates.state is GateState.REJECTED:
        return decided(Outcome.REJECTED, gates.reasons)
    reasons, override = gates.reasons, None
    if gates.state is GateState.PENDING:
        if trigger.override_reason is None:
            return decided(Outcome.PENDING, reasons)
        if not allow_override:
            return decided(Outcome.PENDING, ("override refused: the policy has allow_override false", *reasons))
        if gates.awaiting_approval:
            return decided(Outcome.PENDING, ("override refused: an approval needs a signature", *reasons))
        override = trigger.override_reason
        reasons = (f"override: {override}", *reasons)
    copy = CopyImage(rule.name, repository, digest, target, promotable, reasons, override)
    return _dry_run(copy, target_tags) if trigger.dry_run else copy


def plan(
    matches: Sequence[RuleMatch],
    candidate: Candidate,
    trigger: Trigger,
    *,
    allow_override: bool,
    target_tags: TargetTags | None = None,
) -> list[Step]:
    """The step of every matching rule, in policy order."""
    if not matches:
        repository = candidate.repository
        return [ignored(repository, candidate.digest, f"no rule matches repository {repository}")]
    return [
        plan_rule(rule, target, candidate, trigger, allow_override=allow_override, target_tags=target_tags or {})
        for rule, target in matches
    ]


def refused(copy: CopyImage, reason: str) -> Decision:
    """The Decision for a copy the target cannot safely receive (an unprotected target): nothing written."""
    return Decision(
        copy.rule, copy.source_repository, copy.digest, copy.target_repository, copy.tags, Outcome.REJECTED, (reason,)
    )


def settle(
    copy: CopyImage, result: CopyStats | TagHeld, *, claimed: bool, latency_seconds: float | None = None
) -> Decision:
    """The Decision for a copy once made: `claimed` is whether this delivery recorded the promotion first."""
    base = Decision(
        copy.rule,
        copy.source_repository,
        copy.digest,
        copy.target_repository,
        copy.tags,
        Outcome.PROMOTED,
        copy.reasons,
        override_reason=copy.override_reason,
    )
    if isinstance(result, TagHeld):
        reason = _conflict_reason(copy.target_repository, result.tag, result.existing_digest, copy.digest)
        return replace(base, outcome=Outcome.CONFLICT, reasons=(reason,), override_reason=None)
    if result.already_present or not claimed:
        # Someone else wrote it (a concurrent duplicate, or an earlier run): they claim the promotion.
        # The copy still re-synced the image's referrers (signatures, SBOMs added since): say so.
        held = f"{copy.target_repository} already holds {copy.digest}"
        moved = result.referrers_copied or result.referrers_deferred
        synced = (
            (f"referrers: {result.referrers_copied} copied, {result.referrers_deferred} deferred",) if moved else ()
        )
        return replace(
            base,
            outcome=Outcome.ALREADY_PROMOTED,
            reasons=(held, *synced, *copy.reasons),
            override_reason=None,
            copy=result if moved else None,
        )
    return replace(base, copy=result, latency_seconds=latency_seconds)
