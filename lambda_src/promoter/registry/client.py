"""A small OCI distribution client over urllib3: manifests, blobs, uploads, tags, referrers.

Every request goes through `_request`, which adds authentication, follows redirects (dropping
`Authorization` when the redirect leaves the registry's host, as presigned S3 URLs require) and
retries 429/5xx/connection faults with exponential backoff and full jitter, honouring
`Retry-After`, within a bounded number of attempts and a bounded total time.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from .auth import Authenticator, ChallengeAuth, EcrAuth, EcrClientFactory
from .errors import (
    AuthenticationFailed,
    BlobNotFound,
    BlobTooLarge,
    DigestMismatch,
    ImageNotFound,
    InvalidReference,
    RegistryError,
    RepositoryNotFound,
    TransientRegistryError,
)
from .manifest import ACCEPT_MANIFESTS, MAX_MANIFEST_BYTES, OCI_INDEX, Descriptor, Manifest, sha256_digest
from .reference import (
    ecr_host_parts,
    is_digest,
    is_loopback_host,
    validate_digest,
    validate_host,
    validate_reference,
    validate_repository_name,
)

log = logging.getLogger("promoter.registry")

USER_AGENT = "ecr-promoter/0.1"
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. `attempts` per request (or per blob transfer), `deadline` seconds in total
    for one request's (or one blob's) retries; delays grow from `base_delay` to `max_delay` with
    full jitter; a `Retry-After` is honoured up to `max_retry_after`. `sleep` is injectable so tests
    can observe the delays without waiting for them."""

    attempts: int = 5
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

    def wait_before_retry(self, attempt: int, deadline: float, retry_after: float | None = None) -> bool:
        """Sleep before try number `attempt + 1`; False when no try is left (count or time)."""
        if attempt + 1 >= self.attempts:
            return False
        pause = self.delay(attempt, retry_after)
        if time.monotonic() + pause >= deadline:
            return False
        if pause > 0:
            self.sleep(pause)
        return True


def _retry_after(value: str | None) -> float | None:
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


def _error_codes(body: bytes) -> tuple[str, ...]:
    try:
        errors = json.loads(body).get("errors") or []
        return tuple(str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code"))
    except (ValueError, AttributeError):
        return ()


@dataclass(frozen=True)
class PutManifestResult:
    digest: str
    subject_indexed: bool  # the registry answered `OCI-Subject`: it maintains the referrers index itself


class RegistryClient:
    """One registry (one base URL). Thread-safe: the copy engine shares it between worker threads."""

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
        self._referrers_api: bool | None = None  # does this registry have the OCI 1.1 referrers API?
        self._lock = threading.Lock()
        self.requests_sent = 0

    # ------------------------------------------------------------------ constructors

    @classmethod
    def for_endpoint(
        cls,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> RegistryClient:
        """A registry at `url` (e.g. `http://127.0.0.1:5000`): anonymous, Basic or Bearer-challenge auth."""
        return cls(url, auth=ChallengeAuth(username, password), retry=retry)

    @classmethod
    def for_host(
        cls,
        host: str,
        ecr_client_factory: EcrClientFactory | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> RegistryClient:
        """`HOST[:PORT]` of a reference: ECR hosts get ECR tokens (boto3, imported only then), loopback
        hosts plain HTTP, every other host HTTPS."""
        validate_host(host)
        ecr = ecr_host_parts(host)
        if ecr is not None:
            return cls(f"https://{host}", auth=EcrAuth(ecr[1], ecr_client_factory), retry=retry)
        scheme = "http" if is_loopback_host(host) else "https"
        return cls(f"{scheme}://{host}", auth=ChallengeAuth(), retry=retry)

    def close(self) -> None:
        self._pool.clear()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RegistryClient({self.base_url!r})"

    def same_registry(self, other: RegistryClient) -> bool:
        return self is other or self.base_url == other.base_url

    # ------------------------------------------------------------------ transport

    def _url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else self.base_url + path_or_url

    def _is_own_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.base_url

    def _fetch_token(self, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            response = self._pool.request("GET", url, headers=headers, redirect=True, retries=False)
        except Urllib3Error as error:
            raise TransientRegistryError(f"token service unreachable: {type(error).__name__}") from None
        return response.status, response.data

    def _request(
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
        """Send one request, with auth, redirects and retries. Statuses other than 401/429/5xx/3xx are
        returned to the caller. `retry=False` is for bodies that cannot be replayed (streamed uploads):
        then a fault raises `TransientRegistryError` at once and the caller restarts the transfer."""
        what = what or f"{method} {path_or_url}"
        origin_url = self._url(path_or_url)
        deadline = time.monotonic() + self.retry.deadline
        attempt = 0
        auth_retried = False
        url = origin_url
        redirects = 0
        while True:
            sent_auth = self.auth.header(scope, self._fetch_token) if self._is_own_origin(url) else None
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
            if status == 401 and self._is_own_origin(url):
                challenge = response.headers.get("WWW-Authenticate")
                _discard(response)
                if not auth_retried and self.auth.on_unauthorized(challenge, scope, sent_auth, self._fetch_token):
                    if not retry:  # a streamed body is spent: the caller restarts the transfer, now authorized
                        raise TransientRegistryError(f"{what} on {self.host}: credentials refreshed", status=401)
                    auth_retried = True
                    url, redirects = origin_url, 0
                    continue
                raise AuthenticationFailed(f"{what}: {self.host} refused the credentials (HTTP 401)", status=401)
            if status in _RETRY_STATUSES:
                retry_after = _retry_after(response.headers.get("Retry-After"))
                body_text = _discard(response)
                if retry and self.retry.wait_before_retry(attempt, deadline, retry_after):
                    attempt += 1
                    url, redirects = origin_url, 0
                    continue
                raise TransientRegistryError(
                    f"{what} on {self.host}: HTTP {status} after {attempt + 1} tries",
                    status=status,
                    codes=_error_codes(body_text),
                )
            if status in _REDIRECTS and method in ("GET", "HEAD") and "Location" in response.headers:
                location = urljoin(url, response.headers["Location"])
                _discard(response)
                redirects += 1
                if redirects > _MAX_REDIRECTS:
                    raise RegistryError(f"{what} on {self.host}: too many redirects", status=status)
                url = location
                continue
            return response

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

    def _fail(self, response: urllib3.BaseHTTPResponse, what: str) -> RegistryError:
        """The error for an unexpected status (the body is read for its error codes)."""
        body = _discard(response)
        codes = _error_codes(body)
        status = response.status
        detail = f" ({', '.join(codes)})" if codes else ""
        if status in (401, 403) or "DENIED" in codes or "UNAUTHORIZED" in codes:
            return AuthenticationFailed(f"{what}: {self.host} denied access (HTTP {status}){detail}", status=status)
        return RegistryError(f"{what}: {self.host} answered HTTP {status}{detail}", status=status, codes=codes)

    # ------------------------------------------------------------------ manifests

    def resolve(self, repository: str, reference: str) -> Descriptor | None:
        """Digest, media type and size of a tag or digest (HEAD), or None when it does not exist."""
        validate_repository_name(repository)
        validate_reference(reference)
        what = f"resolve {repository}:{reference}"
        response = self._request(
            "HEAD",
            f"/v2/{repository}/manifests/{reference}",
            scope=_pull(repository),
            headers={"Accept": ACCEPT_MANIFESTS},
            what=what,
        )
        if response.status == 404:
            return None
        if response.status != 200:
            raise self._fail(response, what)
        digest = response.headers.get("Docker-Content-Digest")
        media_type = (response.headers.get("Content-Type") or "").split(";", 1)[0].strip()
        size = response.headers.get("Content-Length")
        if not digest or not media_type or media_type == "application/json" or size is None:
            # Some registries omit these on HEAD: read the manifest to know for sure.
            try:
                return self.get_manifest(repository, reference).descriptor
            except ImageNotFound:
                return None
        return Descriptor(media_type=media_type, digest=digest, size=int(size))

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest's exact bytes, media type and sha256 digest. The bytes are checked against the
        digest asked for, or else the `Docker-Content-Digest` the registry announced; a body cut short or
        not matching is read again (within the retry policy)."""
        validate_repository_name(repository)
        validate_reference(reference)
        what = f"get manifest {repository}:{reference}"
        deadline = time.monotonic() + self.retry.deadline
        attempt = 0
        while True:
            response = self._request(
                "GET",
                f"/v2/{repository}/manifests/{reference}",
                scope=_pull(repository),
                headers={"Accept": ACCEPT_MANIFESTS},
                stream=True,
                what=what,
            )
            try:
                return self._read_manifest(response, repository, reference, what)
            except (TransientRegistryError, DigestMismatch) as error:
                if not self.retry.wait_before_retry(attempt, deadline):
                    raise
                attempt += 1
                log.debug("%s: %s; reading it again", what, error)

    def _read_manifest(
        self, response: urllib3.BaseHTTPResponse, repository: str, reference: str, what: str
    ) -> Manifest:
        try:
            if response.status == 404:
                _discard(response)
                raise ImageNotFound(f"{self.host}/{repository}:{reference} not found", status=404)
            if response.status != 200:
                raise self._fail(response, what)
            data = _read_limited(response, MAX_MANIFEST_BYTES, what)
        finally:
            _release(response)
        announced = response.headers.get("Docker-Content-Digest") or ""
        expected = reference if is_digest(reference) else (announced if is_digest(announced) else None)
        return Manifest.from_bytes(data, response.headers.get("Content-Type"), expected)

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> PutManifestResult:
        """PUT the exact bytes with their media type under a tag or their digest; the registry must
        answer with the same digest."""
        validate_repository_name(repository)
        validate_reference(reference)
        what = f"put manifest {repository}:{reference}"
        response = self._request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            scope=_push(repository),
            headers={"Content-Type": manifest.media_type},
            body=manifest.data,
            what=what,
        )
        if response.status not in (200, 201):
            raise self._fail(response, what)
        answered = response.headers.get("Docker-Content-Digest")
        if answered and answered != manifest.digest:
            raise DigestMismatch(f"{what}: registry stored {answered}, expected {manifest.digest}")
        return PutManifestResult(manifest.digest, subject_indexed=bool(response.headers.get("OCI-Subject")))

    # ------------------------------------------------------------------ blobs

    def blob_exists(self, repository: str, digest: str) -> bool:
        what = f"check blob {repository}@{digest}"
        response = self._request("HEAD", f"/v2/{repository}/blobs/{digest}", scope=_pull(repository), what=what)
        if response.status == 200:
            return True
        if response.status == 404:
            return False
        raise self._fail(response, what)

    @contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[urllib3.BaseHTTPResponse]:
        """A streaming GET of a blob (redirects followed); read it with `.read(n, decode_content=False)`."""
        what = f"get blob {repository}@{digest}"
        response = self._request(
            "GET", f"/v2/{repository}/blobs/{digest}", scope=_pull(repository), stream=True, what=what
        )
        try:
            if response.status == 404:
                _discard(response)
                raise BlobNotFound(f"blob {digest} not found in {self.host}/{repository}", status=404)
            if response.status != 200:
                raise self._fail(response, what)
            yield response
        finally:
            _release(response)

    def get_blob_bytes(self, repository: str, digest: str, max_size: int = 4 * 1024 * 1024) -> bytes:
        """A small blob (e.g. an image config) in memory, verified against its digest."""
        validate_repository_name(repository)
        validate_digest(digest)
        with self.open_blob(repository, digest) as response:
            data = _read_limited(response, max_size, f"get blob {repository}@{digest}")
        if sha256_digest(data) != digest:
            raise DigestMismatch(f"blob {digest} from {self.host}/{repository} does not match its digest")
        return data

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> str | None:
        """Cross-repository mount. None when mounted (201); else the upload session URL it opened (202)."""
        what = f"mount blob {digest} into {repository} from {from_repository}"
        response = self._request(
            "POST",
            f"/v2/{repository}/blobs/uploads/?mount={digest}&from={from_repository}",
            scope=f"{_push(repository)} {_pull(from_repository)}",
            what=what,
        )
        if response.status == 201:
            return None
        if response.status == 202 and response.headers.get("Location"):
            return urljoin(self.base_url + "/", response.headers["Location"])
        raise self._fail(response, what)

    def start_upload(self, repository: str) -> str:
        what = f"start upload into {repository}"
        response = self._request("POST", f"/v2/{repository}/blobs/uploads/", scope=_push(repository), what=what)
        if response.status != 202 or not response.headers.get("Location"):
            raise self._fail(response, what)
        return urljoin(self.base_url + "/", response.headers["Location"])

    def finish_upload(self, repository: str, location: str, digest: str, size: int, chunks: Iterable[bytes]) -> None:
        """Monolithic PUT of the whole blob into an upload session, streamed from `chunks`. Not retried
        here (a stream cannot be replayed): any fault raises and the caller restarts the transfer."""
        separator = "&" if "?" in location else "?"
        what = f"upload blob {digest} into {repository}"
        response = self._request(
            "PUT",
            f"{location}{separator}digest={digest}",
            scope=_push(repository),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            body=chunks,
            retry=False,
            what=what,
        )
        if response.status not in (201, 204):
            error = self._fail(response, what)
            if response.status == 400 and {"DIGEST_INVALID", "SIZE_INVALID"} & set(error.codes):
                raise DigestMismatch(str(error), status=400, codes=error.codes)
            raise error
        answered = response.headers.get("Docker-Content-Digest")
        if answered and answered != digest:
            raise DigestMismatch(f"{what}: registry stored {answered}")

    def cancel_upload(self, repository: str, location: str) -> None:
        """Best effort: abandon an upload session (registries also expire them)."""
        try:
            response = self._request("DELETE", location, scope=_push(repository), retry=False)
            _discard(response)
        except RegistryError:
            pass

    # ------------------------------------------------------------------ tags and referrers

    def list_tags(self, repository: str, page_size: int | None = None) -> list[str]:
        """Every tag of the repository (following `Link` pagination). Missing repository: RepositoryNotFound."""
        validate_repository_name(repository)
        path: str | None = f"/v2/{repository}/tags/list" + (f"?n={page_size}" if page_size else "")
        tags: list[str] = []
        what = f"list tags of {repository}"
        pages = 0
        while path is not None:
            pages += 1
            if pages > 10_000:
                raise RegistryError(f"{what}: pagination does not end")
            response = self._request("GET", path, scope=_pull(repository), what=what)
            if response.status == 404:
                body = _discard(response)
                raise RepositoryNotFound(
                    f"repository {self.host}/{repository} not found", status=404, codes=_error_codes(body)
                )
            if response.status != 200:
                raise self._fail(response, what)
            try:
                page = json.loads(response.data).get("tags") or []
            except (ValueError, AttributeError):
                raise RegistryError(f"{what}: {self.host} answered something that is not a tag list") from None
            tags.extend(str(tag) for tag in page)
            path = _next_link(response.headers.get("Link"))
        return tags

    def referrers(self, repository: str, digest: str) -> list[Descriptor] | None:
        """Referrers of `digest` via the OCI 1.1 referrers API, or None when the registry has no such API
        (then the caller falls back to the `sha256-<hex>` tag schema)."""
        if self._referrers_api is False:
            return None
        what = f"list referrers of {repository}@{digest}"
        response = self._request(
            "GET",
            f"/v2/{repository}/referrers/{digest}",
            scope=_pull(repository),
            headers={"Accept": OCI_INDEX},
            what=what,
        )
        content_type = (response.headers.get("Content-Type") or "").split(";", 1)[0].strip()
        if response.status != 200 or content_type not in (OCI_INDEX, "application/json"):
            _discard(response)
            if response.status in (401, 403):
                raise self._fail(response, what)
            self._referrers_api = False
            return None
        self._referrers_api = True
        try:
            items = json.loads(response.data).get("manifests") or []
            return [Descriptor.from_json(item) for item in items]
        except (ValueError, AttributeError, RegistryError):
            raise RegistryError(f"{what}: {self.host} answered an unreadable referrers index") from None


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _push(repository: str) -> str:
    return f"repository:{repository}:pull,push"


def _discard(response: urllib3.BaseHTTPResponse) -> bytes:
    """Read what is left of a (small, error) body so the connection can be reused; return it."""
    try:
        data = response.data if response.status >= 300 else b""
        response.drain_conn()
    except (Urllib3Error, OSError):
        data = b""
    response.release_conn()
    return data[:65536]


def _release(response: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back to the pool, or close it when part of the body is still unread
    (a broken transfer): a half-read connection must never serve another request."""
    if response.length_remaining != 0:
        response.close()
    response.release_conn()


def _read_limited(response: urllib3.BaseHTTPResponse, limit: int, what: str) -> bytes:
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


def _next_link(header: str | None) -> str | None:
    """`</v2/x/tags/list?last=a&n=2>; rel="next"` -> `/v2/x/tags/list?last=a&n=2`."""
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
