"""Gates: what the evidence recorded for one image digest says about one rule's requirements.

Pure functions over plain data, so every gate is unit-testable without AWS or a registry. The
result of a gate check is a `GateStatus` (passed, pending or rejected, with reasons); the decision
core (`promoter.decision`) turns it into the response's `Decision`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal

from promoter.policy import Rule

SuiteStatus = Literal["PASSED", "FAILED"]


class GateState(StrEnum):
    PASSED = "passed"
    PENDING = "pending"
    REJECTED = "rejected"


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    result: SuiteStatus
    at: datetime
    run_url: str | None = None


@dataclass(frozen=True)
class ScanEvidence:
    """A scan that reached an end: severity counts, or `failure` when the scanner can never finish it."""

    severity_counts: dict[str, int]
    at: datetime
    failure: str | None = None


@dataclass(frozen=True)
class ApprovalRecord:
    """A verified, signed approve or reject of one digest for one rule (the stage it would enter)."""

    rule: str
    decision: Literal["approve", "reject"]
    key_id: str
    reason: str
    at: datetime
    # sha256 of the DSSE envelope as stored: the same signed approval replayed is one record.
    attestation_digest: str


@dataclass(frozen=True)
class Evidence:
    """Everything known about one digest: the latest result per suite, the latest completed scan, approvals."""

    tests: dict[str, SuiteResult] = field(default_factory=dict)
    scan: ScanEvidence | None = None
    approvals: tuple[ApprovalRecord, ...] = ()
    # Set while (part of) the scan is missing: `scan` then holds what the finished part found, if any.
    scan_pending_reason: str | None = None


def with_chain_tests(evidence: Evidence, others: list[Evidence]) -> Evidence:
    """`evidence` plus the test results recorded for the same digest in other stages of its chain:
    per suite the newest result wins, wherever it was recorded (evidence is about content)."""
    tests = dict(evidence.tests)
    for other in others:
        for suite, result in other.tests.items():
            if suite not in tests or tests[suite].at < result.at:
                tests[suite] = result
    return replace(evidence, tests=tests)


@dataclass(frozen=True)
class GateStatus:
    state: GateState
    reasons: tuple[str, ...]
    # A pending approval needs a signature: an override (a reason typed by whoever invokes) never replaces it.
    awaiting_approval: bool = False


@dataclass
class _Tally:
    passed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    awaiting_approval: bool = False


def _check_tests(required: tuple[str, ...], evidence: Evidence, tally: _Tally) -> None:
    for suite in required:
        found = evidence.tests.get(suite)
        if found is None:
            tally.pending.append(f"tests: {suite} has no result yet")
        elif found.result == "FAILED":
            where = f" ({found.run_url})" if found.run_url else ""
            tally.failed.append(f"tests: {suite} FAILED{where}")
        else:
            tally.passed.append(f"tests: {suite} PASSED")


def _check_scan(rule: Rule, evidence: Evidence, tally: _Tally) -> None:
    """A failed scan or a blocking finding rejects, even while other images of an index are still unscanned."""
    scan_gate = rule.require.scan
    if scan_gate is None:
        return
    scan = evidence.scan
    if scan is not None and scan.failure is not None:
        tally.failed.append(f"scan: {scan.failure}")
        return
    counts = scan.severity_counts if scan is not None else {}
    found = {severity: counts[severity] for severity in scan_gate.fail_on if counts.get(severity, 0) > 0}
    if found:
        listed = ", ".join(f"{count} {severity}" for severity, count in found.items())
        tally.failed.append(f"scan: {listed} finding(s)")
    elif scan is None or evidence.scan_pending_reason is not None:
        tally.pending.append(evidence.scan_pending_reason or "scan: no completed scan yet")
    else:
        tally.passed.append(f"scan: no {'/'.join(scan_gate.fail_on)} findings")


def _check_approval(rule: Rule, evidence: Evidence, tally: _Tally) -> None:
    """A signed reject is final for this digest and rule; else one signed approve passes the gate."""
    if rule.require.approval is None:
        return
    mine = [approval for approval in evidence.approvals if approval.rule == rule.name]
    rejects = [approval for approval in mine if approval.decision == "reject"]
    approves = [approval for approval in mine if approval.decision == "approve"]
    if rejects:
        tally.failed += [f"approval: rejected by {r.key_id}: {r.reason}" for r in rejects]
    elif approves:
        tally.passed += [f"approval: approved by {a.key_id}: {a.reason}" for a in approves]
    else:
        tally.pending.append("approval: none yet")
        tally.awaiting_approval = True


def evaluate(rule: Rule, evidence: Evidence) -> GateStatus:
    """Rejected if any gate failed, else pending if any gate lacks evidence, else passed."""
    tally = _Tally()
    _check_tests(rule.require.tests, evidence, tally)
    _check_scan(rule, evidence, tally)
    _check_approval(rule, evidence, tally)
    if tally.failed:
        return GateStatus(GateState.REJECTED, tuple(tally.failed))
    if tally.pending:
        return GateStatus(GateState.PENDING, tuple(tally.pending + tally.passed), tally.awaiting_approval)
    return GateStatus(GateState.PASSED, tuple(tally.passed or ["no gates required"]))
