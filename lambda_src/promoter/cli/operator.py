"""Operator commands: `promote`, `status`, `record-result`, `record-scan` (and `reconcile`, from `backfill`).

Each builds the request or event the function accepts and hands it to an invoker (`--local`: in this
process through `promoter.entry.handle`; else the deployed stack). Exit codes follow the outcomes.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from promoter.cli.backfill import add_reconcile
from promoter.cli.exits import EXIT_OK, EXIT_USAGE, CliFailure
from promoter.cli.render import decisions_exit_code, print_json, print_response, query_exit_code
from promoter.cli.signing import KEY_HELP, KEY_METAVAR
from promoter.cli.targets import add_target_options, invoker_for
from promoter.contract import DetailType, Env, Source

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
ImageArgument = tuple[str, str | None, str | None]
OUTCOME_EPILOG = (
    "Exit 0: promoted, already promoted or dry run; 3: conflict; 4: pending; 5: rejected; 6: ignored; 1: error; "
    "2: usage."
)
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")


def image_argument(text: str) -> ImageArgument:
    """REPO:TAG or REPO@DIGEST (no host: the function's own registry) → (repository, tag, digest)."""
    from promoter.registry import (  # noqa: PLC0415
        InvalidReference,
        validate_digest,
        validate_repository_name,
        validate_tag,
    )

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


def count_argument(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def add_operator_commands(subparsers: Subparsers) -> None:
    promote = subparsers.add_parser(
        "promote", help="evaluate the gates for one image now and promote it if they pass", epilog=OUTCOME_EPILOG
    )
    promote.add_argument("image", type=image_argument, metavar="REPO:TAG|REPO@DIGEST")
    promote.add_argument("--dry-run", action="store_true", help="say what would happen; write nothing")
    promote.add_argument("--override-reason", metavar="TEXT", help="skip pending gates (policy must allow it)")
    add_target_options(promote)
    promote.set_defaults(run=run_promote)

    status = subparsers.add_parser("status", help="gates, evidence and decision history of one image (no writes)")
    status.add_argument("image", type=image_argument, metavar="REPO:TAG|REPO@DIGEST")
    add_target_options(status)
    status.set_defaults(run=run_status)

    add_reconcile(subparsers)

    record_result = subparsers.add_parser(
        "record-result",
        help="report a test suite's result for an image (the 'Image Test Result' event: CI bus, or --local)",
        epilog="Deployed: exit 0 once the bus accepted the event. --local: " + OUTCOME_EPILOG,
    )
    record_result.add_argument("image", type=image_argument, metavar="REPO@DIGEST")
    record_result.add_argument(
        "--suite", required=True, help="the suite's name, as the policy's require.tests lists it"
    )
    record_result.add_argument("--result", required=True, choices=["PASSED", "FAILED"])
    record_result.add_argument("--run-url", metavar="URL", help="link to the CI run")
    record_result.add_argument("--bus", metavar="NAME", help="the CI results bus (default: from the stack's outputs)")
    record_result.add_argument("--sign-with", metavar=KEY_METAVAR, help=KEY_HELP + " (policy trust.test_results)")
    add_target_options(record_result)
    record_result.set_defaults(run=run_record_result)

    record_scan = subparsers.add_parser(
        "record-scan",
        help="--local only: record a completed scan of an image (the 'ECR Image Scan' event)",
        description=(
            "Sends an 'ECR Image Scan' event (scan-status COMPLETE) through the function's entry point. In local "
            "mode (REGISTRY_ENDPOINT set) there is no scanner, so scan events are the evidence; with ECR the "
            "function reads the findings from ECR itself, so this command needs --local."
        ),
        epilog=OUTCOME_EPILOG,
    )
    record_scan.add_argument("image", type=image_argument, metavar="REPO:TAG|REPO@DIGEST")
    for severity in SEVERITIES:
        record_scan.add_argument(
            f"--{severity.lower()}", type=count_argument, default=0, metavar="N", help=f"{severity} findings (0)"
        )
    add_target_options(record_scan)
    record_scan.set_defaults(run=run_record_scan)


def _manual_request(image: ImageArgument, action: str) -> dict[str, Any]:
    repository, tag, digest = image
    request: dict[str, Any] = {"action": action, "repository": repository}
    request.update({"tag": tag} if tag else {"digest": digest})
    return request


def run_promote(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    request = _manual_request(args.image, "promote")
    if args.dry_run:
        request["dry_run"] = True
    if args.override_reason is not None:
        request["override"] = {"reason": args.override_reason}
    response = invoker_for(args, env).invoke(request)
    print_response(response, as_json=args.json)
    return decisions_exit_code(response)


def run_status(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    response = invoker_for(args, env).invoke(_manual_request(args.image, "status"))
    print_response(response, as_json=args.json)
    return query_exit_code(response)


def eventbridge_event(source: Source, detail_type: DetailType, detail: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge envelope as the function receives it, with a fresh id and the current time."""
    import uuid  # noqa: PLC0415 - start-up stays small
    from datetime import UTC, datetime  # noqa: PLC0415

    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "source": source.value,
        "detail-type": detail_type.value,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [],
        "detail": detail,
    }


def run_record_result(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    repository, tag, digest = args.image
    if digest is None:
        raise CliFailure(
            f"record-result needs REPO@sha256:<digest> (results belong to a digest, not to tag {tag!r})", EXIT_USAGE
        )
    detail: dict[str, Any] = {
        "repository-name": repository,
        "image-digest": digest,
        "suite": args.suite,
        "result": args.result,
    }
    if args.run_url:
        detail["run-url"] = args.run_url
    if args.sign_with:
        from promoter.cli.signing import signed_test_result  # noqa: PLC0415

        detail["attestation"] = signed_test_result(
            args.sign_with, args.region, digest=digest, suite=args.suite, result=args.result, url=args.run_url
        )
    from promoter.cli.local import LocalInvoker  # noqa: PLC0415

    invoker = invoker_for(args, env)
    if isinstance(invoker, LocalInvoker):
        response = invoker.invoke(eventbridge_event(Source.PROMOTER, DetailType.TEST_RESULT, detail))
        print_response(response, as_json=args.json)
        return decisions_exit_code(response)
    bus, event_id = invoker.put_test_result(args.bus, detail)
    if args.json:
        print_json({"event_id": event_id, "bus": bus, "detail": detail})
    else:
        signed = f", signed by {args.sign_with}" if args.sign_with else ""
        print(f"Recorded {args.suite} {args.result} for {repository}@{digest} on bus {bus} (event {event_id}{signed})")
    return EXIT_OK


def run_record_scan(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    if not args.local:
        raise CliFailure(
            "record-scan needs --local: a deployed function reads scan findings from ECR itself "
            "(enable scan-on-push on the repository)",
            EXIT_USAGE,
            "usage",
        )
    if not env.get(Env.REGISTRY_ENDPOINT):
        raise CliFailure(
            f"record-scan --local needs {Env.REGISTRY_ENDPOINT} (local mode): with ECR, scan events are only triggers",
            EXIT_USAGE,
            "usage",
        )
    from promoter.cli.local import LocalInvoker  # noqa: PLC0415

    invoker = invoker_for(args, env)
    assert isinstance(invoker, LocalInvoker)
    repository, tag, digest = args.image
    if digest is None:
        assert tag is not None
        digest = invoker.resolve_digest(repository, tag)
    counts = {severity: getattr(args, severity.lower()) for severity in SEVERITIES}
    detail = {
        "scan-status": "COMPLETE",
        "repository-name": repository,
        "image-digest": digest,
        "image-tags": [tag] if tag else [],
        "finding-severity-counts": {severity: count for severity, count in counts.items() if count},
    }
    response = invoker.invoke(eventbridge_event(Source.ECR, DetailType.IMAGE_SCAN, detail))
    print_response(response, as_json=args.json)
    return decisions_exit_code(response)
