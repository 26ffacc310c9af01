"""Exit codes of operator commands and how a response is shown."""

from __future__ import annotations

import pytest

from promoter.cli import exits
from promoter.cli.render import decisions_exit_code, print_response, query_exit_code, size
from promoter.contract import Outcome


def _decision(outcome: str, **extra: object) -> dict[str, object]:
    return {
        "rule": "r",
        "source_repository": "dev-a",
        "digest": "sha256:" + "1" * 64,
        "target_repository": "prod-a",
        "tags": ["v1"],
        "outcome": outcome,
        "reasons": [f"because {outcome}"],
        **extra,
    }


EXPECTED = {
    Outcome.PROMOTED: 0,
    Outcome.ALREADY_PROMOTED: 0,
    Outcome.DRY_RUN: 0,
    Outcome.CONFLICT: 3,
    Outcome.PENDING: 4,
    Outcome.REJECTED: 5,
    Outcome.IGNORED: 6,
}


def test_every_outcome_has_the_documented_exit_code() -> None:
    assert set(EXPECTED) == set(Outcome)
    for outcome, code in EXPECTED.items():
        assert decisions_exit_code({"decisions": [_decision(outcome)]}) == code


def test_the_worst_outcome_wins_and_errors_and_empty_responses_have_their_own_codes() -> None:
    mixed = {"decisions": [_decision(Outcome.PROMOTED), _decision(Outcome.REJECTED), _decision(Outcome.PENDING)]}

    assert decisions_exit_code(mixed) == exits.EXIT_REJECTED
    assert decisions_exit_code({"decisions": [], "error": "unreadable"}) == exits.EXIT_FAILURE
    assert decisions_exit_code({"decisions": []}) == exits.EXIT_IGNORED
    assert decisions_exit_code({"decisions": []}, nothing=exits.EXIT_OK) == exits.EXIT_OK
    assert decisions_exit_code({"decisions": [_decision("something-new")]}) == exits.EXIT_FAILURE
    assert query_exit_code({"decisions": []}) == exits.EXIT_OK
    assert query_exit_code({"decisions": [], "error": "x"}) == exits.EXIT_FAILURE


def test_a_decision_is_one_line_with_its_reasons_below(capsys: pytest.CaptureFixture[str]) -> None:
    copied = {"blobs_mounted": 3, "blobs_streamed": 1, "bytes_moved": 2_500_000}

    print_response({"decisions": [_decision(Outcome.PROMOTED, copy=copied)]}, as_json=False)

    assert capsys.readouterr().out == (
        "promoted         dev-a -> prod-a [v1]  (3 mounted, 1 streamed, 2.5 MB moved)\n    because promoted\n"
    )


def test_an_error_response_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    print_response({"decisions": [], "error": "no such action"}, as_json=False)

    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "error: no such action\n"


@pytest.mark.parametrize(("count", "text"), [(0, "0 B"), (999, "999 B"), (1000, "1.0 KB"), (12_345_678, "12.3 MB")])
def test_sizes_are_decimal(count: int, text: str) -> None:
    assert size(count) == text


def test_status_shows_signers_of_results_and_approvals_with_their_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a status answer with a signed test result, an approval and a rejection (shape proposed to core)
    key = "arn:aws:kms:us-west-2:111122223333:key/" + "1" * 8
    status = {
        "repository": "dev-a",
        "digest": "sha256:" + "2" * 64,
        "tags": ["v1"],
        "tests": {"e2e": {"result": "PASSED", "at": "T1", "run_url": None, "key_id": key}},
        "scan": None,
        "approvals": [
            {"rule": "staging", "decision": "approve", "reason": "CAB-1", "key_id": key, "at": "T2"},
            {"rule": "prod", "decision": "reject", "reason": "CVE-9", "key_id": key, "at": "T3"},
        ],
        "promotions": [],
        "history": [],
    }

    # When it is shown as text
    print_response({"decisions": [], "status": status}, as_json=False)

    # Then each line names the signer; approvals and rejections carry rule and reason
    lines = capsys.readouterr().out.splitlines()
    assert f"  test  e2e: PASSED at T1, signed by {key}" in lines
    assert f"  approve rule staging at T2, signed by {key}: CAB-1" in lines
    assert f"  reject  rule prod at T3, signed by {key}: CVE-9" in lines
