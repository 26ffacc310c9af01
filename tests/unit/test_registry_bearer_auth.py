"""Bearer-token registries (Docker Hub, GHCR, Harbor, Quay: the distribution token spec) with a login:
the challenge's realm is asked for a token with the user's Basic credentials; a wrong password there is
one clear error naming the token service and the user, never the secret."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from promoter.registry import AuthenticationFailed, Credentials, RegistryClient, RetryPolicy
from tests.support.http_stub import StubServers

FAST = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.002, deadline=5, read_timeout=5, connect_timeout=2)
USER = "robot"
PASSWORD = "pw-" + secrets.token_hex(10)


@dataclass
class TokenRegistry:
    """`/v2/…` wants `Bearer issued-token`; `/token` issues it only for `USER:PASSWORD` Basic auth."""

    seen: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""


def _handler(state: TokenRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            header = self.headers.get("Authorization")
            state.seen.append((self.path, header))
            if self.path.startswith("/token"):
                wanted = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if header != wanted:
                    return self._send(401, b'{"details":"incorrect username or password"}')
                return self._send(200, json.dumps({"token": "issued-token", "expires_in": 300}).encode())
            if header != "Bearer issued-token":
                challenge = f'Bearer realm="{state.url}/token",service="stub",scope="repository:app:pull"'
                return self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
            return self._send(200, json.dumps({"name": "app", "tags": ["v1"]}).encode())

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def token_registry() -> Iterator[Callable[[], TokenRegistry]]:
    with StubServers() as servers:

        def make() -> TokenRegistry:
            state = TokenRegistry()
            state.url = servers.serve(_handler(state))
            return state

        yield make


def test_the_token_service_gets_the_login_and_the_registry_the_token(
    token_registry: Callable[[], TokenRegistry],
) -> None:
    state = token_registry()
    client = RegistryClient.for_host(state.url.removeprefix("http://"), credentials=Credentials(USER, PASSWORD))
    assert client.list_tags("app") == ["v1"]
    token_calls = [header for path, header in state.seen if path.startswith("/token")]
    assert len(token_calls) == 1 and token_calls[0] is not None and token_calls[0].startswith("Basic ")


@pytest.mark.parametrize("password", [None, "wrong-" + secrets.token_hex(6)], ids=["none", "wrong"])
def test_a_refused_login_at_the_token_service_is_one_clear_line(
    token_registry: Callable[[], TokenRegistry], password: str | None
) -> None:
    # Given a client with no login or a wrong password
    state = token_registry()
    host = state.url.removeprefix("http://")
    credentials = None if password is None else Credentials(USER, password)
    client = RegistryClient.for_host(host, credentials=credentials, retry=FAST)

    # When it lists tags, Then the error names the token service and the user (or that none was given)
    with pytest.raises(AuthenticationFailed) as caught:
        client.list_tags("app")
    message = str(caught.value)
    expected = "no credentials were given" if password is None else f"refused the credentials for user {USER}"
    assert message == f"{host} {'refused the request: ' if password is None else ''}{expected} (HTTP 401)"
    assert PASSWORD not in message and (password is None or password not in message)
