"""Exit codes of `python -m promoter` and the one exception type a command raises to fail.

The codes are part of the CLI contract scripts rely on; outcomes map to codes here and nowhere else.
"""

from __future__ import annotations

from promoter.contract import Outcome

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFLICT = 3
EXIT_PENDING = 4
EXIT_REJECTED = 5
EXIT_IGNORED = 6
EXIT_INTERRUPTED = 130

OUTCOME_EXIT: dict[str, int] = {
    Outcome.PROMOTED: EXIT_OK,
    Outcome.ALREADY_PROMOTED: EXIT_OK,
    Outcome.DRY_RUN: EXIT_OK,
    Outcome.CONFLICT: EXIT_CONFLICT,
    Outcome.PENDING: EXIT_PENDING,
    Outcome.REJECTED: EXIT_REJECTED,
    Outcome.IGNORED: EXIT_IGNORED,
}


class CliFailure(Exception):
    """An expected failure, already worded for the operator as one line: what is wrong, what to set or do next.
    `kind` is the machine-readable name printed with `--json`."""

    def __init__(self, message: str, code: int = EXIT_FAILURE, kind: str = "error") -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind
