"""The signed test-result envelopes a promotion relied on, kept by digest for its attestation.

Why this module exists: the VSA published with a promotion lists, in `inputAttestations`, the sha256
of each signed envelope the gates passed on (docs/ATTESTATION.md; the same digest the
verifier reports as `attestation_digest`). The ledger keeps a suite's result but not its envelope,
so the digest is recorded here when the result is verified: one item per (image, suite) in the
ledger table, `IMAGE#<repo>@<digest>` / `TESTENV#<suite>`, the newest result's envelope winning.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from promoter.attest.dsse import canonical_bytes, pae, parse_envelope
from promoter.attest.evidence import attestation_digest
from promoter.contract import LedgerKey

PK, SK = LedgerKey.PARTITION.value, LedgerKey.SORT.value


def envelope_digest(envelope: Mapping[str, Any]) -> str:
    """`sha256:<hex>` of the envelope as the verifier stores it (promoter.attest.evidence)."""
    return attestation_digest(canonical_bytes(envelope))


def signed_statement_digest(envelope: Mapping[str, Any]) -> str:
    """`sha256:<hex>` of what the envelope's signature covers (the DSSE PAE of its type and payload): the same
    for every spelling of the envelope around it (extra signatures, key id forms, base64 variants)."""
    parsed = parse_envelope(envelope)
    return "sha256:" + hashlib.sha256(pae(parsed.payload_type, parsed.payload)).hexdigest()


class TestEnvelopes(Protocol):
    def record(self, repository: str, digest: str, suite: str, envelope: str, at: datetime) -> None:
        """Keep `envelope` (its digest) as the suite's evidence for the image unless a newer one is kept."""
        ...

    def of(self, repository: str, digest: str, suite: str) -> str | None: ...


class DynamoTestEnvelopes:
    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    @staticmethod
    def _key(repository: str, digest: str, suite: str) -> dict[str, dict[str, str]]:
        return {PK: {"S": f"IMAGE#{repository}@{digest}"}, SK: {"S": f"TESTENV#{suite}"}}

    def record(self, repository: str, digest: str, suite: str, envelope: str, at: datetime) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={**self._key(repository, digest, suite), "envelope": {"S": envelope}, "at": {"S": at.isoformat()}},
                ConditionExpression=f"attribute_not_exists({PK}) OR #at <= :at",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":at": {"S": at.isoformat()}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # a newer result's envelope is kept: this older one is not the evidence

    def of(self, repository: str, digest: str, suite: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key=self._key(repository, digest, suite), ConsistentRead=True
        ).get("Item")
        return str(item["envelope"]["S"]) if item else None


@dataclass
class InMemoryTestEnvelopes:
    kept: dict[tuple[str, str, str], tuple[datetime, str]] = field(default_factory=dict)

    def record(self, repository: str, digest: str, suite: str, envelope: str, at: datetime) -> None:
        held = self.kept.get((repository, digest, suite))
        if held is None or held[0] <= at:
            self.kept[(repository, digest, suite)] = (at, envelope)

    def of(self, repository: str, digest: str, suite: str) -> str | None:
        held = self.kept.get((repository, digest, suite))
        return held[1] if held else None
