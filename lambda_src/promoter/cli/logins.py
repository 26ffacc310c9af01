"""Registry logins for `copy`: `--src-creds` / `--dest-creds USER[:PASS]`, else the user's saved logins.

Why a module of its own: the CLI owns the parts of finding a login that touch the terminal and the
environment (a password prompt, `HOME`); where saved logins live (Docker config, `REGISTRY_AUTH_FILE`,
credential helpers) is `promoter.registry.credentials`' business. `USER` without `:PASS` asks for the
password on the terminal without echo, as skopeo's `--src-creds` does; with no terminal it is an error,
never a silent empty password. A password never reaches a message, a log line or argparse (which would
echo an invalid option value): the flags are plain strings, read here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from promoter.cli.exits import EXIT_FAILURE, EXIT_USAGE, CliFailure

if TYPE_CHECKING:
    from promoter.registry import Credentials, CredentialSources

CREDS_METAVAR = "USER[:PASS]"


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _ask_without_echo(prompt: str) -> str:
    import getpass  # noqa: PLC0415 - only a prompt needs it

    return getpass.getpass(prompt)


class Terminal:
    """How to ask for a password: replaced in tests, the real terminal otherwise. (A plain class: a
    dataclass would import `inspect` and `ast` into every `--help`.)"""

    def __init__(
        self, is_interactive: Callable[[], bool] = _stdin_is_terminal, ask: Callable[[str], str] = _ask_without_echo
    ) -> None:
        self.is_interactive = is_interactive
        self.ask = ask


def credential_sources(env: Mapping[str, str]) -> CredentialSources:
    """Saved logins of this environment. Docker finds `~/.docker` through `HOME` on Linux and macOS
    (Go's os.UserHomeDir), so `HOME` is read from the CLI's environment, not from the process."""
    from pathlib import Path  # noqa: PLC0415 - keep `--help` small

    from promoter.registry import CredentialSources  # noqa: PLC0415

    home = env.get("HOME")
    return CredentialSources.from_environ(env, Path(home) if home else None)


def login_for(
    host: str,
    repository: str,
    given: str | None,
    flag: str,
    sources: CredentialSources,
    *,
    terminal: Terminal | None = None,
) -> Credentials | None:
    """The login for `host/repository`: the flag's `USER[:PASS]` when given, else a saved login, else None."""
    from promoter.registry import Credentials, CredentialsError  # noqa: PLC0415

    if given is not None:
        username, separator, password = given.partition(":")
        if not username:
            raise CliFailure(f"{flag} needs a user name: {CREDS_METAVAR}", EXIT_USAGE, "usage")
        if not separator:
            password = _prompted_password(username, host, flag, terminal or Terminal())
        return Credentials(username, password, flag)
    try:
        return sources.resolve(host, repository)
    except CredentialsError as error:
        raise CliFailure(f"cannot read the login for {host}: {error}", EXIT_FAILURE, "credentials") from None


def _prompted_password(username: str, host: str, flag: str, terminal: Terminal) -> str:
    if not terminal.is_interactive():
        raise CliFailure(
            f"{flag} {username} has no password and stdin is not a terminal to ask for it: "
            f"pass {flag} USER:PASS, or log in with `docker login {host}`",
            EXIT_USAGE,
            "usage",
        )
    try:
        return terminal.ask(f"Password for {username} at {host}: ")
    except EOFError:
        raise CliFailure(f"no password given for {username} at {host}", EXIT_USAGE, "usage") from None
