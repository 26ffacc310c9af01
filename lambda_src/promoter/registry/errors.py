"""Errors raised by the registry client and the copy engine.

Callers branch on the class (and its attributes), never on the message. Messages name the
registry, repository and reference involved, never a token or a credential.
"""

from __future__ import annotations

import json
from collections.abc import Sequence


class RegistryError(Exception):
    """Anything that went wrong talking to a registry. `status` is the last HTTP status, if any;
    `codes` are the distribution error codes of the response body (e.g. `MANIFEST_BLOB_UNKNOWN`)."""

    def __init__(self, message: str, *, status: int | None = None, codes: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.codes = tuple(codes)


class TransientRegistryError(RegistryError):
    """Throttling (429), a 5xx, a reset connection, a timeout or a truncated body that outlasted
    every retry. Worth retrying later: the Lambda re-raises it so Lambda retries the event."""


class InvalidReference(RegistryError, ValueError):
    """A reference, repository name, tag or digest that the OCI grammar does not allow.
    Raised before any request is made."""


class ImageNotFound(RegistryError):
    """The manifest (tag or digest) does not exist in the repository (or the repository does not)."""


class RepositoryNotFound(RegistryError):
    """The repository does not exist (e.g. listing its tags)."""


class BlobNotFound(RegistryError):
    """A blob referenced by a manifest is missing from the source repository."""


class BlobTooLarge(RegistryError):
    """A blob read into memory is larger than the caller allowed."""


class UnsupportedManifest(RegistryError):
    """A manifest kind the copy engine cannot copy byte-exactly (e.g. Docker schema 1)."""


class AuthenticationFailed(RegistryError):
    """The registry refused our credentials (401/403), even after one refresh of the token."""


class DigestMismatch(RegistryError):
    """Content did not match its digest or size (after every retry when it came from a transfer)."""


class TagConflict(RegistryError):
    """The target tag already points to another digest. Nothing was written."""

    def __init__(self, tag: str, existing_digest: str, wanted_digest: str) -> None:
        super().__init__(f"tag {tag!r} already points to {existing_digest}, not {wanted_digest}")
        self.tag = tag
        self.existing_digest = existing_digest
        self.wanted_digest = wanted_digest

    def __reduce__(self) -> tuple[type[TagConflict], tuple[str, str, str]]:
        return (TagConflict, (self.tag, self.existing_digest, self.wanted_digest))


def error_codes(body: bytes) -> tuple[str, ...]:
    """The distribution error codes (`{"errors": [{"code": …}]}`) of a response body."""
    try:
        errors = json.loads(body).get("errors") or []
        return tuple(str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code"))
    except (ValueError, AttributeError, TypeError):
        return ()
