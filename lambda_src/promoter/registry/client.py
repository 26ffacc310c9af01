"""Distribution verbs on one registry: manifests, blobs, uploads, tags and referrers.

Why a layer of its own (go-containerregistry's `remote/`): each method is one verb of the OCI
distribution spec, and says what its statuses mean (404 = absent, 201 = mounted, ...). How a request
travels (auth, retries, redirects, draining) is `transport.py`'s business; what to copy, and in which
order, is the copy engine's.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import urllib3

from .auth import Authenticator, ChallengeAuth, EcrAuth, EcrClientFactory
from .capabilities import REFERRERS_SUPPORT
from .errors import (
    BlobNotFound,
    DigestMismatch,
    ImageNotFound,
    RegistryError,
    RepositoryNotFound,
    TransientRegistryError,
    error_codes,
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
from .transport import RetryPolicy, Transport, discard, next_link, read_limited, release

if TYPE_CHECKING:
    from .credentials import Credentials

__all__ = ["PutManifestResult", "RegistryClient", "RetryPolicy"]

log = logging.getLogger("promoter.registry")


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
        self.transport = Transport(base_url, auth=auth, retry=retry, pool_size=pool_size)
        self.base_url = self.transport.base_url
        self.host = self.transport.host

    @property
    def auth(self) -> Authenticator:
        return self.transport.auth

    @property
    def retry(self) -> RetryPolicy:
        return self.transport.retry

    @property
    def requests_sent(self) -> int:
        return self.transport.requests_sent

    # ------------------------------------------------------------------ constructors

    @classmethod
    def for_endpoint(
        cls,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        retry: RetryPolicy | None = None,
        credentials: Credentials | None = None,
    ) -> RegistryClient:
        """A registry at `url` (e.g. `http://127.0.0.1:5000`): anonymous, Basic or Bearer-challenge auth,
        with `credentials` (or `username`/`password`) when the registry asks for them."""
        if credentials is not None:
            username, password = credentials.username, credentials.password
        return cls(url, auth=ChallengeAuth(username, password), retry=retry)

    @classmethod
    def for_host(
        cls,
        host: str,
        ecr_client_factory: EcrClientFactory | None = None,
        *,
        retry: RetryPolicy | None = None,
        credentials: Credentials | None = None,
    ) -> RegistryClient:
        """`HOST[:PORT]` of a reference: loopback hosts plain HTTP, every other host HTTPS. `credentials`
        (see `credentials.CredentialSources.resolve`) answer Basic and Bearer-token challenges; without
        them an ECR host gets ECR tokens (boto3, imported only then), any other host goes anonymous."""
        validate_host(host)
        scheme = "http" if is_loopback_host(host) else "https"
        if credentials is not None:
            auth = ChallengeAuth(credentials.username, credentials.password)
            return cls(f"{scheme}://{host}", auth=auth, retry=retry)
        ecr = ecr_host_parts(host)
        if ecr is not None:
            return cls(f"https://{host}", auth=EcrAuth(ecr[1], ecr_client_factory), retry=retry)
        return cls(f"{scheme}://{host}", auth=ChallengeAuth(), retry=retry)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RegistryClient({self.base_url!r})"

    def same_registry(self, other: RegistryClient) -> bool:
        return self is other or self.base_url == other.base_url

    # ------------------------------------------------------------------ manifests

    def resolve(self, repository: str, reference: str) -> Descriptor | None:
        """Digest, media type and size of a tag or digest (HEAD), or None when it does not exist."""
        validate_repository_name(repository)
        validate_reference(reference)
        what = f"resolve {repository}:{reference}"
        response = self.transport.request(
            "HEAD",
            f"/v2/{repository}/manifests/{reference}",
            scope=_pull(repository),
            headers={"Accept": ACCEPT_MANIFESTS},
            what=what,
        )
        if response.status == 404:
            return None
        if response.status != 200:
            raise self.transport.fail(response, what)
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
            response = self.transport.request(
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
                discard(response)
                raise ImageNotFound(f"{self.host}/{repository}:{reference} not found", status=404)
            if response.status != 200:
                raise self.transport.fail(response, what)
            data = read_limited(response, MAX_MANIFEST_BYTES, what)
        finally:
            release(response)
        announced = response.headers.get("Docker-Content-Digest") or ""
        expected = reference if is_digest(reference) else (announced if is_digest(announced) else None)
        return Manifest.from_bytes(data, response.headers.get("Content-Type"), expected)

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> PutManifestResult:
        """PUT the exact bytes with their media type under a tag or their digest; the registry must
        answer with the same digest."""
        validate_repository_name(repository)
        validate_reference(reference)
        what = f"put manifest {repository}:{reference}"
        response = self.transport.request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            scope=_push(repository),
            headers={"Content-Type": manifest.media_type},
            body=manifest.data,
            what=what,
        )
        if response.status not in (200, 201):
            raise self.transport.fail(response, what)
        answered = response.headers.get("Docker-Content-Digest")
        if answered and answered != manifest.digest:
            raise DigestMismatch(f"{what}: registry stored {answered}, expected {manifest.digest}")
        return PutManifestResult(manifest.digest, subject_indexed=bool(response.headers.get("OCI-Subject")))

    # ------------------------------------------------------------------ blobs

    def blob_exists(self, repository: str, digest: str) -> bool:
        what = f"check blob {repository}@{digest}"
        response = self.transport.request(
            "HEAD", f"/v2/{repository}/blobs/{digest}", scope=_pull(repository), what=what
        )
        if response.status == 200:
            return True
        if response.status == 404:
            return False
        raise self.transport.fail(response, what)

    @contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[urllib3.BaseHTTPResponse]:
        """A streaming GET of a blob (redirects followed); read it with `.read(n, decode_content=False)`."""
        what = f"get blob {repository}@{digest}"
        response = self.transport.request(
            "GET", f"/v2/{repository}/blobs/{digest}", scope=_pull(repository), stream=True, what=what
        )
        try:
            if response.status == 404:
                discard(response)
                raise BlobNotFound(f"blob {digest} not found in {self.host}/{repository}", status=404)
            if response.status != 200:
                raise self.transport.fail(response, what)
            yield response
        finally:
            release(response)

    def get_blob_bytes(self, repository: str, digest: str, max_size: int = 4 * 1024 * 1024) -> bytes:
        """A small blob (e.g. an image config) in memory, verified against its digest."""
        validate_repository_name(repository)
        validate_digest(digest)
        with self.open_blob(repository, digest) as response:
            data = read_limited(response, max_size, f"get blob {repository}@{digest}")
        if sha256_digest(data) != digest:
            raise DigestMismatch(f"blob {digest} from {self.host}/{repository} does not match its digest")
        return data

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> str | None:
        """Cross-repository mount. None when mounted (201); else the upload session URL it opened (202)."""
        what = f"mount blob {digest} into {repository} from {from_repository}"
        response = self.transport.request(
            "POST",
            f"/v2/{repository}/blobs/uploads/?mount={digest}&from={from_repository}",
            scope=f"{_push(repository)} {_pull(from_repository)}",
            what=what,
        )
        if response.status == 201:
            return None
        if response.status == 202 and response.headers.get("Location"):
            return self.transport.absolute(response.headers["Location"])
        raise self.transport.fail(response, what)

    def start_upload(self, repository: str) -> str:
        what = f"start upload into {repository}"
        response = self.transport.request(
            "POST", f"/v2/{repository}/blobs/uploads/", scope=_push(repository), what=what
        )
        if response.status != 202 or not response.headers.get("Location"):
            raise self.transport.fail(response, what)
        return self.transport.absolute(response.headers["Location"])

    def finish_upload(self, repository: str, location: str, digest: str, size: int, chunks: Iterable[bytes]) -> None:
        """Monolithic PUT of the whole blob into an upload session, streamed from `chunks`. Not retried
        here (a stream cannot be replayed): any fault raises and the caller restarts the transfer."""
        separator = "&" if "?" in location else "?"
        what = f"upload blob {digest} into {repository}"
        response = self.transport.request(
            "PUT",
            f"{location}{separator}digest={digest}",
            scope=_push(repository),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            body=chunks,
            retry=False,
            what=what,
        )
        if response.status not in (201, 204):
            error = self.transport.fail(response, what)
            if response.status == 400 and {"DIGEST_INVALID", "SIZE_INVALID"} & set(error.codes):
                raise DigestMismatch(str(error), status=400, codes=error.codes)
            raise error
        answered = response.headers.get("Docker-Content-Digest")
        if answered and answered != digest:
            raise DigestMismatch(f"{what}: registry stored {answered}")

    def cancel_upload(self, repository: str, location: str) -> None:
        """Best effort: abandon an upload session (registries also expire them)."""
        try:
            response = self.transport.request("DELETE", location, scope=_push(repository), retry=False)
            discard(response)
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
            response = self.transport.request("GET", path, scope=_pull(repository), what=what)
            if response.status == 404:
                body = discard(response)
                raise RepositoryNotFound(
                    f"repository {self.host}/{repository} not found", status=404, codes=error_codes(body)
                )
            if response.status != 200:
                raise self.transport.fail(response, what)
            try:
                page = json.loads(response.data).get("tags") or []
            except (ValueError, AttributeError):
                raise RegistryError(f"{what}: {self.host} answered something that is not a tag list") from None
            tags.extend(str(tag) for tag in page)
            path = next_link(response.headers.get("Link"))
        return tags

    def referrers(self, repository: str, digest: str, *, max_pages: int = 100) -> list[Descriptor] | None:
        """Referrers of `digest` via the OCI 1.1 referrers API (every page of a `Link`-paginated answer),
        or None when the registry has no such API: then the caller falls back to the `sha256-<hex>` tag
        schema. A host without the API is remembered for the life of the process (`ReferrersSupport`),
        so a warm process does not pay the probe again."""
        validate_repository_name(repository)
        validate_digest(digest)
        if not REFERRERS_SUPPORT.may_have_api(self.base_url):
            return None
        what = f"list referrers of {repository}@{digest}"
        path: str | None = f"/v2/{repository}/referrers/{digest}"
        found: list[Descriptor] = []
        for page in range(max_pages):
            assert path is not None
            response = self.transport.request(
                "GET", path, scope=_pull(repository), headers={"Accept": OCI_INDEX}, what=what
            )
            content_type = (response.headers.get("Content-Type") or "").split(";", 1)[0].strip()
            if response.status != 200 or content_type not in (OCI_INDEX, "application/json"):
                if page > 0 or response.status in (401, 403):
                    raise self.transport.fail(response, what)
                body = discard(response)
                if "NAME_UNKNOWN" in error_codes(body):
                    return None  # the repository is missing, which says nothing about the API
                REFERRERS_SUPPORT.record(self.base_url, has_api=False)
                return None
            REFERRERS_SUPPORT.record(self.base_url, has_api=True)
            try:
                items = json.loads(response.data).get("manifests") or []
                found.extend(Descriptor.from_json(item) for item in items)
            except (ValueError, AttributeError, TypeError, RegistryError):
                raise RegistryError(f"{what}: {self.host} answered an unreadable referrers index") from None
            path = next_link(response.headers.get("Link"))
            if path is None:
                return found
        raise RegistryError(f"{what}: more than {max_pages} pages of referrers")


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _push(repository: str) -> str:
    return f"repository:{repository}:pull,push"
