"""Gate logic over recorded evidence, without AWS or a registry."""

from __future__ import annotations

from datetime import UTC, datetime

from promoter.gates import Evidence, ScanEvidence, SuiteResult, evaluate
from promoter.policy import load_policy

NOW = datetime(2026, 11, 27, tzinfo=UTC)
RULE = load_policy(
    {
        "rules": [
            {
                "name": "m",
                "source": "dev-m",
                "target": "prod-m",
                "require": {"tests": ["integration", "e2e"], "scan": {"fail_on": ["CRITICAL", "HIGH"]}},
            }
        ]
    }
).rules[0]


def passed(suite: str) -> SuiteResult:
    return SuiteResult(suite, "PASSED", NOW)


def test_no_evidence_is_pending_on_every_gate() -> None:
    verdict = evaluate(RULE, Evidence())

    assert verdict.state == "pending"
    assert "tests: integration has no result yet" in verdict.reasons
    assert "scan: no completed scan yet" in verdict.reasons


def test_all_suites_passed_and_clean_scan_passes() -> None:
    evidence = Evidence(
        tests={"integration": passed("integration"), "e2e": passed("e2e")},
        scan=ScanEvidence({"MEDIUM": 4, "LOW": 1}, NOW),
    )

    verdict = evaluate(RULE, evidence)

    assert verdict.state == "passed"
    assert "scan: no CRITICAL/HIGH findings" in verdict.reasons


def test_a_failed_suite_rejects_even_while_other_gates_are_pending() -> None:
    evidence = Evidence(tests={"integration": SuiteResult("integration", "FAILED", NOW, "https://ci/1")})

    verdict = evaluate(RULE, evidence)

    assert verdict.state == "rejected"
    assert verdict.reasons == ("tests: integration FAILED (https://ci/1)",)


def test_a_blocking_severity_rejects_and_names_the_count() -> None:
    evidence = Evidence(
        tests={"integration": passed("integration"), "e2e": passed("e2e")},
        scan=ScanEvidence({"HIGH": 2, "LOW": 9}, NOW),
    )

    verdict = evaluate(RULE, evidence)

    assert verdict.state == "rejected"
    assert verdict.reasons == ("scan: 2 HIGH finding(s)",)


def test_a_rule_without_requirements_passes() -> None:
    bare = load_policy({"rules": [{"name": "b", "source": "dev-b", "target": "prod-b"}]}).rules[0]

    assert evaluate(bare, Evidence()).state == "passed"
