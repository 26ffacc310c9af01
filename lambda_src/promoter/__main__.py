"""`python -m promoter …` from a checkout (PYTHONPATH=lambda_src:.): the CLI in promoter.cli, not shipped
in the Lambda asset."""

import os
import sys

from promoter.cli import main

# Commands that leave no work for interpreter teardown: `copy` has shut its worker pool down and
# closed its connections before it prints. Skipping the teardown took last-response-to-exit from
# 40-49 ms to 8-10 ms (benchmarks/startup.py); the other commands exit normally.
_FAST_EXIT_COMMANDS = {"copy"}


def _command(argv: list[str]) -> str | None:
    words = [word for word in argv if not word.startswith("-")]
    return words[0] if words else None


if __name__ == "__main__":
    code = main()
    if _command(sys.argv[1:]) not in _FAST_EXIT_COMMANDS:
        sys.exit(code)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = code or 1
    sys.stderr.flush()
    os._exit(code)
