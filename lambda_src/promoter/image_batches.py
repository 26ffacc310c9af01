"""Bounded walks over many repositories' images, resumable through an opaque cursor.

Why this module exists: one Lambda invocation cannot promise to read 1,000 images (15 minutes at
most, ECR throttling, a copy per qualifying image). The backfill and the bypass audit each take the
next batch of at most N images and hand back a cursor; the CLI follows the backfill's cursor, the
audit stores its own in the ledger. The cursor names the repository (not its index: a repository
created between two invocations must not shift the walk) and the registry's continuation token.

The listing port (`RepositoryImages`, with `ListedImage`/`ImagePage`) is declared here, free of
boto3, so commands and events can name a cursor without importing an AWS SDK; the adapters are in
promoter.adapters.repository_listing.

A cursor is input like any other: it is base64 JSON that anyone can edit, so it is validated field by
field, and a token the registry refuses is reported as a bad cursor, not retried.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from promoter.registry.reference import is_valid_repository_name

CURSOR_VERSION = 1
MAX_CURSOR_CHARS = 16384
# ECR documents no length for nextToken: generous, still bounded.
MAX_TOKEN_CHARS = 8192
# Pages read per batch when a `since` filter skips most of them: the cursor carries on next time.
MAX_PAGES_PER_BATCH = 20


class InvalidPageToken(ValueError):
    """The registry refused a continuation token (forged, or from another repository)."""


@dataclass(frozen=True)
class ListedImage:
    repository: str
    digest: str
    tags: tuple[str, ...] = ()
    pushed_at: datetime | None = None
    media_type: str | None = None


@dataclass(frozen=True)
class ImagePage:
    images: tuple[ListedImage, ...]
    next_token: str | None = None


class RepositoryImages(Protocol):
    def repositories(self, pattern: str) -> list[str]:
        """Repositories whose name matches `pattern` (a name, or a glob with `*`), sorted."""
        ...

    def images(self, repository: str, *, token: str | None, limit: int) -> ImagePage:
        """At most `limit` images of `repository` from `token` on; an empty page for a missing repository."""
        ...


class InvalidCursor(ValueError):
    """The cursor was not written by this function (or was edited); the message says what is wrong."""


@dataclass(frozen=True)
class Cursor:
    repository: str
    token: str | None = None

    def encode(self) -> str:
        body = {"v": CURSOR_VERSION, "repository": self.repository, "token": self.token}
        return base64.urlsafe_b64encode(json.dumps(body, sort_keys=True).encode()).decode()

    @classmethod
    def decode(cls, text: object) -> Cursor:
        if not isinstance(text, str) or not text or len(text) > MAX_CURSOR_CHARS:
            raise InvalidCursor(
                f"cursor must be the non-empty string a previous response returned (<= {MAX_CURSOR_CHARS})"
            )
        try:
            body = json.loads(base64.urlsafe_b64decode(text.encode("ascii")))
        except (UnicodeError, binascii.Error, ValueError):
            raise InvalidCursor("cursor is not one this function returned (not base64 JSON)") from None
        if not isinstance(body, dict) or set(body) != {"v", "repository", "token"} or body["v"] != CURSOR_VERSION:
            raise InvalidCursor("cursor is not one this function returned (unexpected fields or version)")
        repository, token = body["repository"], body["token"]
        if not isinstance(repository, str) or not is_valid_repository_name(repository):
            raise InvalidCursor("cursor names no valid repository")
        if token is not None and (not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS):
            raise InvalidCursor("cursor holds no valid continuation token")
        return cls(repository, token)


@dataclass(frozen=True)
class Batch:
    images: tuple[ListedImage, ...]
    cursor: Cursor | None  # None: the walk is complete
    pages: int = 0


def next_batch(
    lister: RepositoryImages,
    repositories: Sequence[str],
    cursor: Cursor | None,
    *,
    limit: int,
    since: datetime | None = None,
) -> Batch:
    """The next at most `limit` images of `repositories` (walked in name order) after `cursor`.

    `since` keeps images pushed at or after it (DescribeImages has no time filter: pages are read and
    filtered here; an image without a push time is kept, it cannot be shown to be older).
    """
    names = sorted(set(repositories))
    position, token = 0, None
    if cursor is not None:
        position = bisect.bisect_left(names, cursor.repository)
        # A repository deleted since the cursor was written: its token means nothing elsewhere.
        token = cursor.token if position < len(names) and names[position] == cursor.repository else None
    found: list[ListedImage] = []
    pages = 0
    while position < len(names) and len(found) < limit and pages < MAX_PAGES_PER_BATCH:
        try:
            page = lister.images(names[position], token=token, limit=limit - len(found))
        except InvalidPageToken as error:
            raise InvalidCursor(str(error)) from None
        pages += 1
        found += [image for image in page.images if _since(image, since)]
        token = page.next_token
        if token is None:
            position += 1
    rest = Cursor(names[position], token) if position < len(names) else None
    return Batch(tuple(found), rest, pages)


def _since(image: ListedImage, since: datetime | None) -> bool:
    return since is None or image.pushed_at is None or image.pushed_at >= since
