"""ECR paths: token from GetAuthorizationToken (botocore Stubber), cached, refreshed once on 401; the Basic
header; blob redirects to another host (S3) without Authorization; a 202 answer to a mount streams the blob
into the session it opened. A small in-memory registry stands in for ECR's OCI endpoint."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from promoter.registry import (
    AuthenticationFailed,
    EcrAuth,
    InvalidReference,
    RegistryClient,
    RetryPolicy,
    copy_image,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ECR_HOST = "111122223333.dkr.ecr.us-west-2.amazonaws.com"
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002, deadline=5, read_timeout=5, connect_timeout=2)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None


@dataclass
class FakeRegistry:
    """In-memory OCI registry. `auth`: "ecr" (Basic with a token from `tokens`), "bearer" (token service
    at /token), "basic" (user:pass) or "none". Mounts always answer 202 (like ECR with BLOB_MOUNTING off).
    Blob GETs redirect to a second server (`blobstore`), which refuses any Authorization header (like S3)."""

    auth: str = "ecr"
    tokens: set[str] = field(default_factory=set)
    manifests: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    repo_blobs: set[tuple[str, str]] = field(default_factory=set)
    uploads: dict[str, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    blobstore_seen: list[Seen] = field(default_factory=list)
    token_requests: list[str] = field(default_factory=list)
    url: str = ""
    blobstore_url: str = ""

    def push(self, repository: str, tag: str, layers: list[bytes]) -> str:
        config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
        for blob in [config, *layers]:
            self.blobs[_digest(blob)] = blob
            self.repo_blobs.add((repository, _digest(blob)))
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "size": len(config),
                    "digest": _digest(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "size": len(layer),
                        "digest": _digest(layer),
                    }
                    for layer in layers
                ],
            }
        ).encode()
        self.manifests[(repository, tag)] = (OCI_MANIFEST, manifest)
        self.manifests[(repository, _digest(manifest))] = (OCI_MANIFEST, manifest)
        return _digest(manifest)

    def authorized(self, header: str | None) -> bool:
        if self.auth == "none":
            return True
        if self.auth == "ecr":
            return header is not None and header.startswith("Basic ") and header[6:] in self.tokens
        if self.auth == "basic":
            return header == "Basic " + base64.b64encode(b"user:secret").decode()
        return header is not None and header.startswith("Bearer ") and header[7:] in self.tokens

    def challenge(self, scope: str) -> str:
        if self.auth == "bearer":
            return f'Bearer realm="{self.url}/token",service="fake",scope="{scope}"'
        return 'Basic realm="fake"'


def _make_handler(state: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _error(self, status: int, code: str) -> None:
            self._send(status, json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode())

        def handle_any(self) -> None:
            path = self.path
            state.seen.append(Seen(self.command, path, self.headers.get("Authorization")))
            if path.startswith("/token"):
                state.token_requests.append(path)
                token = f"bearer-{len(state.token_requests)}"
                state.tokens.add(token)
                self._send(200, json.dumps({"token": token, "expires_in": 300}).encode())
                return
            repo_match = re.match(r"/v2/(?P<repo>.+?)/(?P<kind>manifests|blobs|tags)/(?P<rest>.*)", path)
            if path != "/v2/" and not state.authorized(self.headers.get("Authorization")):
                self._body()
                scope = f"repository:{repo_match['repo']}:pull" if repo_match else ""
                self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": state.challenge(scope)})
                return
            if repo_match is None:
                self._send(200, b"{}")
                return
            repo, kind, rest = repo_match["repo"], repo_match["kind"], repo_match["rest"]
            if kind == "manifests":
                self._manifests(repo, rest)
            elif kind == "blobs":
                self._blobs(repo, rest)
            else:
                self._error(404, "NAME_UNKNOWN")

        def _manifests(self, repo: str, reference: str) -> None:
            if self.command in ("GET", "HEAD"):
                found = state.manifests.get((repo, reference))
                if found is None:
                    self._error(404, "MANIFEST_UNKNOWN")
                    return
                media_type, data = found
                self._send(200, data, {"Content-Type": media_type, "Docker-Content-Digest": _digest(data)})
                return
            data = self._body()
            document = json.loads(data)
            needed = [document["config"]["digest"]] + [layer["digest"] for layer in document.get("layers", [])]
            if any((repo, d) not in state.repo_blobs for d in needed):
                self._error(400, "MANIFEST_BLOB_UNKNOWN")
                return
            state.manifests[(repo, reference)] = (self.headers["Content-Type"], data)
            state.manifests[(repo, _digest(data))] = (self.headers["Content-Type"], data)
            self._send(201, headers={"Docker-Content-Digest": _digest(data)})

        def _blobs(self, repo: str, rest: str) -> None:
            if rest.startswith("uploads/"):
                self._uploads(repo, rest[len("uploads/") :])
                return
            digest = rest
            if (repo, digest) not in state.repo_blobs:
                self._error(404, "BLOB_UNKNOWN")
                return
            if self.command == "HEAD":
                self._send(200, headers={"Docker-Content-Digest": digest, "Content-Length": "0"})
                return
            self._send(307, headers={"Location": f"{state.blobstore_url}/bucket/{digest}?X-Amz-Signature=abc"})

        def _uploads(self, repo: str, rest: str) -> None:
            if self.command == "POST":
                session = uuid.uuid4().hex
                state.uploads[session] = repo
                # Mounting disabled: a mount request opens an upload session instead (202), like ECR.
                self._send(202, headers={"Location": f"/v2/{repo}/blobs/uploads/{session}", "Range": "0-0"})
                return
            session, _, query = rest.partition("?")
            if self.command == "DELETE":
                state.uploads.pop(session, None)
                self._send(204)
                return
            data = self._body()
            digest = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("digest", "")
            if session not in state.uploads or _digest(data) != digest:
                self._error(400, "DIGEST_INVALID")
                return
            state.blobs[digest] = data
            state.repo_blobs.add((repo, digest))
            del state.uploads[session]
            self._send(201, headers={"Docker-Content-Digest": digest, "Location": f"/v2/{repo}/blobs/{digest}"})

        def __getattr__(self, name: str) -> Any:
            if name.startswith("do_"):
                return self.handle_any
            raise AttributeError(name)

    return Handler


def _make_blobstore(state: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Blobstore(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            authorization = self.headers.get("Authorization")
            state.blobstore_seen.append(Seen("GET", self.path, authorization))
            digest = self.path.split("/")[-1].split("?")[0]
            body = state.blobs.get(digest, b"") if authorization is None else b"<Error>only one auth mechanism</Error>"
            self.send_response(200 if authorization is None else 400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Blobstore


@pytest.fixture
def fake_registry() -> Iterator[Callable[..., FakeRegistry]]:
    servers: list[ThreadingHTTPServer] = []

    def start(**kwargs: Any) -> FakeRegistry:
        state = FakeRegistry(**kwargs)
        for attr, factory in (("url", _make_handler), ("blobstore_url", _make_blobstore)):
            server = ThreadingHTTPServer(("127.0.0.1", 0), factory(state))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
            servers.append(server)
            setattr(state, attr, f"http://127.0.0.1:{server.server_address[1]}")
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _ecr_client() -> Any:
    return boto3.client("ecr", region_name="us-west-2", aws_access_key_id="testing", aws_secret_access_key="testing")


def _token_response(token: str, expires: datetime | None = None) -> dict[str, Any]:
    return {
        "authorizationData": [
            {
                "authorizationToken": token,
                "expiresAt": expires or datetime.now(UTC) + timedelta(hours=12),
                "proxyEndpoint": f"https://{ECR_HOST}",
            }
        ]
    }


def _stubbed(*tokens: str) -> tuple[Any, Stubber]:
    client = _ecr_client()
    stubber = Stubber(client)
    for token in tokens:
        stubber.add_response("get_authorization_token", _token_response(token), {})
    stubber.activate()
    return client, stubber


def test_ecr_token_is_fetched_once_and_sent_as_basic(fake_registry: Callable[..., FakeRegistry]) -> None:
    # Given an ECR-like registry that accepts one token, and GetAuthorizationToken stubbed to return it once
    token = base64.b64encode(b"AWS:password-1").decode()
    fake = fake_registry(auth="ecr", tokens={token})
    fake.push("dev-app", "v1", [b"layer"])
    ecr, stubber = _stubbed(token)
    client = RegistryClient(fake.url, auth=EcrAuth("us-west-2", lambda: ecr), retry=FAST)

    # When the client makes several requests
    for _ in range(3):
        assert client.resolve("dev-app", "v1") is not None

    # Then the token was fetched once and every request carried `Authorization: Basic <token>`
    stubber.assert_no_pending_responses()
    assert [s.authorization for s in fake.seen] == [f"Basic {token}"] * 3


def test_ecr_token_is_refreshed_when_it_nears_expiry(fake_registry: Callable[..., FakeRegistry]) -> None:
    # Given a token that expires in an hour and a clock we move forward
    fake = fake_registry(auth="ecr", tokens={"t1", "t2"})
    fake.push("dev-app", "v1", [b"layer"])
    client_ecr = _ecr_client()
    stubber = Stubber(client_ecr)
    now = [1_000_000.0]
    expires = datetime.fromtimestamp(now[0] + 3600, UTC)
    stubber.add_response("get_authorization_token", _token_response("t1", expires), {})
    stubber.add_response("get_authorization_token", _token_response("t2"), {})
    stubber.activate()
    auth = EcrAuth("us-west-2", lambda: client_ecr, refresh_margin=300, clock=lambda: now[0])
    client = RegistryClient(fake.url, auth=auth, retry=FAST)

    # When a request is made before and after the token's refresh point
    client.resolve("dev-app", "v1")
    now[0] += 3600 - 299
    client.resolve("dev-app", "v1")

    # Then a second token was fetched and used
    assert auth.tokens_fetched == 2
    assert [s.authorization for s in fake.seen] == ["Basic t1", "Basic t2"]


def test_ecr_401_refreshes_the_token_once_then_succeeds(fake_registry: Callable[..., FakeRegistry]) -> None:
    # Given a registry that no longer accepts the cached token but accepts a fresh one
    fake = fake_registry(auth="ecr", tokens={"fresh"})
    fake.push("dev-app", "v1", [b"layer"])
    ecr, stubber = _stubbed("stale", "fresh")
    client = RegistryClient(fake.url, auth=EcrAuth("us-west-2", lambda: ecr), retry=FAST)

    # When a request is made
    found = client.resolve("dev-app", "v1")

    # Then it was retried once with a refreshed token
    assert found is not None
    stubber.assert_no_pending_responses()
    assert [s.authorization for s in fake.seen] == ["Basic stale", "Basic fresh"]


def test_ecr_second_401_fails_authentication_without_leaking_the_token(
    fake_registry: Callable[..., FakeRegistry],
) -> None:
    # Given a registry that refuses every token
    fake = fake_registry(auth="ecr", tokens=set())
    ecr, _ = _stubbed("secret-token-1", "secret-token-2")
    client = RegistryClient(fake.url, auth=EcrAuth("us-west-2", lambda: ecr), retry=FAST)

    # When a request is made, Then it fails with AuthenticationFailed after exactly one refresh
    with pytest.raises(AuthenticationFailed) as caught:
        client.resolve("dev-app", "v1")
    assert len(fake.seen) == 2
    assert "secret-token" not in str(caught.value)
    assert caught.value.status == 401


def test_ecr_token_service_error_is_authentication_failed(fake_registry: Callable[..., FakeRegistry]) -> None:
    # Given GetAuthorizationToken is denied
    fake = fake_registry(auth="ecr")
    ecr = _ecr_client()
    stubber = Stubber(ecr)
    stubber.add_client_error(
        "get_authorization_token", service_error_code="AccessDeniedException", http_status_code=400
    )
    stubber.activate()
    client = RegistryClient(fake.url, auth=EcrAuth("us-west-2", lambda: ecr), retry=FAST)

    # When a request is made, Then AuthenticationFailed names the error code, and nothing was sent
    with pytest.raises(AuthenticationFailed, match="AccessDeniedException"):
        client.resolve("dev-app", "v1")
    assert fake.seen == []


def test_blob_redirect_to_another_host_drops_authorization(fake_registry: Callable[..., FakeRegistry]) -> None:
    # Given an ECR-like registry whose blob GETs redirect to a blob store on another host
    fake = fake_registry(auth="ecr", tokens={"tok"})
    fake.push("dev-app", "v1", [b"layer-bytes"])
    ecr, _ = _stubbed("tok")
    client = RegistryClient(fake.url, auth=EcrAuth("us-west-2", lambda: ecr), retry=FAST)

    # When a blob is read
    data = client.get_blob_bytes("dev-app", _digest(b"layer-bytes"), 1024)

    # Then the registry got the token, the blob store got the redirect without any Authorization header
    assert data == b"layer-bytes"
    assert fake.seen[-1].authorization == "Basic tok"
    assert [s.authorization for s in fake.blobstore_seen] == [None]


def test_mount_answered_202_streams_the_blob_into_that_session(fake_registry: Callable[..., FakeRegistry]) -> None:
    # Given an ECR-like registry with blob mounting disabled (202 on mount) and an image in dev-app
    fake = fake_registry(auth="ecr", tokens={"tok"})
    layers = [b"a" * 3000, b"b" * 5000]
    digest = fake.push("dev-app", "v1", layers)
    ecr, _ = _stubbed("tok")
    client = RegistryClient(fake.url, auth=EcrAuth("us-west-2", lambda: ecr), retry=FAST)

    # When the image is copied to another repository of the same registry
    result = copy_image(client, "dev-app", "v1", client, "prod-app", ["v1"], referrers=False)

    # Then each blob was streamed into the session its mount request opened (no other upload was started)
    assert (result.blobs_mounted, result.blobs_streamed) == (0, 3)
    posts = [s.path for s in fake.seen if s.method == "POST"]
    assert len(posts) == 3 and all("mount=" in p and "from=dev-app" in p for p in posts)
    assert fake.manifests[("prod-app", "v1")][1] == fake.manifests[("dev-app", "v1")][1]
    assert result.digest == digest
    # And the blob store never saw the token
    assert all(s.authorization is None for s in fake.blobstore_seen)


def test_for_host_uses_ecr_auth_over_https_for_ecr_hosts() -> None:
    # Given an ECR host, When a client is made for it, Then it speaks HTTPS with ECR auth (no request yet)
    client = RegistryClient.for_host(ECR_HOST, ecr_client_factory=_ecr_client)
    assert client.base_url == f"https://{ECR_HOST}"
    assert isinstance(client.auth, EcrAuth) and client.auth.region == "us-west-2"
    assert RegistryClient.for_host("127.0.0.1:5000").base_url == "http://127.0.0.1:5000"
    assert RegistryClient.for_host("registry.example.com").base_url == "https://registry.example.com"


def test_loopback_paths_never_import_boto3() -> None:
    # Given a fresh interpreter, When the registry package and the CLI are imported and a loopback client made
    code = (
        "import sys; import promoter.registry, promoter.cli; "
        "promoter.registry.RegistryClient.for_host('127.0.0.1:5000'); "
        "print('boto3' in sys.modules or 'botocore' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(root / "lambda_src")},
    )
    # Then boto3 was not imported
    assert out.stdout.strip() == "False"


def test_bearer_challenge_fetches_a_token_per_scope_and_reuses_it(fake_registry: Callable[..., FakeRegistry]) -> None:
    # Given a registry that answers 401 with a Bearer challenge pointing at its token service
    fake = fake_registry(auth="bearer")
    fake.push("dev-app", "v1", [b"layer"])
    client = RegistryClient.for_endpoint(fake.url, retry=FAST)

    # When several requests on the same repository are made
    for _ in range(3):
        assert client.resolve("dev-app", "v1") is not None

    # Then one token was fetched (for that scope) and reused
    assert len(fake.token_requests) == 1
    assert "scope=repository%3Adev-app%3Apull" in fake.token_requests[0]
    assert [s.authorization for s in fake.seen if s.path.startswith("/v2/")] == [
        None,
        "Bearer bearer-1",
        "Bearer bearer-1",
        "Bearer bearer-1",
    ]


def test_basic_challenge_uses_the_given_credentials(fake_registry: Callable[..., FakeRegistry]) -> None:
    # Given a registry that requires Basic credentials
    fake = fake_registry(auth="basic")
    fake.push("dev-app", "v1", [b"layer"])

    # When a client with credentials asks, Then it answers the challenge; without credentials it fails cleanly
    assert RegistryClient.for_endpoint(fake.url, username="user", password="secret", retry=FAST).resolve(
        "dev-app", "v1"
    )
    with pytest.raises(AuthenticationFailed) as caught:
        RegistryClient.for_endpoint(fake.url, retry=FAST).resolve("dev-app", "v1")
    assert "secret" not in str(caught.value)


def test_endpoint_with_credentials_in_the_url_is_refused_without_echoing_them() -> None:
    with pytest.raises(InvalidReference) as caught:
        RegistryClient.for_endpoint("http://user:hunter2@127.0.0.1:5000")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(InvalidReference):
        RegistryClient.for_endpoint("ftp://127.0.0.1:5000")
