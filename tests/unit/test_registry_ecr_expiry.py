"""An expired ECR token is answered 403, not 401, sometimes before `expiresAt`: it is refreshed once.

The 403 shapes below are ECR's, as reported in public issues (quoted where used):
- awslabs/amazon-ecr-credential-helper#7: `error parsing HTTP 403 response body: invalid character 'Y'
  looking for beginning of value: "Your Authorization Token has expired. Please run 'aws ecr get-login'
  to fetch a new one."` -> a plain-text body;
- aws/aws-cli#6580 and others: `denied: Your authorization token has expired. Reauthenticate and try
  again.` -> the Docker CLI's rendering of `{"errors": [{"code": "DENIED", "message": …}]}`;
- awslabs/amazon-ecr-credential-helper#679: `HEAD https://NNNN.dkr.ecr.us-west-2.amazonaws.com/…/blobs/
  sha256:…: unexpected status code 403 Forbidden (HEAD responses have no body, use GET for details)`.
The fault proxy can only answer an `UNAVAILABLE` body, so a small HTTP stub plays ECR here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

import boto3
import pytest
from botocore.stub import Stubber

from promoter.registry import AuthenticationFailed, EcrAuth, RegistryClient, RetryPolicy
from tests.support.http_stub import StubServers

FAST = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.002, deadline=5, read_timeout=5, connect_timeout=2)
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}).encode()
PLAIN_TEXT = b"Your Authorization Token has expired. Please run 'aws ecr get-login' to fetch a new one."
DENIED_JSON = json.dumps(
    {"errors": [{"code": "DENIED", "message": "Your authorization token has expired. Reauthenticate and try again."}]}
).encode()
NOT_AUTHORIZED = json.dumps(
    {"errors": [{"code": "DENIED", "message": "User: arn:aws:sts::111122223333:assumed-role/x is not authorized"}]}
).encode()


@dataclass
class EcrStub:
    """Accepts the tokens in `valid`; answers any other token with 403 and `expired_body` (none for HEAD).
    `denied_paths`: paths refused with 403 `NOT_AUTHORIZED` whatever the token (a real permission denial)."""

    valid: set[str]
    expired_body: bytes = DENIED_JSON
    denied_paths: set[str] = field(default_factory=set)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    url: str = ""


def _handler(stub: EcrStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if status == 200 and "/manifests/" in self.path:
                self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(body).hexdigest())
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _serve(self) -> None:
            header = self.headers.get("Authorization")
            stub.seen.append((self.command, self.path, header))
            token = header[6:] if header and header.startswith("Basic ") else None
            if token not in stub.valid:
                shape = stub.expired_body
                content_type = "application/json" if shape.startswith(b"{") else "text/plain"
                self._answer(403, shape, content_type)
            elif self.path in stub.denied_paths:
                self._answer(403, NOT_AUTHORIZED, "application/json")
            elif self.path == "/v2/":
                self._answer(200, b"{}", "application/json")
            else:
                self._answer(200, MANIFEST, "application/vnd.oci.image.manifest.v1+json")

        def do_GET(self) -> None:
            self._serve()

        def do_HEAD(self) -> None:
            self._serve()

    return Handler


@pytest.fixture
def ecr_stub() -> Iterator[Callable[..., EcrStub]]:
    with StubServers() as servers:

        def make(**kwargs: object) -> EcrStub:
            stub = EcrStub(**kwargs)  # type: ignore[arg-type]
            stub.url = servers.serve(_handler(stub))
            return stub

        yield make


def _token(secret: str) -> str:
    return base64.b64encode(f"AWS:{secret}".encode()).decode()


def _ecr(*secrets: str, expires_in: timedelta = timedelta(hours=12)) -> tuple[object, Stubber]:
    """GetAuthorizationToken stubbed with the documented response shape, one response per secret."""
    client = boto3.client("ecr", region_name="us-west-2", aws_access_key_id="t", aws_secret_access_key="t")
    stubber = Stubber(client)
    for secret in secrets:
        data = {
            "authorizationToken": _token(secret),
            "expiresAt": datetime.now(UTC) + expires_in,
            "proxyEndpoint": "https://111122223333.dkr.ecr.us-west-2.amazonaws.com",
        }
        stubber.add_response("get_authorization_token", {"authorizationData": [data]}, {})
    stubber.activate()
    return client, stubber


@pytest.mark.parametrize("shape", [PLAIN_TEXT, DENIED_JSON], ids=["plain-text-#7", "denied-json"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_403_expired_token_is_refreshed_once_before_its_expires_at(
    ecr_stub: Callable[..., EcrStub], shape: bytes, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a cached token that ECR already calls expired although `expiresAt` is 12 h away
    stub = ecr_stub(valid={_token("fresh-secret-2")}, expired_body=shape)
    ecr, stubber = _ecr("stale-secret-1", "fresh-secret-2")
    auth = EcrAuth("us-west-2", lambda: ecr)
    client = RegistryClient(stub.url, auth=auth, retry=FAST)
    caplog.set_level("DEBUG")

    # When a manifest is read (GET: the 403 carries the body; HEAD: no body, so GET /v2/ decides)
    found = client.get_manifest("dev-app", "v1") if method == "GET" else client.resolve("dev-app", "v1")

    # Then the token was refreshed exactly once and the request succeeded with the new one
    assert found is not None
    assert auth.tokens_fetched == 2
    stubber.assert_no_pending_responses()
    assert stub.seen[-1][2] == "Basic " + _token("fresh-secret-2")
    # And no form of either token was logged
    for secret in ("stale-secret-1", "fresh-secret-2"):
        assert secret not in caplog.text and _token(secret) not in caplog.text


def test_a_403_permission_denial_fails_without_refresh_loops(ecr_stub: Callable[..., EcrStub]) -> None:
    # Given a valid token and a repository the role may not read (403 DENIED "not authorized")
    stub = ecr_stub(
        valid={_token("perm-secret-1"), _token("perm-secret-2")}, denied_paths={"/v2/secret-app/manifests/v1"}
    )
    ecr, _ = _ecr("perm-secret-1", "perm-secret-2")
    auth = EcrAuth("us-west-2", lambda: ecr)
    client = RegistryClient(stub.url, auth=auth, retry=FAST)

    # When it is read with GET, Then it fails as a denial after at most one refresh (never a loop)
    with pytest.raises(AuthenticationFailed) as caught:
        client.get_manifest("secret-app", "v1")
    assert caught.value.status == 403 and auth.tokens_fetched <= 2
    assert len([s for s in stub.seen if s[1] == "/v2/secret-app/manifests/v1"]) == 2
    # And a bodiless HEAD denial is checked against GET /v2/ (accepted there): no refresh at all
    fetched = auth.tokens_fetched
    with pytest.raises(AuthenticationFailed):
        client.resolve("secret-app", "v1")
    assert auth.tokens_fetched == fetched
    assert "perm-secret" not in str(caught.value) and _token("perm-secret-2") not in str(caught.value)


def test_a_token_that_keeps_being_refused_fails_after_one_refresh(ecr_stub: Callable[..., EcrStub]) -> None:
    # Given ECR refuses every token as expired
    stub = ecr_stub(valid=set(), expired_body=PLAIN_TEXT)
    ecr, _ = _ecr("first-secret", "second-secret", "third-secret")
    auth = EcrAuth("us-west-2", lambda: ecr)

    # When a manifest is read, Then it fails with 403 after exactly one refresh, naming no token
    with pytest.raises(AuthenticationFailed) as caught:
        RegistryClient(stub.url, auth=auth, retry=FAST).get_manifest("dev-app", "v1")
    assert caught.value.status == 403 and auth.tokens_fetched == 2 and len(stub.seen) == 2
    assert "secret" not in str(caught.value)


def test_the_cached_token_is_never_older_than_one_hour(ecr_stub: Callable[..., EcrStub]) -> None:
    # Given a token valid for 12 h and a clock we move forward
    stub = ecr_stub(valid={_token("a"), _token("b")})
    ecr, stubber = _ecr("a", "b")
    now = [1_000_000.0]
    auth = EcrAuth("us-west-2", lambda: ecr, clock=lambda: now[0])
    client = RegistryClient(stub.url, auth=auth, retry=FAST)

    # When requests are made just before and at one hour after the fetch
    client.resolve("dev-app", "v1")
    now[0] += 3599
    client.resolve("dev-app", "v1")
    assert auth.tokens_fetched == 1
    now[0] += 1
    client.resolve("dev-app", "v1")

    # Then a new token was fetched at the hour, although `expiresAt` was 11 h away
    assert auth.tokens_fetched == 2
    stubber.assert_no_pending_responses()
    assert stub.seen[-1][2] == "Basic " + _token("b")
