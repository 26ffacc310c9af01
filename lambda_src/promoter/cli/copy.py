"""`python -m promoter copy SRC DST`: copy one image between any two OCI references.

This path must start fast and never import boto3, pydantic or Powertools for loopback hosts: the
registry package is imported only when the command runs, and it imports boto3 only for an ECR host.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING

from promoter.cli.exits import EXIT_CONFLICT, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliFailure
from promoter.cli.logins import CREDS_METAVAR, credential_sources, login_for
from promoter.cli.render import copy_summary, print_json

if TYPE_CHECKING:
    from promoter.registry import ImageReference, RegistryClient, TransientRegistryError


def add_copy(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
            "2: usage; 3: DST's tag points to another digest (nothing written). Logins, first found: --src-creds/"
            "--dest-creds, REGISTRY_AUTH_FILE, the Docker config ($DOCKER_CONFIG/config.json, else "
            "~/.docker/config.json: credHelpers, auths, credsStore). ECR hosts without a login get an ECR token. "
            "A PASS on the command line is visible to other local users (ps): prefer docker login or the prompt."
        ),
    )
    parser.add_argument("source", metavar="SRC", help="the image to copy")
    parser.add_argument("destination", metavar="DST", help="where to copy it")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument(
        "--no-referrers", action="store_true", help="do not copy signatures, attestations and SBOMs that refer to it"
    )
    parser.add_argument("--jobs", type=positive_int, default=8, metavar="N", help="blobs copied at once (default 8)")
    for side, flag in (("SRC", "--src-creds"), ("DST", "--dest-creds")):
        parser.add_argument(
            flag,
            metavar=CREDS_METAVAR,
            help=f"log in to {side}'s registry as USER (no :PASS: asked on the terminal, not echoed)",
        )
    parser.set_defaults(run=run_copy)


LOGIN_HINT = "log in with `docker login HOST`, set REGISTRY_AUTH_FILE, or pass --src-creds/--dest-creds USER"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _copy_plan(source_text: str, destination_text: str) -> tuple[ImageReference, ImageReference, tuple[str, ...]]:
    from promoter.registry import InvalidReference, parse_reference  # noqa: PLC0415 - keep `--help` fast

    try:
        source = parse_reference(source_text)
        destination = parse_reference(destination_text)
    except InvalidReference as error:
        raise CliFailure(str(error), EXIT_USAGE, "invalid-reference") from None
    if source.reference is None:
        raise CliFailure(f"SRC {source} needs a :TAG or an @sha256: digest", EXIT_USAGE, "invalid-reference")
    tag = destination.tag or source.tag
    return source, destination, (tag,) if tag else ()


def run_copy(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from promoter.registry import (  # noqa: PLC0415 - keep `--help` fast
        AuthenticationFailed,
        RegistryClient,
        RegistryError,
        TagConflict,
        TransientRegistryError,
        copy_image,
    )

    source, destination, tags = _copy_plan(args.source, args.destination)
    sources = credential_sources(env)
    source_login = login_for(source.host, source.repository, args.src_creds, "--src-creds", sources)
    target_login = login_for(destination.host, destination.repository, args.dest_creds, "--dest-creds", sources)
    source_client = RegistryClient.for_host(source.host, credentials=source_login)
    same_login = destination.host == source.host and target_login == source_login
    target_client = source_client if same_login else RegistryClient.for_host(destination.host, credentials=target_login)
    try:
        reference = source.reference
        assert reference is not None
        if destination.digest is not None:
            found = source_client.resolve(source.repository, reference)
            if found is not None and found.digest != destination.digest:
                raise CliFailure(f"SRC {source} is {found.digest}, not DST's {destination.digest}")
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
        raise CliFailure(
            f"tag conflict: {destination.host}/{destination.repository}:{error.tag} already points to "
            f"{error.existing_digest}, not {error.wanted_digest}; nothing was written",
            EXIT_CONFLICT,
            "tag-conflict",
        ) from None
    except TransientRegistryError as error:
        raise unreachable_registry(error, (source_client, target_client)) from None
    except AuthenticationFailed as error:
        hint = "" if source_login or target_login else f"; {LOGIN_HINT}"
        raise CliFailure(f"copy failed: {error}{hint}", EXIT_FAILURE, "authentication-failed") from None
    except RegistryError as error:
        raise CliFailure(f"copy failed: {error}", EXIT_FAILURE, kind_of(error)) from None
    finally:
        source_client.close()
        target_client.close()
    where = f"{destination.host}/{destination.repository}" + (f":{tags[0]}" if tags else f"@{result.digest}")
    if args.json:
        print_json({"source": str(source), "target": where, **result.to_dict()})
    else:
        print(copy_summary(str(source), where, result))
    return EXIT_OK


def unreachable_registry(error: TransientRegistryError, clients: tuple[RegistryClient, ...]) -> CliFailure:
    """`cannot reach HOST (why): is the registry running?` when a registry does not accept connections,
    else the registry's own words. A fault with an HTTP status came from a registry that was reached."""
    from promoter.cli.reach import why_unreachable  # noqa: PLC0415

    if error.status is None:
        for client in dict.fromkeys(clients):
            reason = why_unreachable(client.base_url)
            if reason is not None:
                return CliFailure(
                    f"cannot reach {client.host} ({reason}): is the registry running?", EXIT_FAILURE, "unreachable"
                )
    return CliFailure(f"copy failed: {error}", EXIT_FAILURE, kind_of(error))


def kind_of(error: Exception) -> str:
    """`TransientRegistryError` → `transient-registry-error`: the `--json` error kind."""
    name = type(error).__name__
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
