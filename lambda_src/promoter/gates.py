"""Gates: turn the evidence recorded for one image digest into a verdict for one rule.

Pure functions over plain data, so every gate decision is unit-testable without AWS or a registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from promoter.policy import Rule

VerdictState = Literal["passed", "pending", "rejected"]


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    result: Literal["PASSED", "FAILED"]
    at: datetime
    run_url: str | None = None


@dataclass(frozen=True)
class ScanEvidence:
    severity_counts: dict[str, int]
    at: datetime


@dataclass(frozen=True)
class Evidence:
    """Everything known about one digest: the latest result per suite and the latest completed scan."""

    tests: dict[str, SuiteResult] = field(default_factory=dict)
    scan: ScanEvidence | None = None


@dataclass(frozen=True)
class Verdict:
    state: VerdictState
    reasons: tuple[str, ...]


def _tests_gate(required: tuple[str, ...], evidence: Evidence) -> tuple[list[str], list[str], list[str]]:
    passed, pending, failed = [], [], []
    for suite in required:
        outcome = evidence.tests.get(suite)
        if outcome is None:
            pending.append(f"tests: {suite} has no result yet")
        elif outcome.result == "FAILED":
            where = f" ({outcome.run_url})" if outcome.run_url else ""
            failed.append(f"tests: {suite} FAILED{where}")
        else:
            passed.append(f"tests: {suite} PASSED")
    return passed, pending, failed


def _scan_gate(rule: Rule, evidence: Evidence) -> tuple[list[str], list[str], list[str]]:
    scan_gate = rule.require.scan
    if scan_gate is None:
        return [], [], []
    if evidence.scan is None:
        return [], ["scan: no completed scan yet"], []
    found = {
        severity: evidence.scan.severity_counts.get(severity, 0)
        for severity in scan_gate.fail_on
        if evidence.scan.severity_counts.get(severity, 0) > 0
    }
    if found:
        listed = ", ".join(f"{count} {severity}" for severity, count in found.items())
        return [], [], [f"scan: {listed} finding(s)"]
    return [f"scan: no {'/'.join(scan_gate.fail_on)} findings"], [], []


def evaluate(rule: Rule, evidence: Evidence) -> Verdict:
    """Rejected if any gate failed, else pending if any gate lacks evidence, else passed."""
    test_passed, test_pending, test_failed = _tests_gate(rule.require.tests, evidence)
    scan_passed, scan_pending, scan_failed = _scan_gate(rule, evidence)
    failed = test_failed + scan_failed
    if failed:
        return Verdict("rejected", tuple(failed))
    pending = test_pending + scan_pending
    if pending:
        return Verdict("pending", tuple(pending + test_passed + scan_passed))
    reasons = test_passed + scan_passed
    return Verdict("passed", tuple(reasons or ["no gates required"]))
