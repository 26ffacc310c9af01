"""The in-memory ledger keeps the DynamoDB ledger's guarantees (newest evidence wins, first claim wins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from promoter.adapters.memory import InMemoryLedger
from promoter.contract import Outcome
from promoter.gates import ScanEvidence, SuiteResult
from promoter.ports import HistoryEntry
from tests.unit.fakes import new_digest

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def test_an_older_result_never_replaces_a_newer_one() -> None:
    ledger, digest = InMemoryLedger(), new_digest()

    assert ledger.record_test("dev-a", digest, SuiteResult("it", "FAILED", T0 + timedelta(minutes=1)), "e2")
    assert not ledger.record_test("dev-a", digest, SuiteResult("it", "PASSED", T0), "e1")
    assert ledger.record_scan("dev-a", digest, ScanEvidence({}, T0))
    assert not ledger.record_scan("dev-a", digest, ScanEvidence({"LOW": 1}, T0 - timedelta(days=1)))

    evidence = ledger.image_record("dev-a", digest).evidence
    assert evidence.tests["it"].result == "FAILED"
    assert evidence.scan == ScanEvidence({}, T0)


def test_only_the_first_claim_of_a_promotion_and_of_a_decision_wins() -> None:
    ledger, digest = InMemoryLedger(), new_digest()
    claim = {"target": "prod-a", "tag": "v1", "rule": "r", "event_id": "e1", "at": T0}
    entry = HistoryEntry("e1", T0, "r", "prod-a", ("v1",), Outcome.PROMOTED, ("ok",), "push")

    assert ledger.claim_promotion("dev-a", digest, **claim)  # type: ignore[arg-type]
    assert not ledger.claim_promotion("dev-a", digest, **claim)  # type: ignore[arg-type]
    assert ledger.record_decision("dev-a", digest, entry)
    assert not ledger.record_decision("dev-a", digest, entry)
    assert [p.tag for p in ledger.image_record("dev-a", digest).promotions] == ["v1"]


def test_pending_revisions_and_index_children_are_remembered() -> None:
    ledger, index, child = InMemoryLedger(), new_digest(), new_digest()

    ledger.mark_pending("dev-a", index, T0)
    ledger.link_revision("abc1234", "dev-a", index)
    ledger.record_revision_success("abc1234", "codebuild:x", T0, "e1")
    ledger.link_children("dev-a", index, (child,))

    assert ledger.pending() == [("dev-a", index)]
    assert ledger.images_for_revision("abc1234") == [("dev-a", index)]
    assert [s.suite for s in ledger.revision_successes("abc1234")] == ["codebuild:x"]
    assert ledger.image_record("dev-a", child).parents == (index,)
    ledger.clear_pending("dev-a", index)
    assert ledger.pending() == []
