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


# ---------------------------------------------------------------------- operator commands: promote, status, ...

EXIT_PENDING = 4
EXIT_REJECTED = 5
EXIT_IGNORED = 6
_OUTCOME_EXIT = {
    "promoted": EXIT_OK,
    "already-promoted": EXIT_OK,
    "dry-run": EXIT_OK,
    "conflict": EXIT_CONFLICT,
    "pending": EXIT_PENDING,
    "rejected": EXIT_REJECTED,
    "ignored": EXIT_IGNORED,
}
DEFAULT_STACK = "EcrPromoterSource"


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local",
        action="store_true",
        help="run in this process: PROMOTION_POLICY (or ./cdk.json), LEDGER_TABLE and REGISTRY_ENDPOINT from the env",
    )
    where.add_argument("--function", metavar="NAME", help="the deployed function (default: from the stack's outputs)")
    parser.add_argument("--stack", default=DEFAULT_STACK, help=f"the source stack's name (default {DEFAULT_STACK})")
    parser.add_argument("--region", help="AWS region of the deployed stack (default: your AWS configuration)")
    parser.add_argument("--json", action="store_true", help="print the function's response as JSON")


def _image_argument(text: str) -> tuple[str, str | None, str | None]:
    """REPO:TAG or REPO@DIGEST (no host: the function's own registry) → (repository, tag, digest)."""
    from promoter.registry import InvalidReference, validate_digest, validate_repository_name, validate_tag  # noqa: PLC0415

    try:
        if "@" in text:
            repository, digest = text.split("@", 1)
            validate_repository_name(repository)
            validate_digest(digest)
            return repository, None, digest
        repository, sep, tag = text.rpartition(":")
        if not sep:
            raise argparse.ArgumentTypeError(f"{text!r}: give REPO:TAG or REPO@sha256:<hex>")
        validate_repository_name(repository)
        validate_tag(tag)
    except InvalidReference as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return repository, tag, None


def _add_promote(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "promote",
        help="evaluate the gates for one image now and promote it if they pass",
        epilog=(
            "Exit 0: promoted, already promoted or dry run; 3: conflict; 4: pending; 5: rejected; 6: ignored; "
            "1: error; 2: usage."
        ),
    )
    parser.add_argument("image", type=_image_argument, metavar="REPO:TAG|REPO@DIGEST")
    parser.add_argument("--dry-run", action="store_true", help="say what would happen; write nothing")
    parser.add_argument("--override-reason", metavar="TEXT", help="skip pending gates (policy must allow it)")
    _add_target_options(parser)
    parser.set_defaults(handler=_run_promote)


def _add_status(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("status", help="gates, evidence and decision history of one image (no writes)")
    parser.add_argument("image", type=_image_argument, metavar="REPO:TAG|REPO@DIGEST")
    _add_target_options(parser)
    parser.set_defaults(handler=_run_status)


def _add_reconcile(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("reconcile", help="re-evaluate every pending candidate now")
    _add_target_options(parser)
    parser.set_defaults(handler=_run_reconcile)


def _add_record_result(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "record-result",
        help="report a test suite's result for an image (puts the 'Image Test Result' event on the CI bus)",
    )
    parser.add_argument("image", type=_image_argument, metavar="REPO@DIGEST")
    parser.add_argument("--suite", required=True, help="the suite's name, as the policy's require.tests lists it")
    parser.add_argument("--result", required=True, choices=["PASSED", "FAILED"])
    parser.add_argument("--run-url", metavar="URL", help="link to the CI run")
    parser.add_argument("--bus", metavar="NAME", help="the CI results event bus (default: from the stack's outputs)")
    _add_target_options(parser)
    parser.set_defaults(handler=_run_record_result)


def _manual_request(args: argparse.Namespace, action: str) -> dict[str, Any]:
    repository, tag, digest = args.image
    request: dict[str, Any] = {"action": action, "repository": repository}
    request.update({"tag": tag} if tag else {"digest": digest})
    return request


def _run_promote(args: argparse.Namespace) -> int:
    request = _manual_request(args, "promote")
    if args.dry_run:
        request["dry_run"] = True
    if args.override_reason is not None:
        request["override"] = {"reason": args.override_reason}
    return _report(args, _invoke(args, request))


def _run_status(args: argparse.Namespace) -> int:
    response = _invoke(args, _manual_request(args, "status"))
    _print_response(args, response)
    return EXIT_FAILURE if "error" in response else EXIT_OK


def _run_reconcile(args: argparse.Namespace) -> int:
    response = _invoke(args, {"action": "reconcile"})
    _print_response(args, response)
    return EXIT_FAILURE if "error" in response else EXIT_OK


def _run_record_result(args: argparse.Namespace) -> int:
    import uuid  # noqa: PLC0415
    from datetime import UTC, datetime  # noqa: PLC0415

    repository, tag, digest = args.image
    if digest is None:
        raise _Failure(f"record-result needs REPO@sha256:<digest> (results belong to a digest, not to tag {tag!r})", 2)
    detail = {"repository-name": repository, "image-digest": digest, "suite": args.suite, "result": args.result}
    if args.run_url:
        detail["run-url"] = args.run_url
    if args.local:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "source": "ecr-promoter",
            "detail-type": "Image Test Result",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "detail": detail,
        }
        return _report(args, _invoke(args, event))
    bus = args.bus or _stack_output(args, "TestResultBusName")
    answer = _aws(args, "events").put_events(
        Entries=[
            {
                "Source": "ecr-promoter",
                "DetailType": "Image Test Result",
                "Detail": json.dumps(detail),
                "EventBusName": bus,
            }
        ]
    )
    if answer.get("FailedEntryCount"):
        entry = answer["Entries"][0]
        raise _Failure(f"the bus refused the event: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    event_id = answer["Entries"][0].get("EventId", "?")
    if args.json:
        _print_json({"event_id": event_id, "bus": bus, "detail": detail})
    else:
        print(f"Recorded {args.suite} {args.result} for {repository}@{digest} on bus {bus} (event {event_id})")
    return EXIT_OK


def _aws(args: argparse.Namespace, service: str) -> Any:
    import boto3  # noqa: PLC0415

    return boto3.client(service, region_name=args.region)


def _stack_output(args: argparse.Namespace, key: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        stacks = _aws(args, "cloudformation").describe_stacks(StackName=args.stack)["Stacks"]
    except (ClientError, BotoCoreError) as error:
        raise _Failure(f"cannot read stack {args.stack!r} ({error}); pass --function/--bus or --stack") from None
    for output in stacks[0].get("Outputs", []):
        if output.get("OutputKey") == key:
            return str(output["OutputValue"])
    raise _Failure(f"stack {args.stack!r} has no output {key}; is it the ecr-promoter source stack?")


def _invoke(args: argparse.Namespace, request: dict[str, Any]) -> dict[str, Any]:
    """The function's response to `request`: in this process (--local) or from the deployed function."""
    if args.local:
        return _invoke_local(request)
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    function = args.function or _stack_output(args, "PromoterFunctionName")
    try:
        answer = _aws(args, "lambda").invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(request).encode()
        )
    except (ClientError, BotoCoreError) as error:
        raise _Failure(f"cannot invoke {function}: {error}") from None
    payload = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError"):
        message = payload.get("errorMessage", "no message") if isinstance(payload, dict) else payload
        raise _Failure(f"{function} failed: {payload.get('errorType', 'error')}: {message}")
    return payload  # type: ignore[no-any-return]


def _invoke_local(request: dict[str, Any]) -> dict[str, Any]:
    import uuid  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from promoter.config import ConfigError, Settings  # noqa: PLC0415
    from promoter.events import InvalidEvent, parse_event  # noqa: PLC0415
    from promoter.policy import PolicyError  # noqa: PLC0415
    from promoter.promotion import promote  # noqa: PLC0415
    from promoter.wiring import build_services  # noqa: PLC0415

    environ = dict(os.environ)
    cdk_json = Path("cdk.json")
    if "PROMOTION_POLICY" not in environ and cdk_json.is_file():
        policy = json.loads(cdk_json.read_text()).get("context", {}).get("promotion_policy")
        if policy is not None:
            environ["PROMOTION_POLICY"] = json.dumps(policy)
    try:
        settings = Settings.from_environ(environ)
        services = build_services(settings, environ.get("AWS_ACCOUNT_ID"))
        command = parse_event(request, request_id=f"cli-{uuid.uuid4()}")
    except InvalidEvent as error:
        return {"decisions": [], "error": str(error)}
    except (ConfigError, PolicyError, ValueError) as error:
        raise _Failure(f"--local: {error}", EXIT_USAGE) from None
    return promote(command, services).response()


def _report(args: argparse.Namespace, response: dict[str, Any]) -> int:
    _print_response(args, response)
    if "error" in response:
        return EXIT_FAILURE
    codes = [_OUTCOME_EXIT.get(decision["outcome"], EXIT_FAILURE) for decision in response["decisions"]]
    return max(codes, default=EXIT_IGNORED)


def _print_response(args: argparse.Namespace, response: dict[str, Any]) -> None:
    if args.json:
        _print_json(response)
        return
    if "error" in response:
        print(f"error: {response['error']}", file=sys.stderr)
        return
    status = response.get("status")
    if status:
        print(f"{status['repository']}@{status['digest']}  tags: {', '.join(status['tags']) or '-'}")
        for suite, result in status["tests"].items():
            print(f"  test  {suite}: {result['result']} at {result['at']}")
        scan = status.get("scan")
        print(f"  scan  {scan['severity_counts'] if scan else 'none recorded'}")
        for promotion in status["promotions"]:
            print(f"  promoted to {promotion['target_repository']}:{promotion['tag']} at {promotion['at']}")
        for entry in status["history"]:
            print(f"  {entry['at']}  {entry['outcome']:<16} {entry['trigger']:<10} {'; '.join(entry['reasons'])}")
    if not response["decisions"]:
        print("nothing to do")
    for decision in response["decisions"]:
        target = decision.get("target_repository") or "-"
        tags = ",".join(decision.get("tags") or []) or "-"
        line = f"{decision['outcome']:<16} {decision.get('source_repository') or '-'} -> {target} [{tags}]"
        copied = decision.get("copy")
        if copied:
            moved = _size(copied["bytes_moved"])
            line += f"  ({copied['blobs_mounted']} mounted, {copied['blobs_streamed']} streamed, {moved} moved)"
        print(line)
        for reason in decision.get("reasons", []):
            print(f"    {reason}")


# ---------------------------------------------------------------------- entry point

_COMMANDS: Sequence[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = (
    _add_copy,
    _add_promote,
    _add_status,
    _add_record_result,
    _add_reconcile,
)


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
