"""A local stand-in for Amazon ECR replication with a `PREFIX_MATCH` repository filter.

The CDK source stack deploys a replication rule whose only filter is a repository-name prefix
(`replication_prefix` in cdk.json, `prod-`). This module applies the same rule between two local
registries ("dev account" → "production account"): every repository of the source registry whose
name starts with the prefix is copied, image by image, by digest with its tags, into the repository
of the same name in the destination registry; every other repository stays where it is.

Like ECR replication it is prefix matching, nothing more (`prod-foo` also matches `prod-foobar`), and
a destination tag that already holds another digest is not moved (reported as an error for that
image). Untagged images are not listed by the OCI API, so only tagged images are replicated here.
The copy itself is the product's copy engine (`promoter.registry.copy_image`) across registries.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urljoin

from promoter.registry import CopyResult, RegistryClient, RegistryError, copy_image

CATALOG_PAGE = 100
_MAX_PAGES = 1000


@dataclass(frozen=True)
class ReplicatedImage:
    """One image (digest) of one matching repository and what replicating it did."""

    repository: str
    digest: str
    tags: tuple[str, ...]
    result: CopyResult | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ReplicationReport:
    prefix: str
    replicated_repositories: list[str] = field(default_factory=list)  # matched the prefix
    skipped_repositories: list[str] = field(default_factory=list)  # did not match: stay in the source
    images: list[ReplicatedImage] = field(default_factory=list)

    @property
    def errors(self) -> list[ReplicatedImage]:
        return [image for image in self.images if not image.ok]

    @property
    def bytes_moved(self) -> int:
        return sum(image.result.bytes_moved for image in self.images if image.result is not None)

    @property
    def new_images(self) -> list[ReplicatedImage]:
        """Images this run wrote into the destination (not already there)."""
        return [image for image in self.images if image.result is not None and not image.result.already_present]


def _next_link(header: str | None) -> str | None:
    """`</v2/_catalog?last=x&n=100>; rel="next"` -> `/v2/_catalog?last=x&n=100`."""
    if not header:
        return None
    for part in header.split(","):
        if "rel=" in part and "next" in part:
            start, end = part.find("<"), part.find(">")
            if 0 <= start < end:
                return part[start + 1 : end].strip()
    return None


def list_repositories(registry_url: str, page_size: int = CATALOG_PAGE) -> list[str]:
    """Every repository of the registry, from `GET /v2/_catalog` (following `Link` pagination)."""
    base = registry_url.rstrip("/")
    url: str | None = f"{base}/v2/_catalog?n={page_size}"
    names: list[str] = []
    for _ in range(_MAX_PAGES):
        if url is None:
            return sorted(set(names))
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read()
                link = response.headers.get("Link")
        except urllib.error.HTTPError as error:
            raise RegistryError(f"GET {url}: HTTP {error.code}", status=error.code) from None
        except (urllib.error.URLError, OSError) as error:
            raise RegistryError(f"GET {url}: {error}") from None
        try:
            names.extend(str(name) for name in json.loads(body).get("repositories") or [])
        except (ValueError, AttributeError):
            raise RegistryError(f"GET {url}: not a repository catalog") from None
        following = _next_link(link)
        url = urljoin(base + "/", following) if following else None
    raise RegistryError(f"{base}/v2/_catalog: pagination does not end")


def matches(repository: str, prefix: str) -> bool:
    """ECR's PREFIX_MATCH: a plain string prefix of the repository name."""
    return repository.startswith(prefix)


def _images_by_digest(client: RegistryClient, repository: str) -> dict[str, list[str]]:
    """digest -> its tags, for every tag of `repository` (in tag order)."""
    grouped: dict[str, list[str]] = {}
    for tag in sorted(client.list_tags(repository)):
        found = client.resolve(repository, tag)
        if found is not None:
            grouped.setdefault(found.digest, []).append(tag)
    return grouped


def replicate(source_url: str, destination_url: str, prefix: str) -> ReplicationReport:
    """Apply one PREFIX_MATCH replication rule from the source registry to the destination registry.

    Idempotent: an image already in the destination with its tags is reported `already_present`.
    Errors of one image (e.g. a tag conflict) are recorded on it and do not stop the others.
    """
    if not prefix:
        raise ValueError("the replication prefix must not be empty (ECR requires a filter value)")
    report = ReplicationReport(prefix=prefix)
    with RegistryClient.for_endpoint(source_url) as source, RegistryClient.for_endpoint(destination_url) as target:
        for repository in list_repositories(source_url):
            if not matches(repository, prefix):
                report.skipped_repositories.append(repository)
                continue
            report.replicated_repositories.append(repository)
            for digest, tags in _images_by_digest(source, repository).items():
                try:
                    result = copy_image(source, repository, digest, target, repository, tags)
                except RegistryError as error:
                    report.images.append(ReplicatedImage(repository, digest, tuple(tags), error=str(error)))
                    continue
                report.images.append(ReplicatedImage(repository, digest, tuple(tags), result=result))
    return report
