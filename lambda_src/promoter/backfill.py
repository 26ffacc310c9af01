"""Backfill: apply the policy to images that existed before it, in bounded, resumable batches.

Why this module exists: installing the promoter on existing repositories must promote what already
qualifies and mark the rest pending (issue 16, item 4), but no push event will ever come for those
images. `{"action": "reconcile", "scope": "all", "since"?, "rule"?, "cursor"?, "dry_run"?}` walks
every source repository of the policy (or of one rule), at most `BATCH_SIZE` images per invocation,
and answers with a `cursor` while work remains; the CLI calls again with it until there is none.

Each image goes through the service's ordinary evaluate path (the same gates, the same ledger
writes, dry-run honoured): this module only decides *which* images, never *what* happens to them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from promoter.decision import Decision, RuleMatch
from promoter.image_batches import Cursor, InvalidCursor, RepositoryImages, next_batch
from promoter.policy import Policy

BATCH_SIZE = 50
SCOPE_ALL = "all"
_FIELDS = frozenset({"action", "scope", "since", "rule", "cursor", "dry_run"})


class InvalidBackfill(ValueError):
    """The backfill request cannot be read; the message says which field and why (nothing is written)."""


class UnknownRule(InvalidBackfill):
    """`rule` names no rule of the policy."""


@dataclass(frozen=True)
class BackfillRequest:
    since: datetime | None = None
    rule: str | None = None
    cursor: Cursor | None = None
    dry_run: bool = False


def _since(value: object) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidBackfill("'since' must be an ISO date or date-time string, e.g. 2026-11-01")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        except ValueError:
            raise InvalidBackfill(f"'since' is not an ISO date: {value[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_request(raw: Mapping[str, Any]) -> BackfillRequest:
    """The request in a manual `reconcile` with `scope: all`; InvalidBackfill names what is wrong."""
    extra = set(raw) - _FIELDS
    if extra:
        raise InvalidBackfill(f"backfill does not take {', '.join(sorted(map(str, extra)))[:200]}")
    if raw.get("scope") != SCOPE_ALL:
        raise InvalidBackfill(f"'scope' must be {SCOPE_ALL!r}")
    rule = raw.get("rule")
    if rule is not None and (not isinstance(rule, str) or not 1 <= len(rule) <= 64):
        raise InvalidBackfill("'rule' must be a rule name (1-64 characters)")
    dry_run = raw.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise InvalidBackfill("'dry_run' must be true or false")
    try:
        cursor = Cursor.decode(raw["cursor"]) if raw.get("cursor") is not None else None
    except InvalidCursor as error:
        raise InvalidBackfill(f"'cursor': {error}") from None
    since = _since(raw["since"]) if raw.get("since") is not None else None
    return BackfillRequest(since=since, rule=rule, cursor=cursor, dry_run=dry_run)


def source_repositories(policy: Policy, lister: RepositoryImages, rule: str | None = None) -> list[str]:
    """Every repository a rule (or the named one) reads: literal sources, and those its glob matches now."""
    rules = [candidate for candidate in policy.rules if rule is None or candidate.name == rule]
    if not rules:
        raise UnknownRule(f"no rule named {rule!r} in the policy (rules: {', '.join(r.name for r in policy.rules)})")
    names: set[str] = set()
    for chosen in rules:
        names.update(lister.repositories(chosen.source))
    return sorted(name for name in names if any(chosen.target_for(name) for chosen in rules))


def matches_for(policy: Policy, repository: str, rule: str | None) -> list[RuleMatch]:
    return [(candidate, target) for candidate, target in policy.rules_for(repository) if rule in (None, candidate.name)]


@dataclass(frozen=True)
class BackfillResult:
    decisions: list[Decision]
    cursor: str | None  # for the response: present while images remain
    images: int


Evaluate = Callable[[str, str, list[RuleMatch]], list[Decision]]
"""The service's evaluate path for one (repository, digest) under the given matches (its trigger bound)."""


def run_backfill(
    policy: Policy,
    lister: RepositoryImages,
    request: BackfillRequest,
    evaluate: Evaluate,
    *,
    batch_size: int = BATCH_SIZE,
) -> BackfillResult:
    """Evaluate the next batch of images; raises UnknownRule / InvalidCursor for a request that cannot be served."""
    repositories = source_repositories(policy, lister, request.rule)
    batch = next_batch(lister, repositories, request.cursor, limit=batch_size, since=request.since)
    decisions: list[Decision] = []
    for image in batch.images:
        decisions += evaluate(image.repository, image.digest, matches_for(policy, image.repository, request.rule))
    return BackfillResult(decisions, batch.cursor.encode() if batch.cursor else None, len(batch.images))
