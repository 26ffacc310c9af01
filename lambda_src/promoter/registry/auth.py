"""Registry authentication: anonymous, HTTP Basic, Bearer token challenges, and ECR tokens.

An `Authenticator` gives the `Authorization` header for a request (by scope) and, after a 401,
decides whether one more try is worthwhile (it fetched or refreshed a token). Tokens live only in
memory here: never in an exception message, never in a log line.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from .errors import AuthenticationFailed, TransientRegistryError, error_codes

# (method, url, headers) -> (status, body); supplied by the client so token requests share its pool.
TokenFetcher = Callable[[str, dict[str, str]], tuple[int, bytes]]
EcrClientFactory = Callable[[], Any]  # () -> a boto3 ECR client (for the registry's region)

_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_THROTTLING_CODES = frozenset({"ThrottlingException", "ServerException", "RequestLimitExceeded", "Throttling"})


def parse_challenge(header: str | None) -> tuple[str, dict[str, str]] | None:
    """`Bearer realm="…",service="…",scope="…"` -> ("bearer", {...}); None when absent or unreadable."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme.lower(), params


class Authenticator(Protocol):
    """What the transport asks of an authentication scheme. Optional extras, looked up with `getattr`:
    `on_forbidden(body, sent, probe) -> bool` (a 403 that a token refresh may cure) and
    `describe_refusal(sent) -> str` (how to say, without a secret, what the registry refused)."""

    def header(self, scope: str, fetch: TokenFetcher) -> str | None:
        """The Authorization header value for a request needing `scope`, or None for none."""
        ...

    def on_unauthorized(self, challenge: str | None, scope: str, sent: str | None, fetch: TokenFetcher) -> bool:
        """A request sent with `sent` got a 401 with `challenge`: True if retrying once may now succeed."""
        ...


def describe_refusal(auth: Authenticator, sent: str | None) -> str:
    """`refused the credentials for user u` / `…: no credentials were given`: never the secret itself."""
    describe = getattr(auth, "describe_refusal", None)
    if describe is not None:
        return str(describe(sent))
    return "refused the credentials" if sent is not None else "refused the request: no credentials were given"


class ChallengeAuth:
    """Anonymous until challenged; then Basic (with credentials) or Bearer tokens per scope."""

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self._username = username if username else None
        self._password = password
        self._basic = False
        self._realm: str | None = None
        self._service: str | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _basic_value(self) -> str | None:
        if self._username is None:
            return None
        raw = f"{self._username}:{self._password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def header(self, scope: str, fetch: TokenFetcher) -> str | None:
        with self._lock:
            if self._basic:
                return self._basic_value()
            if self._realm is None:
                return None
            cached = self._tokens.get(scope)
            if cached is not None and cached[1] > time.monotonic():
                return "Bearer " + cached[0]
            return "Bearer " + self._fetch_token(scope, fetch)

    def on_unauthorized(self, challenge: str | None, scope: str, sent: str | None, fetch: TokenFetcher) -> bool:
        parsed = parse_challenge(challenge)
        if parsed is None:
            return False
        scheme, params = parsed
        with self._lock:
            if scheme == "basic":
                if self._username is None or self._basic:
                    return False
                self._basic = True
                return True
            if scheme != "bearer" or "realm" not in params:
                return False
            self._realm = params["realm"]
            self._service = params.get("service")
            self._tokens.pop(scope, None)
            self._fetch_token(scope, fetch, challenge_scope=params.get("scope"))
            return True

    def describe_refusal(self, sent: str | None) -> str:
        if self._username is None:
            return "refused the request: no credentials were given"
        return f"refused the credentials for user {self._username}"

    def _fetch_token(self, scope: str, fetch: TokenFetcher, challenge_scope: str | None = None) -> str:
        assert self._realm is not None
        query: list[tuple[str, str]] = []
        if self._service:
            query.append(("service", self._service))
        for item in {*scope.split(), *(challenge_scope or "").split()}:
            query.append(("scope", item))
        headers = {"Accept": "application/json"}
        basic = self._basic_value()
        if basic is not None:
            headers["Authorization"] = basic
        separator = "&" if "?" in self._realm else "?"
        url = self._realm + (separator + urlencode(sorted(query)) if query else "")
        status, body = fetch(url, headers)
        if status in (429,) or status >= 500:
            raise TransientRegistryError(f"token service answered HTTP {status}", status=status)
        if status != 200:
            service = urlsplit(self._realm).netloc or "token service"
            raise AuthenticationFailed(f"{service} {self.describe_refusal(None)} (HTTP {status})", status=status)
        try:
            document = json.loads(body)
            token = document.get("token") or document.get("access_token")
            expires_in = float(document.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError) as error:
            raise AuthenticationFailed("token service answered something that is not a token") from error
        if not isinstance(token, str) or not token:
            raise AuthenticationFailed("token service answered no token")
        self._tokens[scope] = (token, time.monotonic() + max(expires_in - 10, 1))
        return token


def says_token_expired(body: bytes) -> bool:
    """A 403 body that says the token expired: distribution code `DENIED`, or ECR's own sentence."""
    return "DENIED" in error_codes(body) or b"token has expired" in body.lower()


def _boto3_ecr_client(region: str) -> Any:
    import boto3  # noqa: PLC0415 - only ECR hosts need boto3; loopback copies must not pay for it

    return boto3.client("ecr", region_name=region)


class EcrAuth:
    """`Authorization: Basic <GetAuthorizationToken token>`, cached until shortly before it expires and
    never longer than `max_token_age` (1 h), refreshed once when the registry refuses it.

    ECR refuses an expired token with a 403, not a 401, and sometimes well before `expiresAt` (when the
    role session behind it rotates): amazon-ecr-credential-helper#7 shows the plain-text body "Your
    Authorization Token has expired. Please run 'aws ecr get-login' to fetch a new one.", the Docker
    CLI prints today's JSON shape as "denied: Your authorization token has expired. Reauthenticate and
    try again." (code `DENIED`), and #679 a HEAD answered 403 with no body at all. So a 403 with code
    `DENIED` or that message refreshes the token once; a bodiless 403 (a HEAD) does so only when
    `GET /v2/` with the same token is refused too (a real permission denial is accepted there)."""

    def __init__(
        self,
        region: str,
        client_factory: EcrClientFactory | None = None,
        *,
        refresh_margin: float = 300.0,
        max_token_age: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region = region
        self._factory: EcrClientFactory = client_factory or (lambda: _boto3_ecr_client(region))
        self._client: Any = None
        self._refresh_margin = refresh_margin
        self._max_token_age = max_token_age
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._fetched_at = 0.0
        self._lock = threading.Lock()
        self.tokens_fetched = 0

    def header(self, scope: str, fetch: TokenFetcher) -> str | None:
        with self._lock:
            now = self._clock()
            stale = now >= self._expires_at - self._refresh_margin or now - self._fetched_at >= self._max_token_age
            if self._token is None or stale:
                self._refresh()
            return "Basic " + str(self._token)

    def describe_refusal(self, sent: str | None) -> str:
        return "refused the ECR token for user AWS"

    def on_forbidden(self, body: bytes, sent: str, probe: Callable[[], int]) -> bool:
        """A 403 to a request sent with `sent`: True when the token was (or had just been) refreshed."""
        with self._lock:
            if self._token is not None and sent != "Basic " + self._token:
                return True  # another request already refreshed the token: just retry with the new one
        expired = says_token_expired(body) if body.strip() else probe() in (401, 403)
        if not expired:
            return False
        with self._lock:
            if self._token is None or sent == "Basic " + self._token:
                self._refresh()
            return True

    def on_unauthorized(self, challenge: str | None, scope: str, sent: str | None, fetch: TokenFetcher) -> bool:
        with self._lock:
            if sent is not None and self._token is not None and sent != "Basic " + self._token:
                return True  # another request already refreshed the token: just retry with the new one
            self._refresh()
            return True

    def _refresh(self) -> None:
        if self._client is None:
            self._client = self._factory()
        try:
            response = self._client.get_authorization_token()
        except Exception as error:  # botocore is imported lazily; classify by its error code, not its type
            code = str(getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__))
            if code in _THROTTLING_CODES or type(error).__name__ in {"EndpointConnectionError", "ConnectTimeoutError"}:
                raise TransientRegistryError(f"ECR GetAuthorizationToken failed in {self.region}: {code}") from None
            raise AuthenticationFailed(f"ECR GetAuthorizationToken failed in {self.region}: {code}") from None
        try:
            data = response["authorizationData"][0]
            token = data["authorizationToken"]
            expires = data.get("expiresAt")
        except (KeyError, IndexError, TypeError):
            raise AuthenticationFailed("ECR GetAuthorizationToken answered no authorization data") from None
        if isinstance(expires, datetime):
            expires_at = expires.timestamp()
        elif isinstance(expires, int | float):
            expires_at = float(expires)
        else:
            expires_at = self._clock() + 12 * 3600
        self._token = str(token)
        self._expires_at = expires_at
        self._fetched_at = self._clock()
        self.tokens_fetched += 1
