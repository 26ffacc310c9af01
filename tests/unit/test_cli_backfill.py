"""`reconcile --all`: the backfill request (events/manual-backfill.json), following the function's cursor until done.

The function side (scope all, cursor) is tested in test_wired_events_backfill_audit.py; here a scripted
deployed invoker stands in.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from promoter.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main
from promoter.cli.deployed import DeployedInvoker


def decision(outcome: str, n: int) -> dict[str, Any]:
    return {"rule": "r", "source_repository": f"dev-{n}", "target_repository": "prod", "outcome": outcome, "tags": []}


def script(monkeypatch: pytest.MonkeyPatch, answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deployed function answers `answers` in turn; returns the requests it received."""
    requests: list[dict[str, Any]] = []

    def invoke(self: DeployedInvoker, request: dict[str, Any]) -> dict[str, Any]:
        requests.append(request)
        return answers[len(requests) - 1]

    monkeypatch.setattr(DeployedInvoker, "invoke", invoke)
    return requests


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_all_follows_the_cursor_until_the_function_is_done(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a function that needs three invocations
    requests = script(
        monkeypatch,
        [
            {"decisions": [decision("promoted", 1), decision("pending", 2)], "cursor": "c1"},
            {"decisions": [], "cursor": "c2"},
            {"decisions": [decision("pending", 3)]},
        ],
    )

    # When the operator backfills one rule since a date
    code, out, _ = run(["reconcile", "--all", "--since", "2026-11-01", "--rule", "ms", "--function", "f"], capsys)

    # Then each request carries the previous cursor; every decision is shown, then the counts
    base = {"action": "reconcile", "scope": "all", "since": "2026-11-01", "rule": "ms"}
    assert requests == [base, {**base, "cursor": "c1"}, {**base, "cursor": "c2"}]
    assert code == EXIT_OK
    assert out.count("\n") == 4 and "dev-3" in out
    assert out.endswith("backfill: 3 decisions in 3 invocations: 2 pending, 1 promoted\n")


def test_all_with_json_prints_one_document(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    script(monkeypatch, [{"decisions": [decision("ignored", 1)], "cursor": "x"}, {"decisions": []}])

    code, out, _ = run(["reconcile", "--all", "--json", "--function", "f"], capsys)

    assert code == EXIT_OK and json.loads(out) == {"decisions": [decision("ignored", 1)], "invocations": 2}


def test_a_repeated_cursor_stops_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = script(monkeypatch, [{"decisions": [], "cursor": "same"}, {"decisions": [], "cursor": "same"}])

    code, _, err = run(["reconcile", "--all", "--function", "f"], capsys)

    assert code == EXIT_FAILURE and len(requests) == 2
    assert err == "error: the function answered cursor 'same' again after 2 invocations\n"


def test_an_error_answer_stops_the_backfill(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = script(monkeypatch, [{"decisions": [], "error": "unknown scope"}])

    code, _, err = run(["reconcile", "--all", "--function", "f"], capsys)

    assert code == EXIT_FAILURE and len(requests) == 1 and err == "error: unknown scope\n"


def test_plain_reconcile_is_unchanged(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    requests = script(monkeypatch, [{"decisions": []}])

    code, out, _ = run(["reconcile", "--function", "f"], capsys)

    assert code == EXIT_OK and requests == [{"action": "reconcile"}] and out == "nothing to do\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reconcile", "--since", "2026-11-01"], "error: --since and --rule need --all\n"),
        (
            ["reconcile", "--all", "--since", "last week"],
            "error: --since 'last week' is not an ISO date (e.g. 2026-11-01)\n",
        ),
        (["reconcile", "--all", "--rule", " "], "error: --rule needs a rule name\n"),
    ],
)
def test_usage_mistakes_exit_2_before_any_invocation(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = script(monkeypatch, [])

    code, _, err = run([*argv, "--function", "f"], capsys)

    assert (code, err, requests) == (EXIT_USAGE, message, [])
