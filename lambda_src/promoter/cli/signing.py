"""`--sign-with KEY`: the DSSE envelopes the CLI attaches to test results and approvals, signed by AWS KMS.

Why here and not in each command: `record-result` and `approve` sign the same way (docs/POLICY.md, signed evidence
contracts: an in-toto Statement v1 in a DSSE envelope, `ECDSA_SHA_256` by an ECC_NIST_P256 KMS key), and
both need the same one-line errors when KMS refuses. The statements and the signature come from
`promoter.attest`, so what the CLI signs is exactly what the function verifies. boto3 (and `attest.kms`,
which imports botocore) is imported only when a command signs.
"""

from __future__ import annotations

from typing import Any

from promoter.cli.exits import EXIT_FAILURE, EXIT_USAGE, CliFailure

KEY_METAVAR = "KEY"
KEY_HELP = "sign with this KMS key (key ARN, key id or alias ARN; ECC_NIST_P256, SIGN_VERIFY): needs kms:Sign on it"


def _signed(statement: Any, key: str, region: str | None) -> dict[str, Any]:
    """The DSSE envelope (a JSON object) of `statement`, signed by `key` in `region`."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    from promoter.attest.kms import KEY_SPEC, KmsSigner  # noqa: PLC0415
    from promoter.cli.deployed import aws_client, explained  # noqa: PLC0415

    kms = explained(lambda: aws_client("kms", region))
    try:
        envelope = explained(lambda: KmsSigner(kms, key).sign_statement(statement))
    except ClientError as error:
        detail = error.response.get("Error", {})
        code, message = detail.get("Code", "error"), detail.get("Message", "")
        hint = f" (the key must be {KEY_SPEC} with usage SIGN_VERIFY)" if code in _KEY_KIND_ERRORS else ""
        raise CliFailure(f"cannot sign with {key}: {code}: {message}{hint}", EXIT_FAILURE, "signing-failed") from None
    signed: dict[str, Any] = envelope.to_dict()
    return signed


_KEY_KIND_ERRORS = frozenset({"InvalidKeyUsageException", "ValidationException", "UnsupportedOperationException"})


def signed_test_result(
    key: str, region: str | None, *, digest: str, suite: str, result: str, url: str | None
) -> dict[str, Any]:
    """The `detail.attestation` of an `Image Test Result` event: its statement names the same digest, suite
    and result as the event, which the function checks."""
    from promoter.attest.intoto import build_test_result  # noqa: PLC0415

    try:
        statement = build_test_result(digest, suite, result, url=url)
    except ValueError as error:  # InvalidStatement: a suite or URL the predicate does not allow
        raise CliFailure(f"cannot sign this result: {error}", EXIT_USAGE, "usage") from None
    return _signed(statement, key, region)


def signed_approval(
    key: str,
    region: str | None,
    *,
    digest: str,
    decision: str,
    reason: str,
    rule: str,
    repository: str,
    tag: str | None,
) -> dict[str, Any]:
    """The `attestation` of an approve/reject request: signed for this digest and rule (so it cannot be
    replayed for another stage), with the repository and tag the operator named."""
    from promoter.attest.intoto import build_approval  # noqa: PLC0415

    try:
        statement = build_approval(digest, decision, reason, rule, repository=repository, tag=tag)
    except ValueError as error:  # InvalidStatement: an empty or oversized reason or rule
        raise CliFailure(f"cannot sign this {decision}: {error}", EXIT_USAGE, "usage") from None
    return _signed(statement, key, region)
