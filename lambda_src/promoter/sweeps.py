"""The two walks over whole repositories: the backfill (sources) and the bypass audit (targets).

Why this module exists: both are wired into the service from here so promoter.promotion keeps only
the per-image flow. The backfill only chooses *which* images; each goes through the service's own
evaluate path (promoter.backfill). The audit runs one bounded batch per reconcile (promoter.audit).
"""

from __future__ import annotations

from collections.abc import Callable

from promoter.adapters.audit_state import Finding
from promoter.adapters.event_bus import NoEvents
from promoter.audit import BypassAudit
from promoter.backfill import InvalidBackfill, run_backfill
from promoter.commands import Backfill
from promoter.decision import Decision, RuleMatch, Trigger
from promoter.image_batches import InvalidCursor
from promoter.services import Report, Services

Evaluate = Callable[[str, str, list[RuleMatch], Trigger], list[Decision]]


def audit_batch(services: Services) -> list[Finding]:
    """One bounded batch of the bypass audit; nothing when no listing is wired in."""
    if services.listing is None or services.manifests is None or services.audit_state is None:
        return []
    audit = BypassAudit(
        services.policy,
        records=services.ledger,
        lister=services.listing,
        manifests=services.manifests,
        state=services.audit_state,
        publisher=services.publisher or NoEvents(),
        clock=services.clock,
    )
    return audit.run().findings


def backfill_batch(services: Services, command: Backfill, evaluate: Evaluate) -> Report:
    """The next batch of every source image through `evaluate` (dry-run honoured); a cursor while work remains."""
    if services.listing is None:
        return Report(error="backfill is not available: no repository listing is wired in", invalid_input=True)
    trigger = Trigger(command.event_id, command.time, "backfill", dry_run=command.request.dry_run)

    def one(repository: str, digest: str, matches: list[RuleMatch]) -> list[Decision]:
        return evaluate(repository, digest, matches, trigger)

    try:
        result = run_backfill(services.policy, services.listing, command.request, one)
    except (InvalidBackfill, InvalidCursor) as error:
        return Report(error=str(error), invalid_input=True)
    return Report(result.decisions, cursor=result.cursor)
