"""Manual invocations (Lambda console, CLI): `{"action": ...}` read into one command per action.

Each action has a strict model (unknown fields are refused: a typo must not silently change what a
person asked for) and one reader in `ACTION_READERS`; promoter.events dispatches to them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from promoter.backfill import InvalidBackfill, read_request
from promoter.commands import ApprovalDecision, Backfill, Command, ManualPromote, Reconcile, StatusQuery
from promoter.event_fields import Digest, InvalidEvent, Repository, Strict, Tag


class _ImageRequest(Strict):
    action: str
    repository: Repository
    tag: Tag | None = None
    digest: Digest | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> _ImageRequest:
        if (self.tag is None) == (self.digest is None):
            raise ValueError("give exactly one of 'tag' or 'digest'")
        return self


class _PromoteRequest(_ImageRequest):
    action: Literal["promote"]
    dry_run: bool = False
    override: dict[str, str] | None = None

    @model_validator(mode="after")
    def _override_has_a_reason(self) -> _PromoteRequest:
        if self.override is not None:
            reason = self.override.get("reason", "").strip()
            if set(self.override) != {"reason"} or not reason:
                raise ValueError('\'override\' must be {"reason": "<why>"} with a non-empty reason')
        return self


class _StatusRequest(_ImageRequest):
    action: Literal["status"]


class _ApprovalRequest(_ImageRequest):
    action: Literal["approve", "reject"]
    rule: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=1024)
    # Optional here so an unsigned approval is answered `ignored` with its reason, not as unreadable input.
    attestation: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _reason_is_text(self) -> _ApprovalRequest:
        if not self.reason.strip():
            raise ValueError("'reason' must say why")
        return self


class _ReconcileRequest(Strict):
    action: Literal["reconcile"]


def _on_promote(raw: dict[str, Any], base: dict[str, Any]) -> Command:
    request = _PromoteRequest.model_validate(raw)
    return ManualPromote(
        **base,
        repository=request.repository,
        tag=request.tag,
        digest=request.digest,
        dry_run=request.dry_run,
        override_reason=request.override["reason"].strip() if request.override else None,
    )


def _on_status(raw: dict[str, Any], base: dict[str, Any]) -> Command:
    request = _StatusRequest.model_validate(raw)
    return StatusQuery(**base, repository=request.repository, tag=request.tag, digest=request.digest)


def _on_approval(raw: dict[str, Any], base: dict[str, Any]) -> Command:
    request = _ApprovalRequest.model_validate(raw)
    return ApprovalDecision(
        **base,
        repository=request.repository,
        tag=request.tag,
        digest=request.digest,
        rule=request.rule,
        decision=request.action,
        reason=request.reason.strip(),
        attestation=request.attestation,
    )


def _on_reconcile(raw: dict[str, Any], base: dict[str, Any]) -> Command:
    if "scope" in raw:  # the backfill: every image of every source repository, in batches
        try:
            return Backfill(**base, request=read_request(raw))
        except InvalidBackfill as error:
            raise InvalidEvent(str(error)) from None
    extra = set(raw) - {"action"}
    if extra:
        raise InvalidEvent(f"reconcile takes no other fields (got {', '.join(sorted(map(str, extra)))[:200]})")
    _ReconcileRequest.model_validate(raw)
    return Reconcile(**base)


ACTION_READERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], Command]] = {
    "promote": _on_promote,
    "status": _on_status,
    "reconcile": _on_reconcile,
    "approve": _on_approval,
    "reject": _on_approval,
}


def from_manual(raw: dict[str, Any], request_id: str, now: datetime) -> Command:
    action = raw.get("action")
    reader = ACTION_READERS.get(action) if isinstance(action, str) else None
    if reader is None:
        shown = action if isinstance(action, str) else type(action).__name__
        raise InvalidEvent(f"unknown action {str(shown)[:40]!r}: expected {', '.join(ACTION_READERS)}")
    return reader(raw, {"event_id": request_id, "time": now})
