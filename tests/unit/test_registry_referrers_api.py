"""The OCI 1.1 referrers API as a registry with it answers: paginated with `Link` (distribution spec,
"Listing Referrers": "the registry MAY paginate the response, and the `Link` header … with `rel="next"`"),
and, on a registry without it, a 404 remembered per host. A small stub plays that registry (the CNCF
registry used elsewhere has no referrers API)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from promoter.registry import OCI_INDEX, OCI_MANIFEST, RegistryClient, RetryPolicy, sha256_digest
from promoter.registry.capabilities import REFERRERS_SUPPORT
from tests.support.http_stub import StubServers

FAST = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.002, deadline=5, read_timeout=5, connect_timeout=2)
SUBJECT = sha256_digest(b"subject")


@dataclass
class ReferrersStub:
    """Serves `referrers` for SUBJECT, `page_size` per page, linking the next page; or 404 when `api` is off."""

    referrers: list[dict[str, object]]
    page_size: int = 2
    api: bool = True
    missing_repository: bool = False
    seen: list[str] = field(default_factory=list)
    url: str = ""


def _handler(stub: ReferrersStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            stub.seen.append(self.path)
            path, _, query = self.path.partition("?")
            if stub.missing_repository:
                body = b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}'
                return self._send(404, body, "application/json")
            if not stub.api or not path.endswith(f"/referrers/{SUBJECT}"):
                return self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
            start = int(query.removeprefix("page=") or 0) if query.startswith("page=") else 0
            page = stub.referrers[start : start + stub.page_size]
            body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": page}).encode()
            headers = {}
            if start + stub.page_size < len(stub.referrers):
                headers["Link"] = f'<{path}?page={start + stub.page_size}>; rel="next"'
            return self._send(200, body, OCI_INDEX, headers)

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def referrers_stub() -> Iterator[Callable[..., ReferrersStub]]:
    with StubServers() as servers:

        def make(**kwargs: object) -> ReferrersStub:
            stub = ReferrersStub(**kwargs)  # type: ignore[arg-type]
            stub.url = servers.serve(_handler(stub))
            return stub

        yield make


def _referrer(n: int) -> dict[str, object]:
    data = f"signature-{n}".encode()
    return {"mediaType": OCI_MANIFEST, "digest": sha256_digest(data), "size": len(data), "artifactType": "x/sig"}


def test_every_page_of_a_paginated_referrers_answer_is_followed(referrers_stub: Callable[..., ReferrersStub]) -> None:
    # Given five referrers served two per page (three pages linked by `Link: <…>; rel="next"`)
    wanted = [_referrer(n) for n in range(5)]
    stub = referrers_stub(referrers=wanted, page_size=2)

    # When the referrers are listed
    found = RegistryClient.for_endpoint(stub.url, retry=FAST).referrers("dev-app", SUBJECT)

    # Then all five came back, in order, from three requests
    assert found is not None and [d.digest for d in found] == [r["digest"] for r in wanted]
    assert len(stub.seen) == 3 and stub.seen[1].endswith("?page=2")


def test_a_registry_without_the_api_is_probed_once_per_process(referrers_stub: Callable[..., ReferrersStub]) -> None:
    # Given a registry without the API, and a cold process
    REFERRERS_SUPPORT.forget()
    stub = referrers_stub(referrers=[], api=False)

    # When two clients (two invocations) ask for referrers
    first = RegistryClient.for_endpoint(stub.url, retry=FAST).referrers("dev-app", SUBJECT)
    second = RegistryClient.for_endpoint(stub.url, retry=FAST).referrers("dev-app", SUBJECT)

    # Then both fall back (None), and only the first asked the registry
    assert (first, second) == (None, None) and len(stub.seen) == 1


def test_a_missing_repository_says_nothing_about_the_api(referrers_stub: Callable[..., ReferrersStub]) -> None:
    # Given a registry answering 404 NAME_UNKNOWN (the repository is missing)
    REFERRERS_SUPPORT.forget()
    stub = referrers_stub(referrers=[], missing_repository=True)
    client = RegistryClient.for_endpoint(stub.url, retry=FAST)

    # When asked twice, Then it is asked twice: a missing repository is not a missing API
    assert client.referrers("dev-app", SUBJECT) is None and client.referrers("dev-app", SUBJECT) is None
    assert len(stub.seen) == 2
