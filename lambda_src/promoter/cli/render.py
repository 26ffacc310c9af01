"""How the CLI shows results: the function's response, a copy's summary, JSON. Printing only, no decisions."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from promoter.cli.exits import EXIT_FAILURE, EXIT_IGNORED, EXIT_OK, OUTCOME_EXIT

if TYPE_CHECKING:
    from promoter.registry import CopyResult


def print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2, sort_keys=False))


def size(count: int) -> str:
    """Bytes in decimal units, as `du --si` would say them."""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"  # pragma: no cover


def copy_summary(source: str, target: str, result: CopyResult) -> str:
    if result.already_present:
        return f"Already present: {target} is {result.digest} (nothing written, {result.seconds:.2f} s)"
    tags = ", ".join(result.tags_written) or "none (by digest)"
    return "\n".join(
        [
            f"Copied {source} -> {target}",
            f"  digest     {result.digest} ({result.media_type})",
            f"  blobs      {result.blobs_mounted} mounted, {result.blobs_streamed} streamed, "
            f"{result.blobs_skipped} already there; {size(result.bytes_moved)} moved",
            f"  manifests  {result.manifests_written} written; tags: {tags}; referrers: {result.referrers_copied}",
            f"  took       {result.seconds:.2f} s",
        ]
    )


def decisions_exit_code(response: dict[str, Any], *, nothing: int = EXIT_IGNORED) -> int:
    """The exit code of a response: 1 for unreadable input, else the worst outcome (`nothing` when none)."""
    if "error" in response:
        return EXIT_FAILURE
    codes = [OUTCOME_EXIT.get(str(decision.get("outcome")), EXIT_FAILURE) for decision in response["decisions"]]
    return max(codes, default=nothing)


def query_exit_code(response: dict[str, Any]) -> int:
    """`status` and `reconcile` succeed when the function answered."""
    return EXIT_FAILURE if "error" in response else EXIT_OK


def print_response(response: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print_json(response)
        return
    if "error" in response:
        print(f"error: {response['error']}", file=sys.stderr)
        return
    status = response.get("status")
    if status:
        _print_status(status)
    if not response["decisions"]:
        print("nothing to do")
    for decision in response["decisions"]:
        _print_decision(decision)


def _print_status(status: dict[str, Any]) -> None:
    print(f"{status['repository']}@{status['digest']}  tags: {', '.join(status['tags']) or '-'}")
    for suite, result in status["tests"].items():
        print(f"  test  {suite}: {result['result']} at {result['at']}{_signer(result)}")
    scan = status.get("scan")
    print(f"  scan  {scan['severity_counts'] if scan else 'none recorded'}")
    for approval in status.get("approvals") or []:  # signed approvals and rejections, per rule
        decision, rule = approval.get("decision", "?"), approval.get("rule", "?")
        print(
            f"  {decision:<7} rule {rule} at {approval.get('at', '?')}{_signer(approval)}: {approval.get('reason', '')}"
        )
    for promotion in status["promotions"]:
        print(f"  promoted to {promotion['target_repository']}:{promotion['tag']} at {promotion['at']}")
    for entry in status["history"]:
        print(f"  {entry['at']}  {entry['outcome']:<16} {entry['trigger']:<10} {'; '.join(entry['reasons'])}")


def _signer(entry: dict[str, Any]) -> str:
    key_id = entry.get("key_id")
    return f", signed by {key_id}" if key_id else ""


def _print_decision(decision: dict[str, Any]) -> None:
    target = decision.get("target_repository") or "-"
    tags = ",".join(decision.get("tags") or []) or "-"
    line = f"{decision['outcome']:<16} {decision.get('source_repository') or '-'} -> {target} [{tags}]"
    copied = decision.get("copy")
    if copied:
        moved = size(copied["bytes_moved"])
        line += f"  ({copied['blobs_mounted']} mounted, {copied['blobs_streamed']} streamed, {moved} moved)"
    print(line)
    for reason in decision.get("reasons", []):
        print(f"    {reason}")
