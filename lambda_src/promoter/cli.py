"""`python -m promoter COMMAND …`: the operator's command line.

Each sub-command is one `_add_<name>(subparsers)` function that adds its parser and sets
`handler=<function(args) -> exit code>`; register it in `_COMMANDS`. Handlers import what they need
inside themselves, so `--help` and a loopback copy stay fast (no boto3 unless an ECR host is used).

Exit codes: 0 success (or already present), 1 failure (one line on stderr, no traceback),
2 usage error (bad arguments or references), 3 tag conflict (the target tag holds another digest).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promoter.registry import CopyResult, ImageReference

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFLICT = 3


class _Failure(Exception):
    """A failure already worded for the operator, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE, kind: str = "error") -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind


# ---------------------------------------------------------------------- copy


def _add_copy(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "copy",
        help="copy one image (any manifest kind) between two OCI references",
        description=(
            "Copy one image by digest from SRC to DST, byte-exact: blobs are mounted when both are in the same "
            "registry, else streamed and verified. Loopback hosts use plain HTTP; ECR hosts use an ECR token."
        ),
        epilog=(
            "SRC is HOST[:PORT]/REPO:TAG or HOST[:PORT]/REPO@sha256:<hex>. DST is HOST[:PORT]/REPO[:TAG]; without a "
            "tag it gets SRC's tag (by digest only when SRC has none). Exit 0: copied or already present; 1: failed; "
            "2: usage; 3: DST's tag points to another digest (nothing written)."
        ),
    )
    parser.add_argument("source", metavar="SRC", help="the image to copy")
    parser.add_argument("destination", metavar="DST", help="where to copy it")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument(
        "--no-referrers", action="store_true", help="do not copy signatures, attestations and SBOMs that refer to it"
    )
    parser.add_argument("--jobs", type=_positive_int, default=8, metavar="N", help="blobs copied at once (default 8)")
    parser.set_defaults(handler=_run_copy)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _copy_plan(source_text: str, destination_text: str) -> tuple[ImageReference, ImageReference, tuple[str, ...]]:
    from promoter.registry import InvalidReference, parse_reference  # noqa: PLC0415

    try:
        source = parse_reference(source_text)
        destination = parse_reference(destination_text)
    except InvalidReference as error:
        raise _Failure(str(error), EXIT_USAGE, "invalid-reference") from None
    if source.reference is None:
        raise _Failure(f"SRC {source} needs a :TAG or an @sha256: digest", EXIT_USAGE, "invalid-reference")
    tag = destination.tag or source.tag
    return source, destination, (tag,) if tag else ()


def _run_copy(args: argparse.Namespace) -> int:
    from promoter.registry import (  # noqa: PLC0415 - keep `--help` fast
        RegistryClient,
        RegistryError,
        TagConflict,
        copy_image,
    )

    source, destination, tags = _copy_plan(args.source, args.destination)
    source_client = RegistryClient.for_host(source.host)
    target_client = source_client if destination.host == source.host else RegistryClient.for_host(destination.host)
    try:
        reference = source.reference
        assert reference is not None
        if destination.digest is not None:
            found = source_client.resolve(source.repository, reference)
            if found is not None and found.digest != destination.digest:
                raise _Failure(f"SRC {source} is {found.digest}, not DST's {destination.digest}")
        result = copy_image(
            source_client,
            source.repository,
            reference,
            target_client,
            destination.repository,
            tags,
            referrers=not args.no_referrers,
            max_workers=args.jobs,
        )
    except TagConflict as error:
        raise _Failure(
            f"tag conflict: {destination.host}/{destination.repository}:{error.tag} already points to "
            f"{error.existing_digest}, not {error.wanted_digest}; nothing was written",
            EXIT_CONFLICT,
            "tag-conflict",
        ) from None
    except RegistryError as error:
        raise _Failure(f"copy failed: {error}", EXIT_FAILURE, _kind(error)) from None
    finally:
        source_client.close()
        target_client.close()
    where = f"{destination.host}/{destination.repository}" + (f":{tags[0]}" if tags else f"@{result.digest}")
    if args.json:
        _print_json({"source": str(source), "target": where, **result.to_dict()})
    else:
        print(_copy_summary(str(source), where, result))
    return EXIT_OK


def _kind(error: Exception) -> str:
    name = type(error).__name__
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


def _copy_summary(source: str, target: str, result: CopyResult) -> str:
    if result.already_present:
        return f"Already present: {target} is {result.digest} (nothing written, {result.seconds:.2f} s)"
    tags = ", ".join(result.tags_written) or "none (by digest)"
    return "\n".join(
        [
            f"Copied {source} -> {target}",
            f"  digest     {result.digest} ({result.media_type})",
            f"  blobs      {result.blobs_mounted} mounted, {result.blobs_streamed} streamed, "
            f"{result.blobs_skipped} already there; {_size(result.bytes_moved)} moved",
            f"  manifests  {result.manifests_written} written; tags: {tags}; referrers: {result.referrers_copied}",
            f"  took       {result.seconds:.2f} s",
        ]
    )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"  # pragma: no cover


# ---------------------------------------------------------------------- entry point

_COMMANDS: Sequence[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = (_add_copy,)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m promoter", description="ecr-promoter: gated image promotion")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log progress (-vv: every request)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(subparsers)
    return parser


def _print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2, sort_keys=False))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger = logging.getLogger("promoter")
    logger.addHandler(handler)
    logger.setLevel([logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)])
    try:
        code: int = args.handler(args)
    except _Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
        if getattr(args, "json", False):
            _print_json({"error": failure.kind, "message": str(failure)})
        return failure.code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: one line unless asked for the traceback
        if os.environ.get("PROMOTER_DEBUG"):
            raise
        print(f"error: unexpected {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        logger.removeHandler(handler)
    return code
