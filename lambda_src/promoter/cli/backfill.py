"""`python -m promoter reconcile [--all [--since DATE] [--rule NAME]]`.

Without `--all`: re-evaluate the pending candidates (`{"action": "reconcile"}`). With `--all`: the backfill
of the function (events/manual-backfill.json),
`{"action": "reconcile", "scope": "all", "since"?, "rule"?, "cursor"?}`, which
evaluates every image in every source repository a bounded amount per invocation and answers a `cursor`
while work remains; this command follows the cursor until the function says it is done, printing each
invocation's decisions as they arrive, then a count per outcome.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from promoter.cli.exits import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliFailure
from promoter.cli.render import print_json, print_response
from promoter.cli.targets import add_target_options, invoker_for

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def add_reconcile(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "reconcile",
        help="re-evaluate pending candidates now; --all: every image of every source repository (backfill)",
        epilog="Exit 0 when the function answered every invocation; 1: error; 2: usage.",
    )
    parser.add_argument(
        "--all", action="store_true", help="evaluate every image (following the function's cursor until done)"
    )
    parser.add_argument("--since", metavar="DATE", help="with --all: only images pushed since this ISO date")
    parser.add_argument("--rule", metavar="NAME", help="with --all: only this rule's source repositories")
    add_target_options(parser)
    parser.set_defaults(run=run_reconcile)


def iso_date(text: str) -> str:
    """An ISO 8601 date or date-time, as given (the function parses it again)."""
    from datetime import datetime  # noqa: PLC0415 - start-up stays small

    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliFailure(f"--since {text!r} is not an ISO date (e.g. 2026-11-01)", EXIT_USAGE, "usage") from None
    return text


def backfill_request(since: str | None, rule: str | None, cursor: str | None) -> dict[str, Any]:
    request: dict[str, Any] = {"action": "reconcile", "scope": "all"}
    for key, value in (("since", since), ("rule", rule), ("cursor", cursor)):
        if value is not None:
            request[key] = value
    return request


def run_reconcile(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    if not args.all:
        if args.since is not None or args.rule is not None:
            raise CliFailure("--since and --rule need --all", EXIT_USAGE, "usage")
        response = invoker_for(args, env).invoke({"action": "reconcile"})
        print_response(response, as_json=args.json)
        return EXIT_FAILURE if "error" in response else EXIT_OK
    since = iso_date(args.since) if args.since is not None else None
    if args.rule is not None and not args.rule.strip():
        raise CliFailure("--rule needs a rule name", EXIT_USAGE, "usage")
    invoker = invoker_for(args, env)
    decisions: list[dict[str, Any]] = []
    seen: set[str] = set()
    cursor: str | None = None
    invocations = 0
    while True:
        response = invoker.invoke(backfill_request(since, args.rule, cursor))
        invocations += 1
        if "error" in response:
            print_response(response, as_json=args.json)
            return EXIT_FAILURE
        page = list(response.get("decisions", []))
        decisions += page
        if not args.json and page:
            print_response({"decisions": page}, as_json=False)
        cursor = response.get("cursor")
        if not cursor:
            break
        if not isinstance(cursor, str) or cursor in seen:
            raise CliFailure(f"the function answered cursor {str(cursor)[:80]!r} again after {invocations} invocations")
        seen.add(cursor)
    counts = Counter(str(decision.get("outcome")) for decision in decisions)
    if args.json:
        print_json({"decisions": decisions, "invocations": invocations})
    else:
        summary = ", ".join(f"{count} {outcome}" for outcome, count in counts.most_common()) or "nothing to do"
        print(f"backfill: {len(decisions)} decisions in {invocations} invocations: {summary}")
    return EXIT_OK
