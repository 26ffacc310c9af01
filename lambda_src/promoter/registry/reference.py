"""Image references `HOST[:PORT]/REPO[:TAG][@DIGEST]`, validated by the OCI distribution grammar.

Everything here is pure: a bad reference fails with `InvalidReference` before any request.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from .errors import InvalidReference

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}")
_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_HOST_RE = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?")
_ECR_HOST_RE = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9])\.amazonaws\.com(?:\.cn)?"
)

# ECR CreateRepository: repositoryName length 2-256 (ECR API reference); the one limit every validator uses.
MAX_REPOSITORY_LENGTH = 256


def validate_repository_name(name: str) -> str:
    """Return `name` if it is a valid OCI repository name (lowercase path components), else raise."""
    if not isinstance(name, str) or not name:
        raise InvalidReference("repository name is empty")
    if len(name) > MAX_REPOSITORY_LENGTH:
        raise InvalidReference(f"repository name is longer than {MAX_REPOSITORY_LENGTH} characters")
    if not _REPOSITORY_RE.fullmatch(name):
        raise InvalidReference(
            f"invalid repository name {name!r}: lowercase letters, digits and single separators (. _ __ -) "
            "between them, components joined by '/'"
        )
    return name


def is_valid_repository_name(name: str) -> bool:
    try:
        validate_repository_name(name)
    except InvalidReference:
        return False
    return True


def is_valid_tag(tag: str) -> bool:
    return isinstance(tag, str) and bool(_TAG_RE.fullmatch(tag))


def validate_tag(tag: str) -> str:
    """Return `tag` if it matches `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, else raise."""
    if not isinstance(tag, str) or not _TAG_RE.fullmatch(tag):
        raise InvalidReference(f"invalid tag {tag!r}: [A-Za-z0-9_] then up to 127 of [A-Za-z0-9._-]")
    return tag


def validate_digest(digest: str) -> str:
    """Return `digest` if it is `sha256:` + 64 lowercase hex digits, else raise."""
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        raise InvalidReference(f"invalid digest {digest!r}: expected sha256: followed by 64 lowercase hex digits")
    return digest


def validate_reference(reference: str) -> str:
    """A tag or a digest (what goes after `/manifests/`)."""
    if isinstance(reference, str) and reference.startswith("sha256:"):
        return validate_digest(reference)
    return validate_tag(reference)


def is_digest(reference: str) -> bool:
    return bool(_DIGEST_RE.fullmatch(reference))


def validate_host(host: str) -> str:
    if not isinstance(host, str) or not _HOST_RE.fullmatch(host):
        raise InvalidReference(f"invalid registry host {host!r}")
    port = host.rsplit(":", 1)[1] if re.search(r":[0-9]+$", host) and not host.endswith("]") else None
    if port is not None and not 0 < int(port) < 65536:
        raise InvalidReference(f"invalid port in registry host {host!r}")
    return host


def host_without_port(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.index("]")]
    return host.rsplit(":", 1)[0] if ":" in host else host


def is_loopback_host(host: str) -> bool:
    """`localhost`, 127.0.0.0/8 and ::1, with or without a port: these speak plain HTTP."""
    name = host_without_port(host)
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def ecr_host_parts(host: str) -> tuple[str, str] | None:
    """(account, region) of an ECR registry host `<acct>.dkr.ecr.<region>.amazonaws.com`, else None."""
    match = _ECR_HOST_RE.fullmatch(host_without_port(host).lower())
    return (match["account"], match["region"]) if match else None


@dataclass(frozen=True)
class ImageReference:
    """`host/repository[:tag][@digest]`; `reference` is what to ask the registry for (digest wins)."""

    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        validate_host(self.host)
        validate_repository_name(self.repository)
        if self.tag is not None:
            validate_tag(self.tag)
        if self.digest is not None:
            validate_digest(self.digest)

    @property
    def reference(self) -> str | None:
        """The digest when there is one, else the tag, else None."""
        return self.digest or self.tag

    def __str__(self) -> str:
        text = f"{self.host}/{self.repository}"
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str) -> ImageReference:
    """Parse `HOST[:PORT]/REPO[:TAG][@DIGEST]`. The host is required (no implicit docker.io)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidReference("empty image reference")
    if text != text.strip() or any(ch.isspace() for ch in text):
        raise InvalidReference(f"invalid image reference {text!r}: contains whitespace")
    remainder = text
    digest: str | None = None
    if "@" in remainder:
        remainder, digest = remainder.split("@", 1)
        validate_digest(digest)
    if "/" not in remainder:
        raise InvalidReference(f"invalid image reference {text!r}: expected HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]")
    host, path = remainder.split("/", 1)
    host_name = host_without_port(host) if _HOST_RE.fullmatch(host) else host
    if not ("." in host_name or ":" in host or host_name == "localhost" or host.startswith("[")):
        raise InvalidReference(
            f"invalid image reference {text!r}: the first component {host!r} is not a registry host "
            "(expected HOST[:PORT]/REPOSITORY, e.g. 127.0.0.1:5000/dev-app:v1)"
        )
    validate_host(host)
    tag: str | None = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        validate_tag(tag)
    validate_repository_name(path)
    return ImageReference(host=host, repository=path, tag=tag, digest=digest)
