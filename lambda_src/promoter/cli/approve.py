"""`python -m promoter approve REPO:TAG|REPO@DIGEST --rule RULE --reason TEXT --sign-with KEY [--reject]`.

An approval is evidence for one digest and one rule (docs/POLICY.md "Trust"), so the tag is
resolved to its digest first — through the local registry with `--local`, else through ECR
(DescribeImages) — and the signed statement names that digest, the rule, the decision and the reason.
The request the function receives is `{"action": "approve"|"reject", "repository", "tag"|"digest",
"rule", "reason", "attestation": <DSSE envelope>}`; the image is named as the operator named it, and the
function checks that the signed digest is the one the tag names when it evaluates.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from promoter.cli.exits import EXIT_OK, EXIT_REJECTED
from promoter.cli.operator import image_argument
from promoter.cli.render import decisions_exit_code, print_response
from promoter.cli.signing import KEY_HELP, KEY_METAVAR
from promoter.cli.targets import add_target_options, invoker_for

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

APPROVE = "approve"
REJECT = "reject"
EPILOG = (
    "Exit 0: promoted, already promoted or dry run (with --reject: the image is rejected); 3: conflict; "
    "4: pending (e.g. other gates have no evidence yet); 5: rejected; 6: ignored (e.g. the key is not one the "
    "rule trusts, or no rule matches); 1: error; 2: usage. A rejection is final for that digest and rule."
)


def add_approve(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "approve",
        help="sign and send an approval (or, with --reject, a rejection) of one image for one rule",
        description=(
            "Resolves the image to its digest, signs an approval statement (predicate type "
            "https://ecr-promoter.dev/approval/v1) with KMS and sends it to the function, which records it "
            "when the rule's require.approval.signed_by trusts the key, then evaluates the image."
        ),
        epilog=EPILOG,
    )
    parser.add_argument("image", type=image_argument, metavar="REPO:TAG|REPO@DIGEST")
    parser.add_argument("--rule", required=True, metavar="RULE", help="the policy rule (stage) this approval is for")
    parser.add_argument("--reason", required=True, metavar="TEXT", help="why: recorded and shown by status")
    parser.add_argument("--sign-with", required=True, metavar=KEY_METAVAR, help=KEY_HELP)
    parser.add_argument("--reject", action="store_true", help="reject instead: final for this digest and rule")
    add_target_options(parser)
    parser.set_defaults(run=run_approve)


def approval_request(
    image: tuple[str, str | None, str | None], *, decision: str, rule: str, reason: str, attestation: dict[str, Any]
) -> dict[str, Any]:
    """The function's approve/reject request, in its documented shape (events/manual-approve.json)."""
    repository, tag, digest = image
    request: dict[str, Any] = {"action": decision, "repository": repository}
    request.update({"tag": tag} if tag else {"digest": digest})
    request.update({"rule": rule, "reason": reason, "attestation": attestation})
    return request


def approval_exit_code(response: dict[str, Any], decision: str) -> int:
    """The outcome's exit code; a `rejected` outcome is what a rejection asked for."""
    code = decisions_exit_code(response)
    if decision == REJECT and code == EXIT_REJECTED:
        return EXIT_OK
    return code


def run_approve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from promoter.cli.signing import signed_approval  # noqa: PLC0415

    repository, tag, digest = args.image
    decision = REJECT if args.reject else APPROVE
    invoker = invoker_for(args, env)
    if digest is None:
        assert tag is not None
        digest = invoker.resolve_digest(repository, tag)
    attestation = signed_approval(
        args.sign_with,
        args.region,
        digest=digest,
        decision=decision,
        reason=args.reason,
        rule=args.rule,
        repository=repository,
        tag=tag,
    )
    request = approval_request(
        args.image, decision=decision, rule=args.rule, reason=args.reason, attestation=attestation
    )
    response = invoker.invoke(request)
    if not args.json:
        signer = attestation["signatures"][0]["keyid"]
        print(f"{decision} {repository}@{digest} for rule {args.rule}, signed by {signer}")
    print_response(response, as_json=args.json)
    return approval_exit_code(response, decision)
