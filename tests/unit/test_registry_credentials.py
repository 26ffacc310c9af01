"""Where registry credentials come from, in which order, and that the secret never shows.

Shapes: Docker's config.json (`auths` with base64 `auth` or `username`/`password`, `credHelpers`,
`credsStore`; docker/cli `cli/config/configfile`), the credential-helper protocol (`docker-credential-<name>
get`, server on stdin, `{"ServerURL", "Username", "Secret"}` on stdout, "credentials not found in native
keychain" when absent; docker/docker-credential-helpers) and containers-auth.json (`REGISTRY_AUTH_FILE`,
repository-scoped keys such as `quay.io/org`).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import stat
from pathlib import Path

import pytest

from promoter.registry import CredentialsError, CredentialSources, parse_user_pass

HOST = "registry.example.com"
ECR_HOST = "111122223333.dkr.ecr.us-west-2.amazonaws.com"


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def _helper(bin_dir: Path, name: str, user: str, secret: str, log: Path) -> None:
    """A real `docker-credential-<name>` on PATH: records the server it was asked about."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / f"docker-credential-{name}"
    answer = json.dumps({"ServerURL": HOST, "Username": user, "Secret": secret})
    script.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = get ] || exit 2\nread server\necho "$server" >> {log}\n'
        f'if [ "$server" = "{HOST}" ]; then echo \'{answer}\'; exit 0; fi\n'
        'echo "credentials not found in native keychain"; exit 1\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_explicit_credentials_win_and_parse_user_pass() -> None:
    # Given stored credentials too, When explicit ones are given, Then they are used as given
    sources = CredentialSources()
    found = sources.resolve(HOST, explicit="alice:pa:ss")
    assert found is not None and (found.username, found.password) == ("alice", "pa:ss")
    assert parse_user_pass("bob").password == ""
    with pytest.raises(CredentialsError) as caught:
        parse_user_pass(":only-a-secret-123")
    assert "only-a-secret-123" not in str(caught.value)


def test_auth_file_then_docker_auths_in_both_entry_shapes(tmp_path: Path) -> None:
    # Given REGISTRY_AUTH_FILE with a repository-scoped entry, and a Docker config with two hosts
    auth_file = _write(tmp_path / "auth.json", {"auths": {f"{HOST}/team": {"auth": _auth("scoped", "s1")}}})
    docker = _write(
        tmp_path / "docker" / "config.json",
        {
            "auths": {
                f"https://{HOST}": {"auth": _auth("dockeruser", "d1")},
                "other.example.com:5000": {"username": "plain", "password": "p1"},
            }
        },
    )
    sources = CredentialSources.from_environ(
        {"REGISTRY_AUTH_FILE": str(auth_file), "DOCKER_CONFIG": str(docker.parent), "PATH": ""}, home=None
    )
    # Then the auth file wins for its repository, the Docker config for the rest of the host
    team = sources.resolve(HOST, "team/app")
    assert team is not None and (team.username, team.password) == ("scoped", "s1")
    other_repo = sources.resolve(HOST, "elsewhere/app")
    assert other_repo is not None and (other_repo.username, other_repo.password) == ("dockeruser", "d1")
    plain = sources.resolve("other.example.com:5000")
    assert plain is not None and (plain.username, plain.password) == ("plain", "p1")
    assert sources.resolve("unknown.example.com") is None


def test_docker_config_defaults_to_home(tmp_path: Path) -> None:
    _write(tmp_path / ".docker" / "config.json", {"auths": {HOST: {"auth": _auth("homeuser", "h1")}}})
    found = CredentialSources.from_environ({"PATH": ""}, home=tmp_path).resolve(HOST)
    assert found is not None and found.username == "homeuser"


def test_cred_helpers_and_creds_store_run_the_helper_on_path(tmp_path: Path) -> None:
    # Given a per-host credHelper and a global credsStore, each a real executable on PATH
    log = tmp_path / "asked.txt"
    _helper(tmp_path / "bin", "perhost", "helperuser", "helper-secret", log)
    _helper(tmp_path / "bin", "store", "storeuser", "store-secret", log)
    docker = _write(tmp_path / "d" / "config.json", {"credHelpers": {HOST: "perhost"}, "credsStore": "store"})
    sources = CredentialSources(docker_config=docker, search_path=str(tmp_path / "bin"))

    # When credentials for the host are resolved, Then the per-host helper answers (asked with the host)
    found = sources.resolve(HOST)
    assert found is not None and (found.username, found.password) == ("helperuser", "helper-secret")
    assert found.source == "docker-credential-perhost"
    # And for a host only the store could know, the store is asked; it knows nothing: None
    assert sources.resolve("nothing.example.com") is None
    assert log.read_text().split() == [HOST, "nothing.example.com"]


def test_a_helper_missing_from_path_is_skipped(tmp_path: Path) -> None:
    docker = _write(tmp_path / "config.json", {"credsStore": "desktop", "auths": {HOST: {}}})
    assert CredentialSources(docker_config=docker, search_path=str(tmp_path)).resolve(HOST) is None


def test_ecr_hosts_take_only_explicit_credentials(tmp_path: Path) -> None:
    # Given a Docker config with a (12 h, unrefreshable) ECR login
    docker = _write(tmp_path / "config.json", {"auths": {ECR_HOST: {"auth": _auth("AWS", "ecr-token")}}})
    sources = CredentialSources(docker_config=docker)
    # Then the ECR host gets no stored credentials (its client fetches its own token) unless given explicitly
    assert sources.resolve(ECR_HOST) is None
    explicit = sources.resolve(ECR_HOST, explicit="AWS:given")
    assert explicit is not None and explicit.password == "given"


def test_secrets_never_show_in_repr_logs_or_errors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given credentials with a generated secret, and malformed config files holding it
    secret = "s3cr3t-" + secrets.token_hex(8)
    caplog.set_level(logging.DEBUG)
    found = CredentialSources().resolve(HOST, explicit=f"user:{secret}")
    assert found is not None
    texts = [repr(found), str(found), f"{found}"]
    broken_json = tmp_path / "broken.json"
    broken_json.write_text('{"auths": {"' + HOST + '": {"auth": "' + secret)
    bad_base64 = _write(tmp_path / "bad.json", {"auths": {HOST: {"auth": secret + "!"}}})
    for path in (broken_json, bad_base64):
        with pytest.raises(CredentialsError) as caught:
            CredentialSources(docker_config=path).resolve(HOST)
        texts += [str(caught.value), repr(caught.value)]
    # Then the secret appears nowhere
    assert all(secret not in text for text in [*texts, caplog.text])
