"""Where an operator command goes: `--local` (this process) or the deployed stack; the options that choose it
and the one function that builds the invoker from them."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from promoter.contract import SOURCE_STACK_NAME

if TYPE_CHECKING:
    from promoter.cli.deployed import DeployedInvoker
    from promoter.cli.local import LocalInvoker

REGION_VARIABLE = "AWS_REGION"


def add_target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local",
        action="store_true",
        help="run in this process: PROMOTION_POLICY (else the checkout's cdk.json), LEDGER_TABLE and "
        "REGISTRY_ENDPOINT from the environment",
    )
    where.add_argument("--function", metavar="NAME", help="the deployed function (default: from the stack's outputs)")
    parser.add_argument("--stack", default=SOURCE_STACK_NAME, help=f"the source stack (default {SOURCE_STACK_NAME})")
    parser.add_argument("--region", help="AWS region (default: your AWS configuration, e.g. AWS_PROFILE)")
    parser.add_argument("--json", action="store_true", help="print the function's response as JSON")


def invoker_for(args: argparse.Namespace, env: Mapping[str, str]) -> LocalInvoker | DeployedInvoker:
    """The invoker the options ask for. `--region` also applies to the local ledger's DynamoDB client."""
    if args.local:
        from promoter.cli.local import LocalInvoker  # noqa: PLC0415

        local_env = dict(env)
        if args.region:
            local_env[REGION_VARIABLE] = args.region
        return LocalInvoker(local_env)
    from promoter.cli.deployed import DeployedInvoker  # noqa: PLC0415

    return DeployedInvoker(stack=args.stack, region=args.region, function=args.function)
