"""HTTP transport for one registry: authentication, retries, redirects and body draining.

Why a layer of its own (go-containerregistry's `transport/`): every distribution verb needs the same
care, and none of it is about manifests or blobs. `Transport.request` adds the `Authorization` header
(only ever to the registry's own origin), answers 401 challenges once, refreshes an ECR token that a
403 says has expired, follows redirects (dropping `Authorization` when a redirect leaves the host, as
presigned S3 URLs require), and retries 429/5xx/connection faults with exponential backoff and full
jitter, honouring `Retry-After`, within a bounded number of attempts and a bounded total time.
Everything else is returned to the caller, whose verb knows what a 404 means.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from .auth import Authenticator, ChallengeAuth, describe_refusal
from .errors import (
    AuthenticationFailed,
    BlobTooLarge,
    InvalidReference,
    RegistryError,
    TransientRegistryError,
    error_codes,
)

log = logging.getLogger("promoter.registry")

USER_AGENT = "ecr-promoter/0.1"
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_MAX_ERROR_BODY = 65536


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. `attempts` per request (or per blob transfer), `deadline` seconds in total
    for one request's (or one blob's) retries; delays grow from `base_delay` to `max_delay` with
    full jitter; a `Retry-After` is honoured up to `max_retry_after`. A throttled request (429) may take
    up to `throttled_attempts` tries within the same deadline: a registry at its rate quota (ECR's
    PutImage during a release burst) is healthy and will take the request shortly, and a retry here
    costs seconds where a failed invocation costs a Lambda re-delivery minutes later. `sleep` is
    injectable so tests can observe the delays without waiting for them."""

    attempts: int = 5
    throttled_attempts: int = 10
    base_delay: float = 0.25
    max_delay: float = 8.0
    deadline: float = 60.0
    max_retry_after: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return random.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))  # noqa: S311 - jitter

    def wait_before_retry(
        self, attempt: int, deadline: float, retry_after: float | None = None, *, throttled: bool = False
    ) -> bool:
        """Sleep before try number `attempt + 1`; False when no try is left (count or time)."""
        if attempt + 1 >= (max(self.attempts, self.throttled_attempts) if throttled else self.attempts):
            return False
        pause = self.delay(attempt, retry_after)
        if time.monotonic() + pause >= deadline:
            return False
        if pause > 0:
            self.sleep(pause)
        return True


class Transport:
    """Requests to one registry origin over one connection pool. Thread-safe."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: Authenticator | None = None,
        retry: RetryPolicy | None = None,
        pool_size: int = 20,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if "@" in parts.netloc:
            raise InvalidReference("a registry endpoint must not carry credentials: pass username= and password=")
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise InvalidReference(f"invalid registry endpoint {base_url!r}: expected http(s)://HOST[:PORT]")
        self.base_url = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        self.auth: Authenticator = auth or ChallengeAuth()
        self.retry = retry or RetryPolicy()
        self._pool = urllib3.PoolManager(
            num_pools=8,
            maxsize=pool_size,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(connect=self.retry.connect_timeout, read=self.retry.read_timeout),
        )
        self._lock = threading.Lock()
        self.requests_sent = 0

    def close(self) -> None:
        self._pool.clear()

    def url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else self.base_url + path_or_url

    def absolute(self, location: str) -> str:
        """A `Location` header made absolute against this registry."""
        return urljoin(self.base_url + "/", location)

    def is_own_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.base_url

    def _fetch_token(self, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            response = self._pool.request("GET", url, headers=headers, redirect=True, retries=False)
        except Urllib3Error as error:
            raise TransientRegistryError(f"token service unreachable: {type(error).__name__}") from None
        return response.status, response.data

    def _probe_base(self, authorization: str | None) -> int:
        """`GET /v2/` with the header a request was refused with: tells an expired token (refused here too)
        from a real permission denial (accepted here) when the refusal itself carried no body (a HEAD)."""
        try:
            response = self._send("GET", self.base_url + "/v2/", authorization, None, body=None, stream=False)
        except (Urllib3Error, OSError):
            return 0
        discard(response)
        return response.status

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        scope: str,
        headers: dict[str, str] | None = None,
        body: bytes | Iterable[bytes] | None = None,
        stream: bool = False,
        retry: bool = True,
        what: str = "",
    ) -> urllib3.BaseHTTPResponse:
        """Send one request, with auth, redirects and retries. Statuses other than 401/429/5xx/3xx (and a
        403 that a token refresh cured) are returned to the caller. `retry=False` is for bodies that cannot
        be replayed (streamed uploads): then a fault raises `TransientRegistryError` at once and the caller
        restarts the transfer."""
        what = what or f"{method} {path_or_url}"
        origin_url = self.url(path_or_url)
        deadline = time.monotonic() + self.retry.deadline
        attempt = 0
        auth_retried = False
        url = origin_url
        redirects = 0
        while True:
            own_origin = self.is_own_origin(url)
            sent_auth = self.auth.header(scope, self._fetch_token) if own_origin else None
            try:
                response = self._send(method, url, sent_auth, headers, body=body, stream=stream)
            except (Urllib3Error, OSError) as error:
                reason = type(error).__name__
                log.debug("%s %s failed: %s (try %d)", method, urlsplit(url).path, reason, attempt + 1)
                if retry and self.retry.wait_before_retry(attempt, deadline):
                    attempt += 1
                    url, redirects = origin_url, 0
                    continue
                raise TransientRegistryError(f"{what} on {self.host}: {reason} after {attempt + 1} tries") from None
            status = response.status
            log.debug("%s %s -> %d", method, urlsplit(url).path, status)
            if own_origin and status in (401, 403) and self._reauthorized(response, scope, sent_auth, auth_retried):
                if not retry:  # a streamed body is spent: the caller restarts the transfer, now authorized
                    raise TransientRegistryError(f"{what} on {self.host}: credentials refreshed", status=status)
                auth_retried = True
                url, redirects = origin_url, 0
                continue
            if own_origin and status == 401:
                refusal = describe_refusal(self.auth, sent_auth)
                raise AuthenticationFailed(f"{what}: {self.host} {refusal} (HTTP 401)", status=401)
            if status in _RETRY_STATUSES:
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                body_text = discard(response)
                throttled = status == 429
                if retry and self.retry.wait_before_retry(attempt, deadline, retry_after, throttled=throttled):
                    attempt += 1
                    url, redirects = origin_url, 0
                    continue
                raise TransientRegistryError(
                    f"{what} on {self.host}: HTTP {status} after {attempt + 1} tries",
                    status=status,
                    codes=error_codes(body_text),
                )
            if status in _REDIRECTS and method in ("GET", "HEAD") and "Location" in response.headers:
                location = urljoin(url, response.headers["Location"])
                discard(response)
                redirects += 1
                if redirects > _MAX_REDIRECTS:
                    raise RegistryError(f"{what} on {self.host}: too many redirects", status=status)
                url = location
                continue
            return response

    def _reauthorized(
        self, response: urllib3.BaseHTTPResponse, scope: str, sent_auth: str | None, auth_retried: bool
    ) -> bool:
        """A 401 or 403 from the registry: True (body consumed) when the authenticator answered the challenge
        or refreshed an expired token, so one more try may succeed. A 401 is consumed either way; a 403
        that no refresh cures is left for the caller's error (its verb knows what it means)."""
        if response.status == 401:
            challenge = response.headers.get("WWW-Authenticate")
            discard(response)
            return not auth_retried and self.auth.on_unauthorized(challenge, scope, sent_auth, self._fetch_token)
        on_forbidden = getattr(self.auth, "on_forbidden", None)
        if on_forbidden is None or sent_auth is None or auth_retried:
            return False
        # Read the error body (urllib3 caches it, so the caller's error still sees it); a HEAD has none.
        body = response.data[:_MAX_ERROR_BODY]
        if not on_forbidden(body, sent_auth, lambda: self._probe_base(sent_auth)):
            return False
        discard(response)
        return True

    def _send(
        self,
        method: str,
        url: str,
        authorization: str | None,
        headers: dict[str, str] | None,
        *,
        body: bytes | Iterable[bytes] | None,
        stream: bool,
    ) -> urllib3.BaseHTTPResponse:
        """One HTTP exchange. `Authorization` is only ever sent to this registry's own origin."""
        send_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        if authorization is not None:
            send_headers["Authorization"] = authorization
        with self._lock:
            self.requests_sent += 1
        return self._pool.request(
            method,
            url,
            headers=send_headers,
            body=body,
            preload_content=not stream,
            decode_content=False,
            redirect=False,
            retries=False,
        )

    def fail(self, response: urllib3.BaseHTTPResponse, what: str) -> RegistryError:
        """The error for an unexpected status (the body is read for its error codes)."""
        body = discard(response)
        codes = error_codes(body)
        status = response.status
        detail = f" ({', '.join(codes)})" if codes else ""
        if status in (401, 403) or "DENIED" in codes or "UNAUTHORIZED" in codes:
            return AuthenticationFailed(f"{what}: {self.host} denied access (HTTP {status}){detail}", status=status)
        return RegistryError(f"{what}: {self.host} answered HTTP {status}{detail}", status=status, codes=codes)


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header (seconds or an HTTP date) in seconds from now; None when absent or unreadable."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def discard(response: urllib3.BaseHTTPResponse) -> bytes:
    """Read what is left of a (small, error) body so the connection can be reused; return it."""
    try:
        data = response.data if response.status >= 300 else b""
        response.drain_conn()
    except (Urllib3Error, OSError):
        data = b""
    response.release_conn()
    return data[:_MAX_ERROR_BODY]


def release(response: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back to the pool, or close it when part of the body is still unread
    (a broken transfer): a half-read connection must never serve another request."""
    if response.length_remaining != 0:
        response.close()
    response.release_conn()


def read_limited(response: urllib3.BaseHTTPResponse, limit: int, what: str) -> bytes:
    """The whole body, refusing more than `limit` bytes (declared or received) with `BlobTooLarge`."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BlobTooLarge(f"{what}: {declared} bytes is more than the {limit} allowed")
    parts: list[bytes] = []
    total = 0
    try:
        while True:
            chunk = response.read(65536, decode_content=False)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise BlobTooLarge(f"{what}: more than the {limit} bytes allowed")
            parts.append(chunk)
    except (Urllib3Error, OSError) as error:
        raise TransientRegistryError(f"{what}: body interrupted ({type(error).__name__})") from None
    return b"".join(parts)


def next_link(header: str | None) -> str | None:
    """`</v2/x/tags/list?last=a&n=2>; rel="next"` -> `/v2/x/tags/list?last=a&n=2` (OCI pagination)."""
    if not header:
        return None
    for part in header.split(","):
        if 'rel="next"' in part or "rel=next" in part:
            start, end = part.find("<"), part.find(">")
            if 0 <= start < end:
                target = part[start + 1 : end].strip()
                if "://" in target:
                    parts = urlsplit(target)
                    target = parts.path + (f"?{parts.query}" if parts.query else "")
                return target
    return None
