"""The CLI's edge: the parser of every command, the one read of the process environment, and the one place
where failures become an exit code and one line on stderr (a traceback only with -v)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn

from promoter.cli.approve import add_approve
from promoter.cli.copy import add_copy
from promoter.cli.exits import EXIT_FAILURE, EXIT_INTERRUPTED, CliFailure
from promoter.cli.operator import add_operator_commands
from promoter.cli.render import print_json
from promoter.cli.replay import add_invoke
from promoter.cli.verify import add_parser as add_verify

Command = Callable[[argparse.Namespace, Mapping[str, str]], int]


# `--dst-creds u:pw` (a typo) or `--dest-creds=u:pw` with an unknown flag: argparse echoes the token.
_LOGIN_IN_MESSAGE = re.compile(r"(-\S*creds?\S*?[ =]'?[^\s:']*):[^\s']+", re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    """argparse repeats unrecognised arguments in its error; a mistyped login flag must not print PASS."""

    def error(self, message: str) -> NoReturn:
        super().error(_LOGIN_IN_MESSAGE.sub(r"\1:***", message))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m promoter", description="ecr-promoter: gated image promotion")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log progress and show tracebacks (-vv: every request)"
    )
    # Plain subparsers: unrecognised arguments are reported by this top-level parser (and masked there).
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=argparse.ArgumentParser
    )
    add_copy(subparsers)
    add_operator_commands(subparsers)
    add_approve(subparsers)
    add_invoke(subparsers)
    add_verify(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (argparse exits 2 itself on usage errors)."""
    args = build_parser().parse_args(argv)  # before logging's import: `--help` stays cheap
    import logging  # noqa: PLC0415

    env = dict(os.environ)  # the CLI's one read of the environment; everything below gets this mapping
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger = logging.getLogger("promoter")
    logger.addHandler(handler)
    logger.setLevel([logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)])
    run: Command = args.run
    try:
        return run(args, env)
    except CliFailure as failure:
        return _fail(args, failure)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `… | head`: the reader left; say nothing more (Python's documented way)
        _silence_stdout()
        return EXIT_FAILURE
    except Exception as error:
        from promoter.cli.aws_errors import explain_aws_error  # noqa: PLC0415

        explained = explain_aws_error(error, local=bool(getattr(args, "local", False)))
        if explained is not None:
            explained.__cause__ = error
            return _fail(args, explained)
        hint = "" if args.verbose else " (run with -v for the traceback)"
        print(f"error: unexpected {type(error).__name__}: {error}{hint}", file=sys.stderr)
        if args.verbose:
            import traceback  # noqa: PLC0415

            traceback.print_exc()
        return EXIT_FAILURE
    finally:
        logger.removeHandler(handler)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (e.g. captured): nothing to flush there
        pass


def _fail(args: argparse.Namespace, failure: CliFailure) -> int:
    print(f"error: {failure}", file=sys.stderr)
    if args.verbose and failure.__cause__ is not None:
        import traceback  # noqa: PLC0415

        traceback.print_exception(failure.__cause__)
    if getattr(args, "json", False):
        print_json({"error": failure.kind, "message": str(failure)})
    return failure.code
