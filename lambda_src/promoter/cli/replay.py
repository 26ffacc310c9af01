"""`python -m promoter invoke [--local] FILE.json`: send any event (a console sample from events/, a captured
EventBridge event) to the function's entry point and print its response, exactly as the function returns it.

`--digest` / `--tag` replace the image fields of the sample (`image-digest`/`digest`, `image-tag`/`tag`/
`image-tags`) so a sample with placeholder values can drive a real local image.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from promoter.cli.exits import EXIT_OK, EXIT_USAGE, CliFailure
from promoter.cli.render import decisions_exit_code, print_json, query_exit_code
from promoter.cli.targets import add_target_options, invoker_for

if TYPE_CHECKING:
    from pathlib import Path

DIGEST_FIELDS = ("image-digest", "digest")
TAG_FIELDS = ("image-tag", "tag")
TAG_LIST_FIELDS = ("image-tags",)


def add_invoke(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "invoke",
        help="send an event from a JSON file (e.g. events/ecr-push.json) to the function; print its response",
        epilog=(
            "Exit 0: a status answer, no decision, or promoted / already promoted / dry run; 3: conflict; "
            "4: pending; 5: rejected; 6: ignored; 1: unreadable event or error; 2: usage."
        ),
    )
    parser.add_argument("file", metavar="FILE.json", help="the event, as the function would receive it")
    parser.add_argument("--digest", metavar="sha256:<hex>", help="replace the event's image digest")
    parser.add_argument("--tag", metavar="TAG", help="replace the event's image tag")
    add_target_options(parser)
    parser.set_defaults(run=run_invoke)


def load_event(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CliFailure(f"cannot read {path}: {error.strerror}", EXIT_USAGE, "usage") from None
    except UnicodeDecodeError:
        raise CliFailure(f"{path}: not UTF-8 text", EXIT_USAGE, "usage") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CliFailure(f"{path}:{error.lineno}:{error.colno}: {error.msg}", EXIT_USAGE, "usage") from None


def substituted(event: Any, *, digest: str | None, tag: str | None) -> tuple[Any, set[str]]:
    """A copy of `event` with the image fields replaced, and the names of the fields replaced."""
    replaced: set[str] = set()

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        copy: dict[str, Any] = {}
        for key, value in node.items():
            if digest is not None and key in DIGEST_FIELDS and isinstance(value, str):
                copy[key] = digest
                replaced.add("digest")
            elif tag is not None and key in TAG_FIELDS and isinstance(value, str):
                copy[key] = tag
                replaced.add("tag")
            elif tag is not None and key in TAG_LIST_FIELDS and isinstance(value, list):
                copy[key] = [tag]
                replaced.add("tag")
            else:
                copy[key] = walk(value)
        return copy

    return walk(event), replaced


def run_invoke(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from promoter.registry import InvalidReference, validate_digest, validate_tag  # noqa: PLC0415

    try:
        if args.digest is not None:
            validate_digest(args.digest)
        if args.tag is not None:
            validate_tag(args.tag)
    except InvalidReference as error:
        raise CliFailure(str(error), EXIT_USAGE, "invalid-reference") from None
    from pathlib import Path  # noqa: PLC0415

    event, replaced = substituted(load_event(Path(args.file)), digest=args.digest, tag=args.tag)
    for option, value in (("digest", args.digest), ("tag", args.tag)):
        if value is not None and option not in replaced:
            raise CliFailure(f"--{option}: {args.file} has no {option} field to replace", EXIT_USAGE, "usage")
    response = invoker_for(args, env).invoke(event)
    print_json(response)
    if "status" in response:  # a status query succeeded whatever the gates say
        return query_exit_code(response)
    return decisions_exit_code(response, nothing=EXIT_OK)
