"""`python -m promoter COMMAND …`: the operator's command line. Not part of the Lambda asset.

Modules: `app` (parser, the environment read, failures → exit codes), `copy` (the copy command),
`logins` (its registry logins: flags, prompt, saved logins), `operator` (promote, status, record-result,
record-scan), `backfill` (reconcile; --all follows the function's cursor), `approve` (signed approvals
and rejections), `signing` (`--sign-with`: KMS-signed DSSE envelopes), `replay` (invoke FILE.json),
`verify` (promotion attestations), `targets` (--local or deployed), `local` and `deployed` (the
invokers), `render` (output), `exits`.
Start-up imports only argparse and these modules; each command imports what it needs when it runs,
so `--help` and a loopback copy never load boto3, pydantic or Powertools.
"""

from __future__ import annotations

from promoter.cli.app import build_parser, main
from promoter.cli.exits import (
    EXIT_CONFLICT,
    EXIT_FAILURE,
    EXIT_IGNORED,
    EXIT_OK,
    EXIT_PENDING,
    EXIT_REJECTED,
    EXIT_USAGE,
    CliFailure,
)

__all__ = [
    "EXIT_CONFLICT",
    "EXIT_FAILURE",
    "EXIT_IGNORED",
    "EXIT_OK",
    "EXIT_PENDING",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "CliFailure",
    "build_parser",
    "main",
]
