"""Turns the AWS SDK's expected failures (no region, no credentials, endpoint down) into one-line errors
that name the setting to fix. Imported only after an error, so it never costs a start-up import."""

from __future__ import annotations

import sys

from promoter.cli.exits import EXIT_FAILURE, CliFailure

NO_REGION = "no AWS region: pass --region or set AWS_PROFILE"
NO_CREDENTIALS = (
    "no AWS credentials: set AWS_PROFILE (run `aws sso login` first if it uses SSO) "
    "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)
NO_CREDENTIALS_LOCAL = (
    "no AWS credentials for the local ledger: any value works, e.g. "
    "export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test"
)


def explain_aws_error(error: BaseException, *, local: bool) -> CliFailure | None:
    """The operator's one line for an SDK failure we expect, else None. botocore is only consulted
    when it was imported, so a failure on a path that never touched AWS costs no import."""
    if "botocore.exceptions" not in sys.modules:
        return None
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError  # noqa: PLC0415

    if isinstance(error, NoRegionError):
        return CliFailure(NO_REGION, EXIT_FAILURE, "no-region")
    if isinstance(error, NoCredentialsError):
        return CliFailure(NO_CREDENTIALS_LOCAL if local else NO_CREDENTIALS, EXIT_FAILURE, "no-credentials")
    if isinstance(error, EndpointConnectionError):
        url = error.kwargs.get("endpoint_url", "the AWS endpoint")
        fix = "is the local ledger running? (AWS_ENDPOINT_URL)" if local else "check --region and your network"
        return CliFailure(f"cannot reach {url}: {fix}", EXIT_FAILURE, "unreachable")
    return None
