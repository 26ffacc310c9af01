"""Where the bypass audit keeps its place and what it has already reported, in the ledger table.

Why this module exists: the audit reads a bounded batch per scheduled run, so the next run must
resume where this one stopped; and an image pushed straight into a target stays there, so without a
record of what was reported every run would raise the same alarm again. Layout (string keys, the
ledger's `pk`/`sk`, promoter.contract.LedgerKey):

  AUDIT                  CURSOR      `cursor` (opaque, promoter.image_batches.Cursor; absent: the next
                                     run starts a new pass), `at` (when it was written)
  UNRECORDED#<target>    <digest>    one per reported image, created once by a conditional put:
                                     `tags` (JSON list), `pushed_at`, `reported_at`, `rule`, `source_repository`

`InMemoryAuditState` is the twin for unit tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from promoter.contract import LedgerKey

PK, SK = LedgerKey.PARTITION.value, LedgerKey.SORT.value
AUDIT_PARTITION = "AUDIT"
CURSOR_SORT = "CURSOR"


@dataclass(frozen=True)
class Finding:
    """An image in a target repository that no promotion by this function accounts for."""

    repository: str
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime | None
    rule: str | None = None
    source_repository: str | None = None

    def reason(self) -> str:
        when = self.pushed_at.isoformat() if self.pushed_at else "at an unknown time"
        return (
            f"{self.repository}@{self.digest} (pushed {when}) was not promoted by ecr-promoter: no promotion recorded"
        )

    def detail(self) -> dict[str, Any]:
        """The `Unrecorded Image` event detail: the same keys as every promoter event."""
        return {
            "rule": self.rule,
            "source-repository": self.source_repository,
            "target-repository": self.repository,
            "digest": self.digest,
            "tags": list(self.tags),
            "reasons": [self.reason()],
        }


class AuditState(Protocol):
    def audit_cursor(self) -> str | None: ...

    def save_audit_cursor(self, cursor: str | None, at: datetime) -> None: ...

    def mark_unrecorded(self, finding: Finding, at: datetime) -> bool:
        """True only the first time `finding`'s (repository, digest) is marked."""
        ...

    def forget_unrecorded(self, repository: str, digest: str) -> None:
        """Undo a mark whose event could not be published (the next run reports it again)."""
        ...

    def unrecorded(self, repository: str, digest: str) -> dict[str, Any] | None:
        """What was reported about this image (for `status`); None when nothing was."""
        ...


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class DynamoAuditState:
    """AuditState in the ledger table; `client` is a boto3 DynamoDB client."""

    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    def audit_cursor(self) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key={PK: _s(AUDIT_PARTITION), SK: _s(CURSOR_SORT)}, ConsistentRead=True
        ).get("Item")
        return str(item["cursor"]["S"]) if item and "cursor" in item else None

    def save_audit_cursor(self, cursor: str | None, at: datetime) -> None:
        item: dict[str, Any] = {PK: _s(AUDIT_PARTITION), SK: _s(CURSOR_SORT), "at": _s(at.isoformat())}
        if cursor is not None:
            item["cursor"] = _s(cursor)
        self._client.put_item(TableName=self._table, Item=item)

    def mark_unrecorded(self, finding: Finding, at: datetime) -> bool:
        item: dict[str, Any] = {
            PK: _s(f"UNRECORDED#{finding.repository}"),
            SK: _s(finding.digest),
            "tags": _s(json.dumps(list(finding.tags))),
            "reported_at": _s(at.isoformat()),
        }
        if finding.pushed_at is not None:
            item["pushed_at"] = _s(finding.pushed_at.isoformat())
        if finding.rule is not None:
            item["rule"] = _s(finding.rule)
        if finding.source_repository is not None:
            item["source_repository"] = _s(finding.source_repository)
        try:
            self._client.put_item(TableName=self._table, Item=item, ConditionExpression=f"attribute_not_exists({PK})")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def forget_unrecorded(self, repository: str, digest: str) -> None:
        self._client.delete_item(TableName=self._table, Key={PK: _s(f"UNRECORDED#{repository}"), SK: _s(digest)})

    def unrecorded(self, repository: str, digest: str) -> dict[str, Any] | None:
        item = self._client.get_item(
            TableName=self._table, Key={PK: _s(f"UNRECORDED#{repository}"), SK: _s(digest)}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return {
            "reported_at": item["reported_at"]["S"],
            "pushed_at": item.get("pushed_at", {}).get("S"),
            "tags": json.loads(item["tags"]["S"]),
        }


@dataclass
class InMemoryAuditState:
    cursor: str | None = None
    cursor_writes: int = 0
    reported: dict[tuple[str, str], tuple[Finding, datetime]] = field(default_factory=dict)

    def audit_cursor(self) -> str | None:
        return self.cursor

    def save_audit_cursor(self, cursor: str | None, at: datetime) -> None:
        self.cursor = cursor
        self.cursor_writes += 1

    def mark_unrecorded(self, finding: Finding, at: datetime) -> bool:
        key = (finding.repository, finding.digest)
        if key in self.reported:
            return False
        self.reported[key] = (finding, at)
        return True

    def forget_unrecorded(self, repository: str, digest: str) -> None:
        self.reported.pop((repository, digest), None)

    def unrecorded(self, repository: str, digest: str) -> dict[str, Any] | None:
        found = self.reported.get((repository, digest))
        if found is None:
            return None
        finding, at = found
        pushed = finding.pushed_at.isoformat() if finding.pushed_at else None
        return {"reported_at": at.isoformat(), "pushed_at": pushed, "tags": list(finding.tags)}
