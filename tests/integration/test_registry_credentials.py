"""Copies to and from a registry that requires a login: the real CNCF registry with htpasswd auth.

distribution's `auth: htpasswd: {realm, path}` (bcrypt entries only) answers every unauthenticated
request 401 `WWW-Authenticate: Basic realm="…"`: the client must answer that challenge with the
credentials it was given, and say clearly, without the secret, when they are wrong or missing.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools import images
from devtools.localregistry import LocalRegistry
from promoter.registry import (
    AuthenticationFailed,
    Credentials,
    CredentialSources,
    RegistryClient,
    RetryPolicy,
    copy_image,
)
from tests.support.auth_registry import start_auth_registry

RepoName = Callable[[str], str]
USER = "promoter"
PASSWORD = "pw-" + secrets.token_hex(12)
FAST = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.002, deadline=10, read_timeout=5, connect_timeout=2)


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A registry that requires `USER:PASSWORD` (bcrypt htpasswd)."""
    running = start_auth_registry(tmp_path_factory.mktemp("auth-registry"), USER, PASSWORD)
    yield running
    running.stop()


def _client(registry: LocalRegistry, password: str | None) -> RegistryClient:
    credentials = None if password is None else Credentials(USER, password)
    return RegistryClient.for_host(registry.host, credentials=credentials, retry=FAST)


def test_copy_into_and_out_of_a_registry_with_a_login(
    registry: LocalRegistry, auth_registry: LocalRegistry, repo_name: RepoName, tmp_path: Path
) -> None:
    # Given an image in an open registry, and the login to the htpasswd registry in a Docker config
    dev, prod, back = repo_name("dev-app"), repo_name("prod-app"), repo_name("back-app")
    pushed = images.push_image(registry.url, dev, "v1", [os.urandom(200_000), os.urandom(1000)])
    docker = tmp_path / "docker"
    docker.mkdir()
    config = f'{{"auths": {{"{auth_registry.host}": {{"username": "{USER}", "password": "{PASSWORD}"}}}}}}'
    (docker / "config.json").write_text(config)
    sources = CredentialSources.from_environ({"DOCKER_CONFIG": str(docker), "PATH": ""}, home=None)
    credentials = sources.resolve(auth_registry.host, prod)
    target = RegistryClient.for_host(auth_registry.host, credentials=credentials, retry=FAST)

    # When the image is copied into it, and from there into a second repository of it
    first = copy_image(RegistryClient.for_endpoint(registry.url), dev, "v1", target, prod, ["v1"])
    second = copy_image(target, prod, "v1", target, back, ["v1"])

    # Then both copies are byte-exact (the second mounted every blob, with the same login)
    assert first.digest == second.digest == pushed.digest
    assert first.blobs_streamed == len(pushed.blobs) and second.blobs_mounted == len(pushed.blobs)
    assert target.get_manifest(back, "v1").data == pushed.manifest


@pytest.mark.parametrize("password", [None, "wrong-" + secrets.token_hex(8)], ids=["none", "wrong"])
def test_missing_or_wrong_credentials_are_one_clear_error_without_the_secret(
    auth_registry: LocalRegistry, password: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a client with no credentials, or with a wrong password; every logger at DEBUG
    caplog.set_level(logging.DEBUG)
    logging.getLogger("promoter").setLevel(logging.DEBUG)
    client = _client(auth_registry, password)

    # When it reads from the registry
    with pytest.raises(AuthenticationFailed) as caught:
        client.list_tags("prod-app")

    # Then the error says what happened in one line: which host, which user, or that none were sent
    message = str(caught.value)
    assert caught.value.status == 401 and "\n" not in message
    if password is None:
        assert message.endswith(f"{auth_registry.host} refused the request: no credentials were given (HTTP 401)")
    else:
        assert message.endswith(f"{auth_registry.host} refused the credentials for user {USER} (HTTP 401)")
    # And neither the password tried nor the real one appears in the error or any log record
    for secret in filter(None, (password, PASSWORD)):
        assert secret not in message and secret not in repr(caught.value) and secret not in caplog.text
