"""The `status` answer: an image's evidence, promotions and decision history, as the ledger holds them.

Kept apart from the service so the response shape of `status` is one small function to read.
"""

from __future__ import annotations

from typing import Any

from promoter.ports import ImageRecord


def status_of(repository: str, digest: str, tags: tuple[str, ...], record: ImageRecord) -> dict[str, Any]:
    evidence = record.evidence
    scan = evidence.scan
    scan_view: dict[str, Any] | None = None
    if scan is not None:
        scan_view = {"severity_counts": scan.severity_counts, "at": scan.at.isoformat()}
        if scan.failure is not None:
            scan_view["failure"] = scan.failure
    return {
        "repository": repository,
        "digest": digest,
        "tags": list(tags),
        "tests": {
            suite: {"result": result.result, "at": result.at.isoformat(), "run_url": result.run_url}
            for suite, result in sorted(evidence.tests.items())
        },
        "scan": scan_view,
        "approvals": [
            {
                "rule": a.rule,
                "decision": a.decision,
                "key_id": a.key_id,
                "reason": a.reason,
                "at": a.at.isoformat(),
                "attestation_digest": a.attestation_digest,
            }
            for a in evidence.approvals
        ],
        "promotions": [
            {"target_repository": p.target_repository, "tag": p.tag, "at": p.at.isoformat(), "rule": p.rule}
            for p in record.promotions
        ],
        "history": [entry.to_dict() for entry in record.history],
    }
