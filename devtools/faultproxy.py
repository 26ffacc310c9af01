"""A fault-injecting HTTP proxy in front of a real registry (loopback only).

Point a client at `proxy.url` instead of the registry's URL; every request is forwarded to the
registry unchanged (the `Host` header too, so upload `Location`s point back at the proxy) unless a
rule matches it. Rules match on method and a regex searched in the path (query included) and inject
one fault each, `times` times (None: every time):

| fault        | what the client sees                                                        |
|--------------|-----------------------------------------------------------------------------|
| "503", "500", any status | that status with a registry-style JSON error, request not forwarded |
| "429"        | 429 with `Retry-After: <retry_after>` (default "1"), request not forwarded   |
| "reset"      | the TCP connection reset (RST) before any answer, request not forwarded      |
| "truncate"   | the real status and `Content-Length`, then half the body and a closed socket |
| "corrupt"    | the real response with one byte of the body flipped (same length)           |
| "slow"       | the real response after `delay` seconds                                     |

`limit_rate(per_second, …)` answers 429 only to the requests above a rate (a token bucket), like a quota.

`proxy.injected` counts the faults injected by kind; `proxy.requests` lists every request seen.
Used by the copy engine's fault tests and reusable by a reliability suite:

    with FaultProxy(registry.url) as proxy:
        proxy.inject("reset", method="GET", path=r"/blobs/sha256:", times=2)
        ... RegistryClient.for_endpoint(proxy.url) ...
        assert proxy.injected["reset"] == 2
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_COPY_CHUNK = 256 * 1024
_NAMED_FAULTS = frozenset({"reset", "truncate", "corrupt", "slow"})


@dataclass
class FaultRule:
    fault: str
    path: str = ".*"
    method: str | None = None
    times: int | None = 1
    retry_after: str | None = None
    delay: float = 1.0
    rate: float | None = None  # requests per second let through before the fault applies (a token bucket)
    injected: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)
    _tokens: float = field(default=0.0, init=False, repr=False)
    _refilled: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.fault not in _NAMED_FAULTS and not re.fullmatch(r"[1-5][0-9][0-9]", self.fault):
            raise ValueError(f"unknown fault {self.fault!r}: a status code or one of {sorted(_NAMED_FAULTS)}")
        self._pattern = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.injected >= self.times:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if not self._pattern.search(path):
            return False
        return self.rate is None or not self._take_token()

    def _take_token(self) -> bool:
        """A request within the rate (burst: one second's worth) passes and takes a token."""
        assert self.rate is not None
        now = time.monotonic()
        if not self._refilled:
            self._tokens, self._refilled = self.rate, now
        self._tokens = min(self.rate, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    @property
    def status(self) -> int | None:
        return int(self.fault) if self.fault.isdigit() else None


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    fault: str | None


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("upstream must be http://HOST:PORT")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.rules: list[FaultRule] = []
        self.injected: Counter[str] = Counter()
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="faultproxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FaultProxy:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "proxy not started"
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def inject(
        self,
        fault: str,
        *,
        path: str = ".*",
        method: str | None = None,
        times: int | None = 1,
        retry_after: str | None = None,
        delay: float = 1.0,
    ) -> FaultRule:
        """Add a rule; the first matching rule with injections left wins."""
        rule = FaultRule(fault, path=path, method=method, times=times, retry_after=retry_after, delay=delay)
        with self._lock:
            self.rules.append(rule)
        return rule

    def limit_rate(
        self, per_second: float, *, path: str = ".*", method: str | None = None, retry_after: str = "1"
    ) -> FaultRule:
        """Let `per_second` matching requests through per second; answer the others 429 + Retry-After, like a
        service quota (e.g. ECR's per-account rate of PutImage)."""
        rule = FaultRule("429", path=path, method=method, times=None, retry_after=retry_after, rate=per_second)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def requests_matching(self, method: str, path_regex: str) -> list[SeenRequest]:
        pattern = re.compile(path_regex)
        with self._lock:
            return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    # ------------------------------------------------------------------ used by the handler

    def _match(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.injected += 1
                    self.injected[rule.fault] += 1
                    self.requests.append(SeenRequest(method, path, rule.fault))
                    return rule
            self.requests.append(SeenRequest(method, path, None))
            return None


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True

    def __getattr__(self, name: str) -> object:
        if name.startswith("do_"):
            return self._proxy
        raise AttributeError(name)

    # ------------------------------------------------------------------ faults

    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _answer_status(self, rule: FaultRule) -> None:
        self._drain_request_body()
        status = rule.status or 503
        body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": f"injected {status}"}]}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 429:
            self.send_header("Retry-After", rule.retry_after or "1")
        elif rule.retry_after is not None:
            self.send_header("Retry-After", rule.retry_after)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # ------------------------------------------------------------------ forwarding

    def _request_body(self) -> Iterator[bytes] | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0:
            return None
        return self._sized_body(length)

    def _sized_body(self, length: int) -> Iterator[bytes]:
        remaining = length
        while remaining:
            chunk = self.rfile.read(min(_COPY_CHUNK, remaining))
            if not chunk:
                raise ConnectionError("client closed the request body early")
            remaining -= len(chunk)
            yield chunk

    def _chunked_body(self) -> Iterator[bytes]:
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def _drain_request_body(self) -> None:
        body = self._request_body()
        if body is not None:
            for _ in body:
                pass

    def _proxy(self) -> None:
        method, path = self.command, self.path
        rule = self.owner._match(method, path)
        if rule is not None and rule.fault == "reset":
            self._reset()
            return
        if rule is not None and rule.status is not None:
            self._answer_status(rule)
            return
        if rule is not None and rule.fault == "slow":
            time.sleep(rule.delay)
        upstream = http.client.HTTPConnection(self.owner.upstream_host, self.owner.upstream_port, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            body = self._request_body()
            chunked = body is not None and "content-length" not in {k.lower() for k in headers}
            upstream.request(method, path, body=body, headers=headers, encode_chunked=chunked)
            response = upstream.getresponse()
            self._relay(response, rule)
        finally:
            upstream.close()

    def _relay(self, response: http.client.HTTPResponse, rule: FaultRule | None) -> None:
        length_header = response.getheader("Content-Length")
        if length_header is None and self.command != "HEAD" and response.status not in (204, 304):
            payload = response.read()
            chunks: Iterator[bytes] | list[bytes] = [payload]
            length = len(payload)
        else:
            length = int(length_header or 0)
            chunks = _iter_response(response) if self.command != "HEAD" else []
        self.send_response_only(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            return
        fault = rule.fault if rule is not None else None
        if fault == "truncate" and length > 0:
            budget = length // 2
            for chunk in chunks:
                self.wfile.write(chunk[:budget])
                budget -= min(budget, len(chunk))
                if budget == 0:
                    break
            self.wfile.flush()
            self._reset()
            return
        first = True
        for chunk in chunks:
            if fault == "corrupt" and first and chunk:
                self.wfile.write(bytes([chunk[0] ^ 0xFF]) + chunk[1:])
                first = False
                continue
            self.wfile.write(chunk)
        self.wfile.flush()


def _iter_response(response: http.client.HTTPResponse) -> Iterator[bytes]:
    while True:
        chunk = response.read(_COPY_CHUNK)
        if not chunk:
            return
        yield chunk
