"""The DynamoDB ledger: one table (string keys `pk`/`sk`) holding evidence, decisions and pending work.

It implements the `promoter.ports.Ledger` protocol (the in-memory twin is promoter.adapters.memory).
Layout (all keys are strings):
  IMAGE#<repo>@<digest>   TEST#<suite>                 latest result per suite (newest event time wins)
                          SCAN                         latest completed scan
                          PUSH                         first push time, tags seen, revision
                          PROMOTED#<target>#<tag>      one item per promoted tag, created once (conditional)
                          DECISION#<event id>#<rule>   decision history, first delivery wins
                          PARENT#<index digest>        an image index that lists this digest as a child
                          APPROVAL#<rule>#<envelope>   a verified signed approve/reject, once per envelope
  PENDING                 <repo>@<digest>              candidates `reconcile` re-evaluates
  PROMOTED                <repo>@<digest>              promoted images whose referrers `reconcile` re-syncs
  RESYNC                  CURSOR                       where the last referrer re-sync stopped
  REVISION#<revision>     IMAGE#<repo>@<digest>        images built from a commit (tag or OCI label)
                          SUITE#<suite>                pipeline/codebuild successes for that commit

Conditional writes make duplicate or out-of-order deliveries harmless.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from promoter.contract import LedgerKey
from promoter.gates import ApprovalRecord, Evidence, ScanEvidence, SuiteResult
from promoter.ports import HistoryEntry, ImageRecord, Promotion, SignedUse

PENDING_PARTITION = "PENDING"
PROMOTED_PARTITION = "PROMOTED"
PENDING_TTL = timedelta(days=30)
HISTORY_LIMIT = 50
PK, SK = LedgerKey.PARTITION.value, LedgerKey.SORT.value


def _image_key(repository: str, digest: str) -> str:
    return f"IMAGE#{repository}@{digest}"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _conditional_failed(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _approval(item: dict[str, Any]) -> ApprovalRecord:
    decision = item["decision"]["S"]
    return ApprovalRecord(
        rule=item["rule"]["S"],
        decision="reject" if decision == "reject" else "approve",
        key_id=item["key_id"]["S"],
        reason=item["reason"]["S"],
        at=_time(item["at"]["S"]),
        attestation_digest=item["attestation_digest"]["S"],
    )


class DynamoLedger:
    """The ledger in DynamoDB; `client` is a boto3 DynamoDB client (moto, Stubber or real)."""

    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    # ---- writes -------------------------------------------------------------------------

    def _put_if(self, item: dict[str, dict[str, Any]], condition: str, values: dict[str, Any] | None = None) -> bool:
        """Put `item` when `condition` holds; False (not an error) when it does not."""
        request: dict[str, Any] = {"TableName": self._table, "Item": item, "ConditionExpression": condition}
        if values:
            request["ExpressionAttributeValues"] = values
        if "#at" in condition:
            request["ExpressionAttributeNames"] = {"#at": "at"}
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def record_test(self, repository: str, digest: str, result: SuiteResult, event_id: str) -> bool:
        """Store a suite result unless a newer one is already stored; True when stored."""
        item = {
            PK: _s(_image_key(repository, digest)),
            SK: _s(f"TEST#{result.suite}"),
            "suite": _s(result.suite),
            "result": _s(result.result),
            "at": _s(result.at.isoformat()),
            "event_id": _s(event_id),
        }
        if result.run_url:
            item["run_url"] = _s(result.run_url)
        return self._put_if(item, "attribute_not_exists(pk) OR #at <= :at", {":at": _s(result.at.isoformat())})

    def claim_signed_result(self, statement: str, event_id: str) -> SignedUse:
        # Keyed by the signed statement alone (it names the image digest): the same statement sent for
        # another repository of the digest's chain is the same evidence, not new evidence.
        item = {PK: _s(f"SIGNED#{statement}"), SK: _s("FIRST-USE"), "event_id": _s(event_id)}
        if self._put_if(item, "attribute_not_exists(pk)"):
            return SignedUse.FIRST
        same = self._put_if(item, "event_id = :event", {":event": _s(event_id)})
        return SignedUse.REDELIVERY if same else SignedUse.REPLAY

    def record_scan(self, repository: str, digest: str, scan: ScanEvidence) -> bool:
        item = {
            PK: _s(_image_key(repository, digest)),
            SK: _s("SCAN"),
            "counts": _s(json.dumps(scan.severity_counts, sort_keys=True)),
            "at": _s(scan.at.isoformat()),
        }
        if scan.failure is not None:
            item["failure"] = _s(scan.failure)
        return self._put_if(item, "attribute_not_exists(pk) OR #at <= :at", {":at": _s(scan.at.isoformat())})

    def record_push(self, repository: str, digest: str, at: datetime, tag: str | None) -> None:
        """Remember the earliest push time (for promotion latency) and the tags seen."""
        update = "SET pushed_at = if_not_exists(pushed_at, :at)"
        values: dict[str, Any] = {":at": _s(at.isoformat())}
        if tag:
            update += " ADD tags :tag"
            values[":tag"] = {"SS": [tag]}
        self._client.update_item(
            TableName=self._table,
            Key={PK: _s(_image_key(repository, digest)), SK: _s("PUSH")},
            UpdateExpression=update,
            ExpressionAttributeValues=values,
        )

    def record_approval(self, repository: str, digest: str, approval: ApprovalRecord) -> bool:
        item = {
            PK: _s(_image_key(repository, digest)),
            SK: _s(f"APPROVAL#{approval.rule}#{approval.attestation_digest}"),
            "rule": _s(approval.rule),
            "decision": _s(approval.decision),
            "key_id": _s(approval.key_id),
            "reason": _s(approval.reason),
            "at": _s(approval.at.isoformat()),
            "attestation_digest": _s(approval.attestation_digest),
        }
        return self._put_if(item, "attribute_not_exists(pk)")

    def link_revision(self, revision: str, repository: str, digest: str) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={PK: _s(f"REVISION#{revision}"), SK: _s(_image_key(repository, digest))},
        )

    def record_revision_success(self, revision: str, suite: str, at: datetime, event_id: str) -> None:
        item = {
            PK: _s(f"REVISION#{revision}"),
            SK: _s(f"SUITE#{suite}"),
            "at": _s(at.isoformat()),
            "event_id": _s(event_id),
        }
        self._put_if(item, "attribute_not_exists(pk) OR #at <= :at", {":at": _s(at.isoformat())})

    def claim_promotion(
        self, repository: str, digest: str, *, target: str, tag: str, rule: str, event_id: str, at: datetime
    ) -> bool:
        """Record that `tag` was promoted; True only for the first caller (concurrent duplicates get False)."""
        item = {
            PK: _s(_image_key(repository, digest)),
            SK: _s(f"PROMOTED#{target}#{tag}"),
            "rule": _s(rule),
            "event_id": _s(event_id),
            "at": _s(at.isoformat()),
        }
        claimed = self._put_if(item, "attribute_not_exists(pk)")
        if claimed:
            self._client.put_item(
                TableName=self._table, Item={PK: _s(PROMOTED_PARTITION), SK: _s(f"{repository}@{digest}")}
            )
        return claimed

    def link_children(self, repository: str, index_digest: str, children: tuple[str, ...]) -> None:
        for child in children:
            self._client.put_item(
                TableName=self._table,
                Item={PK: _s(_image_key(repository, child)), SK: _s(f"PARENT#{index_digest}")},
            )

    def record_decision(self, repository: str, digest: str, entry: HistoryEntry) -> bool:
        item: dict[str, dict[str, Any]] = {
            PK: _s(_image_key(repository, digest)),
            SK: _s(f"DECISION#{entry.event_id}#{entry.rule}"),
            "decision": _s(json.dumps(entry.to_dict(), sort_keys=True)),
            "at": _s(entry.at.isoformat()),
        }
        return self._put_if(item, "attribute_not_exists(pk)")

    def mark_pending(self, repository: str, digest: str, at: datetime) -> None:
        expires = int((at + PENDING_TTL).timestamp())
        self._client.update_item(
            TableName=self._table,
            Key={PK: _s(PENDING_PARTITION), SK: _s(f"{repository}@{digest}")},
            UpdateExpression="SET since = if_not_exists(since, :at), expires_at = :exp",
            ExpressionAttributeValues={":at": _s(at.isoformat()), ":exp": {"N": str(expires)}},
        )

    def clear_pending(self, repository: str, digest: str) -> None:
        self._client.delete_item(
            TableName=self._table, Key={PK: _s(PENDING_PARTITION), SK: _s(f"{repository}@{digest}")}
        )

    # ---- reads --------------------------------------------------------------------------

    def promoted_images(self, after: str | None, limit: int) -> tuple[list[tuple[str, str]], str | None]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{PK} = :pk",
            "ExpressionAttributeValues": {":pk": _s(PROMOTED_PARTITION)},
            "Limit": limit,
        }
        if after:
            request["ExclusiveStartKey"] = {PK: _s(PROMOTED_PARTITION), SK: _s(after)}
        page = self._client.query(**request)
        images = [tuple(item[SK]["S"].split("@", 1)) for item in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return [(repository, digest) for repository, digest in images], (last[SK]["S"] if last else None)

    def resync_cursor(self) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key={PK: _s("RESYNC"), SK: _s("CURSOR")}, ConsistentRead=True
        ).get("Item")
        return item["after"]["S"] if item and "after" in item else None

    def save_resync_cursor(self, cursor: str | None) -> None:
        item: dict[str, dict[str, Any]] = {PK: _s("RESYNC"), SK: _s("CURSOR")}
        if cursor:
            item["after"] = _s(cursor)
        self._client.put_item(TableName=self._table, Item=item)

    def _query(self, partition: str, prefix: str | None = None) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{PK} = :pk",
            "ExpressionAttributeValues": {":pk": _s(partition)},
            "ConsistentRead": True,
        }
        if prefix:
            request["KeyConditionExpression"] += f" AND begins_with({SK}, :prefix)"
            request["ExpressionAttributeValues"][":prefix"] = _s(prefix)
        while True:
            page = self._client.query(**request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def image_record(self, repository: str, digest: str) -> ImageRecord:
        tests: dict[str, SuiteResult] = {}
        scan: ScanEvidence | None = None
        pushed_at: datetime | None = None
        promotions: list[Promotion] = []
        history: list[HistoryEntry] = []
        parents: list[str] = []
        approvals: list[ApprovalRecord] = []
        for item in self._query(_image_key(repository, digest)):
            sort_key = item[SK]["S"]
            if sort_key.startswith("TEST#"):
                tests[item["suite"]["S"]] = SuiteResult(
                    suite=item["suite"]["S"],
                    result=item["result"]["S"],
                    at=_time(item["at"]["S"]),
                    run_url=item.get("run_url", {}).get("S"),
                )
            elif sort_key == "SCAN":
                failure = item.get("failure", {}).get("S")
                scan = ScanEvidence(json.loads(item["counts"]["S"]), _time(item["at"]["S"]), failure)
            elif sort_key == "PUSH":
                pushed_at = _time(item["pushed_at"]["S"]) if "pushed_at" in item else None
            elif sort_key.startswith("PROMOTED#"):
                _, target, tag = sort_key.split("#", 2)
                promotions.append(
                    Promotion(target, tag, _time(item["at"]["S"]), item["rule"]["S"], item["event_id"]["S"])
                )
            elif sort_key.startswith("DECISION#"):
                history.append(HistoryEntry.from_dict(json.loads(item["decision"]["S"]), _time(item["at"]["S"])))
            elif sort_key.startswith("PARENT#"):
                parents.append(sort_key.removeprefix("PARENT#"))
            elif sort_key.startswith("APPROVAL#"):
                approvals.append(_approval(item))
        history.sort(key=lambda entry: entry.at)
        approvals.sort(key=lambda approval: approval.at)
        return ImageRecord(
            evidence=Evidence(tests=tests, scan=scan, approvals=tuple(approvals)),
            pushed_at=pushed_at,
            promotions=tuple(promotions),
            history=tuple(history[-HISTORY_LIMIT:]),
            parents=tuple(parents),
        )

    def images_for_revision(self, revision: str) -> list[tuple[str, str]]:
        images = []
        for item in self._query(f"REVISION#{revision}", "IMAGE#"):
            repository, digest = item[SK]["S"].removeprefix("IMAGE#").split("@", 1)
            images.append((repository, digest))
        return images

    def revision_successes(self, revision: str) -> list[SuiteResult]:
        return [
            SuiteResult(suite=item[SK]["S"].removeprefix("SUITE#"), result="PASSED", at=_time(item["at"]["S"]))
            for item in self._query(f"REVISION#{revision}", "SUITE#")
        ]

    def pending(self) -> list[tuple[str, str]]:
        candidates = []
        for item in self._query(PENDING_PARTITION):
            repository, digest = item[SK]["S"].split("@", 1)
            candidates.append((repository, digest))
        return candidates


Ledger = DynamoLedger
"""The name devtools, the CLI and the tests have always imported."""
