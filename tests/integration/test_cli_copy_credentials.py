"""`python -m promoter copy` to and from a registry that requires a login (the real CNCF registry, htpasswd).

What a skopeo or crane user expects (issue 12 item 6): `--src-creds`/`--dest-creds USER[:PASS]`, the
Docker config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`) and `REGISTRY_AUTH_FILE`; a
wrong password is one line and exit 1; the secret never appears in anything the command prints.
distribution's `auth: htpasswd` (bcrypt entries only) answers unauthenticated requests with
401 `WWW-Authenticate: Basic realm="…"` (distribution docs, "Configuring a registry", auth.htpasswd).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools import images
from devtools.localregistry import LocalRegistry
from promoter.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, logins, main
from promoter.registry import Credentials, RegistryClient
from tests.support.auth_registry import start_auth_registry

RepoName = Callable[[str], str]
ROOT = Path(__file__).resolve().parents[2]
USER = "ci-" + secrets.token_hex(3)
PASSWORD = "pw-" + secrets.token_hex(12)
LOGIN_VARIABLES = ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE")


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A registry that requires `USER:PASSWORD`; ready when `GET /v2/` answers 401."""
    running = start_auth_registry(tmp_path_factory.mktemp("auth-registry"), USER, PASSWORD)
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def no_saved_logins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test starts with an empty HOME and no login variables: only what it sets up is found."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in LOGIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return home


def pushed_into(registry: LocalRegistry, repository: str) -> images.PushedImage:
    return images.push_image(registry.url, repository, "v1", images.random_layers(2, 5000))


def manifest_in(auth_registry: LocalRegistry, repository: str, tag: str) -> bytes:
    client = RegistryClient.for_host(auth_registry.host, credentials=Credentials(USER, PASSWORD))
    try:
        return client.get_manifest(repository, tag).data
    finally:
        client.close()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_flags_log_in_to_the_destination_and_then_the_source(
    registry: LocalRegistry, auth_registry: LocalRegistry, repo_name: RepoName, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an image in an open registry
    dev, prod, back = repo_name("dev-app"), repo_name("prod-app"), repo_name("back-app")
    pushed = pushed_into(registry, dev)

    # When it is copied into the login registry with --dest-creds, and back out with --src-creds
    into = ["copy", f"{registry.host}/{dev}:v1", f"{auth_registry.host}/{prod}", "--dest-creds", f"{USER}:{PASSWORD}"]
    code_in, out_in, err_in = run(into, capsys)
    out_of = ["copy", f"{auth_registry.host}/{prod}:v1", f"{registry.host}/{back}", "--src-creds", f"{USER}:{PASSWORD}"]
    code_out, out_out, err_out = run(out_of, capsys)

    # Then both copies succeed byte-exact, and the password is printed nowhere
    assert (code_in, code_out) == (EXIT_OK, EXIT_OK), err_in + err_out
    assert manifest_in(auth_registry, prod, "v1") == pushed.manifest
    assert images.get_manifest(registry.url, back, "v1")[2] == pushed.manifest
    assert PASSWORD not in out_in + err_in + out_out + err_out


@pytest.mark.parametrize("where", ["DOCKER_CONFIG", "HOME", "REGISTRY_AUTH_FILE", "credHelpers", "credsStore"])
def test_a_saved_login_is_used_without_flags(
    where: str,
    registry: LocalRegistry,
    auth_registry: LocalRegistry,
    repo_name: RepoName,
    no_saved_logins: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a `docker login` entry (base64 USER:PASS) in $DOCKER_CONFIG, ~/.docker or REGISTRY_AUTH_FILE, or a
    # credential helper named by the Docker config
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    document = json.dumps({"auths": {auth_registry.host: {"auth": auth}}})
    if where == "DOCKER_CONFIG":
        (tmp_path / "docker").mkdir()
        (tmp_path / "docker" / "config.json").write_text(document)
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    elif where in ("credHelpers", "credsStore"):
        # Credential helper protocol (docker/cli docs, "docker login": "Docker requires the helper program to
        # be in the client's host $PATH"; docker/docker-credential-helpers#131: `get` reads the server on
        # stdin and prints {"Username":"","Secret":""}). Found on the PATH of the CLI's environment.
        helper = tmp_path / "bin" / "docker-credential-cli-test"
        helper.parent.mkdir()
        answer = json.dumps({"ServerURL": auth_registry.host, "Username": USER, "Secret": PASSWORD})
        helper.write_text(f"#!/bin/sh\n[ \"$1\" = get ] || exit 1\ncat >/dev/null\necho '{answer}'\n")
        helper.chmod(0o755)
        monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
        config = (
            {"credsStore": "cli-test"} if where == "credsStore" else {"credHelpers": {auth_registry.host: "cli-test"}}
        )
        (tmp_path / "docker").mkdir()
        (tmp_path / "docker" / "config.json").write_text(json.dumps(config))
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    elif where == "HOME":
        (no_saved_logins / ".docker").mkdir()
        (no_saved_logins / ".docker" / "config.json").write_text(document)
    else:
        (tmp_path / "auth.json").write_text(document)
        monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    pushed = pushed_into(registry, dev)

    # When it is copied into the login registry with no flag
    code, out, err = run(["copy", f"{registry.host}/{dev}:v1", f"{auth_registry.host}/{prod}:v1"], capsys)

    # Then the saved login was used
    assert code == EXIT_OK, err
    assert manifest_in(auth_registry, prod, "v1") == pushed.manifest
    assert PASSWORD not in out + err


def test_a_user_without_password_is_asked_for_it_on_the_terminal(
    registry: LocalRegistry,
    auth_registry: LocalRegistry,
    repo_name: RepoName,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a terminal where the operator types the password
    prompts: list[str] = []

    def type_password(prompt: str) -> str:
        prompts.append(prompt)
        return PASSWORD

    terminal = logins.Terminal(is_interactive=lambda: True, ask=type_password)
    monkeypatch.setattr(logins, "Terminal", lambda: terminal)
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    pushed = pushed_into(registry, dev)

    # When --dest-creds gives only the user
    code, _, err = run(
        ["copy", f"{registry.host}/{dev}:v1", f"{auth_registry.host}/{prod}", "--dest-creds", USER], capsys
    )

    # Then the password was asked for once, naming user and host, and the copy succeeded
    assert code == EXIT_OK, err
    assert prompts == [f"Password for {USER} at {auth_registry.host}: "]
    assert manifest_in(auth_registry, prod, "v1") == pushed.manifest


def test_a_wrong_password_is_one_line_exit_1_and_never_printed(
    registry: LocalRegistry, auth_registry: LocalRegistry, repo_name: RepoName, tmp_path: Path
) -> None:
    # Given an image, and a wrong password for the login registry; the most verbose logging
    dev = repo_name("dev-app")
    pushed_into(registry, dev)
    wrong = "wrong-" + secrets.token_hex(10)
    argv = [
        "-vv",
        "copy",
        f"{registry.host}/{dev}:v1",
        f"{auth_registry.host}/prod-x",
        "--dest-creds",
        f"{USER}:{wrong}",
    ]

    # When the copy runs as its own process
    result = _run_cli(argv, tmp_path)

    # Then one error line names the host and user, exit 1; neither password appears in any output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == EXIT_FAILURE
    assert len(errors) == 1 and errors[0].endswith(
        f"{auth_registry.host} refused the credentials for user {USER} (HTTP 401)"
    )
    assert "Traceback" not in result.stderr
    for secret in (wrong, PASSWORD):
        assert secret not in result.stdout and secret not in result.stderr


def test_no_login_at_all_says_so_and_how_to_give_one(
    registry: LocalRegistry, auth_registry: LocalRegistry, repo_name: RepoName, capsys: pytest.CaptureFixture[str]
) -> None:
    dev = repo_name("dev-app")
    pushed_into(registry, dev)

    code, _, err = run(["copy", f"{registry.host}/{dev}:v1", f"{auth_registry.host}/prod-x"], capsys)

    assert code == EXIT_FAILURE and err.count("\n") == 1
    assert "refused the request: no credentials were given (HTTP 401)" in err and "--dest-creds" in err


def test_a_user_without_password_and_no_terminal_is_a_usage_error(
    registry: LocalRegistry, auth_registry: LocalRegistry, tmp_path: Path
) -> None:
    # Given stdin that is not a terminal (a CI job), When --src-creds gives only the user
    argv = ["copy", f"{auth_registry.host}/dev-x:v1", f"{registry.host}/prod-x", "--src-creds", USER]
    result = _run_cli(argv, tmp_path)

    # Then it stops before any request, saying how to pass the password
    assert result.returncode == EXIT_USAGE
    assert result.stderr.strip() == (
        f"error: --src-creds {USER} has no password and stdin is not a terminal to ask for it: "
        f"pass --src-creds USER:PASS, or log in with `docker login {auth_registry.host}`"
    )


def _run_cli(argv: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PYTHONPATH": str(ROOT / "lambda_src")}
    return subprocess.run(
        [sys.executable, "-m", "promoter", *argv],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
