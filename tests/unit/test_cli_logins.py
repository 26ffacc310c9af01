"""`--src-creds` / `--dest-creds USER[:PASS]`: read outside argparse (it echoes bad values), prompted without echo."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from promoter.cli import EXIT_USAGE, CliFailure, main
from promoter.cli.logins import Terminal, credential_sources, login_for
from promoter.registry import Credentials

HOST = "registry.example.com"


def never_asked(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r}")


def test_user_and_password_are_taken_as_given_even_with_colons_in_the_password() -> None:
    password = "p:" + secrets.token_hex(6)
    sources = credential_sources({})

    found = login_for(
        HOST, "team/app", f"alice:{password}", "--src-creds", sources, terminal=Terminal(lambda: True, never_asked)
    )

    assert found == Credentials("alice", password, "--src-creds")
    assert password not in repr(found)


def test_user_alone_asks_the_terminal_once() -> None:
    prompts: list[str] = []
    typed = secrets.token_hex(8)

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return typed

    found = login_for(
        HOST, "app", "bob", "--dest-creds", credential_sources({}), terminal=Terminal(lambda: True, answer)
    )

    assert found is not None and (found.username, found.password) == ("bob", typed)
    assert prompts == [f"Password for bob at {HOST}: "]


@pytest.mark.parametrize(
    ("given", "interactive", "expected"),
    [
        (":" + "s3cret", True, "--src-creds needs a user name: USER[:PASS]"),
        ("bob", False, "--src-creds bob has no password and stdin is not a terminal"),
    ],
)
def test_unusable_flags_are_usage_errors_without_the_secret(given: str, interactive: bool, expected: str) -> None:
    with pytest.raises(CliFailure) as caught:
        login_for(
            HOST,
            "app",
            given,
            "--src-creds",
            credential_sources({}),
            terminal=Terminal(lambda: interactive, never_asked),
        )

    assert caught.value.code == EXIT_USAGE and str(caught.value).startswith(expected)
    assert "s3cret" not in str(caught.value)


def test_an_end_of_input_at_the_prompt_is_a_usage_error() -> None:
    def closed(prompt: str) -> str:
        raise EOFError

    with pytest.raises(CliFailure) as caught:
        login_for(HOST, "app", "bob", "--src-creds", credential_sources({}), terminal=Terminal(lambda: True, closed))

    assert caught.value.code == EXIT_USAGE


def test_saved_logins_come_from_the_home_given_by_the_cli_environment(tmp_path: Path) -> None:
    # Given ~/.docker/config.json with a plain username/password entry, under a HOME only the env mapping names
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text(
        json.dumps({"auths": {f"https://{HOST}": {"username": "carol", "password": "pw"}}})
    )

    found = login_for(HOST, "app", None, "--src-creds", credential_sources({"HOME": str(tmp_path), "PATH": ""}))

    assert found is not None and found.username == "carol"


def test_an_unreadable_docker_config_is_one_line_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")

    with pytest.raises(CliFailure) as caught:
        login_for(HOST, "app", None, "--src-creds", credential_sources({"DOCKER_CONFIG": str(tmp_path)}))

    assert str(caught.value) == f"cannot read the login for {HOST}: {tmp_path / 'config.json'} is not valid JSON"


@pytest.mark.parametrize(
    ("mistake", "named"),
    [
        (["--dst-creds", "bob:{pw}"], "--dst-creds bob:***"),
        (["--dst-creds=bob:{pw}", "--jobs", "2"], "--dst-creds=bob:***"),
        (["--dest-creds=bob:{pw}", "--no-such-flag"], "--no-such-flag"),
    ],
    ids=["typo-space", "typo-equals", "unknown-flag-beside"],
)
def test_a_mistyped_login_flag_is_a_usage_error_that_does_not_echo_the_password(
    mistake: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a command line where argparse will not recognise the login flag (or a flag next to it)
    password = "s3:" + secrets.token_hex(8)
    argv = ["copy", "127.0.0.1:5000/a:v1", "127.0.0.1:5000/b", *(part.format(pw=password) for part in mistake)]

    # When it is parsed
    with pytest.raises(SystemExit) as exited:
        main(argv)

    # Then argparse's usage error names the argument, with the password masked
    err = capsys.readouterr().err
    assert exited.value.code == EXIT_USAGE and "unrecognized arguments" in err
    assert password not in err and password.split(":", 1)[1] not in err and named in err
