"""`python -m promoter verify REF (--key KEY | --public-key PEM_FILE) [--policy-digest sha256:…]`.

Why: production checks, with the registry alone, that an image went through the gate. Exit codes are
the contract scripts rely on: 0 verified (one line: rule, time, verifier), 1 not verified (one line why,
no traceback), 2 usage (argparse, an unreadable REF or PEM file). `--key` asks KMS (`kms:Verify`, boto3
imported only then); `--public-key` verifies offline. Registry credentials are found as `copy` finds
them: `--creds USER[:PASS]`, `REGISTRY_AUTH_FILE`, the Docker config; ECR hosts get an ECR token.
Start-up imports only argparse: `--help` stays cheap.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promoter.attest.dsse import EnvelopeVerifier

# The same numbers as the rest of the CLI (promoter.cli.exits: EXIT_OK, EXIT_FAILURE, EXIT_USAGE); kept
# here so this module runs on its own, without the rest of the CLI package.
EXIT_VERIFIED = 0
EXIT_NOT_VERIFIED = 1
EXIT_USAGE = 2

_POLICY_DIGEST = re.compile(r"(sha256:)?[a-f0-9]{64}")
_KMS_ARN_REGION = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):")
_MAX_PEM_BYTES = 64 * 1024


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "verify",
        help="verify the promotion attestation (SLSA VSA) of an image",
        description=(
            "Find the signed SLSA verification summary that refers to REF's digest (OCI referrers API, else the "
            "sha256-<hex> tag schema, else cosign's sha256-<hex>.att tag) and check it: the signature under the "
            "key, the subject digest, verificationResult PASSED and, when given, the policy digest."
        ),
        epilog="REF is HOST[:PORT]/REPO:TAG or HOST[:PORT]/REPO@sha256:<hex>. Exit 0: verified; 1: not verified; "
        "2: usage.",
    )
    parser.add_argument("image", metavar="REF", help="the image to verify")
    keys = parser.add_mutually_exclusive_group(required=True)
    keys.add_argument("--key", metavar="KEY", help="KMS key ARN, key id or alias ARN (verified with kms:Verify)")
    keys.add_argument("--public-key", metavar="PEM_FILE", type=Path, help="the key's public key, PEM (offline)")
    parser.add_argument(
        "--policy-digest", metavar="sha256:HEX", type=_policy_digest, help="also require this policy digest"
    )
    parser.add_argument("--creds", metavar="USER[:PASS]", help="registry credentials (default: Docker config)")
    parser.set_defaults(run=run)
    return parser


def _policy_digest(text: str) -> str:
    if not _POLICY_DIGEST.fullmatch(text):
        raise argparse.ArgumentTypeError("expected sha256:<64 lowercase hex>")
    return text if text.startswith("sha256:") else f"sha256:{text}"


class _Usage(Exception):
    """A bad argument found after parsing (unreadable PEM file, reference without tag or digest)."""


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    """Verify one image; print one line; return the exit code. `env` is the process environment (the CLI
    passes its one read of it; None reads it here, at the edge)."""
    environ = dict(os.environ) if env is None else env
    try:
        return _run(args, environ)
    except _Usage as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from promoter.provenance import NotVerified, verify_image  # noqa: PLC0415 - keep `--help` fast
    from promoter.registry import (  # noqa: PLC0415
        CredentialSources,
        InvalidReference,
        RegistryClient,
        RegistryError,
        parse_reference,
    )

    try:
        image = parse_reference(args.image)
    except InvalidReference as error:
        raise _Usage(str(error)) from None
    if image.reference is None:
        raise _Usage(f"REF {image} needs a :TAG or an @sha256: digest")
    verifier, kms_errors = _verifier(args, env)
    home = Path(env["HOME"]) if env.get("HOME") else None
    try:
        credentials = CredentialSources.from_environ(env, home).resolve(image.host, image.repository, args.creds)
        with RegistryClient.for_host(image.host, credentials=credentials) as client:
            digest = image.digest or _digest_of(client, image.repository, image.reference)
            shown = f"{image.host}/{image.repository}@{digest}"
            verified = verify_image(client, image.repository, digest, verifier, policy_digest=args.policy_digest)
    except NotVerified as error:
        return _not_verified(str(error))
    except RegistryError as error:
        return _not_verified(f"registry: {error}")
    except kms_errors as error:
        return _not_verified(f"KMS: {_aws_reason(error)}")
    print(verified.line(shown))
    return EXIT_VERIFIED


def _digest_of(client: Any, repository: str, tag: str) -> str:
    from promoter.provenance import NotVerified  # noqa: PLC0415

    found = client.resolve(repository, tag)
    if found is None:
        raise NotVerified(f"{client.host}/{repository}:{tag} not found")
    return str(found.digest)


def _not_verified(reason: str) -> int:
    print(f"not verified: {reason}", file=sys.stderr)
    return EXIT_NOT_VERIFIED


def _verifier(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[EnvelopeVerifier, tuple[type[Exception], ...]]:
    """The envelope verifier for --public-key or --key, and the exception types its backend may raise."""
    if args.public_key is not None:
        from promoter.attest.pubkey import PublicKeyVerifier  # noqa: PLC0415

        try:
            with args.public_key.open("rb") as handle:
                pem = handle.read(_MAX_PEM_BYTES + 1)
        except OSError as error:
            raise _Usage(f"cannot read --public-key {args.public_key}: {error.strerror}") from None
        try:
            return PublicKeyVerifier(pem), ()
        except ValueError as error:
            raise _Usage(f"--public-key {args.public_key}: {error}") from None
    import boto3  # noqa: PLC0415 - only --key needs AWS
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from promoter.attest.kms import KmsVerifier  # noqa: PLC0415

    arn_region = _KMS_ARN_REGION.match(args.key)
    region = arn_region.group(1) if arn_region else env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    try:
        kms = boto3.client("kms", region_name=region)
    except BotoCoreError as error:
        raise _Usage(f"--key needs AWS settings: {error}") from None
    return KmsVerifier(kms, [args.key]), (ClientError, BotoCoreError)


def _aws_reason(error: Exception) -> str:
    """The AWS error code (e.g. AccessDeniedException) or botocore's own short message; never a secret."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return str(error).splitlines()[0][:200]
