"""Listing what a registry holds: repositories matching a policy pattern, and their images page by page.

Why this module exists: the backfill (every image of every source repository) and the bypass audit
(every image of every target repository) both walk whole repositories, which can hold thousands of
images, within one Lambda invocation's budget. They need pages whose size they choose and a
continuation token they can store; this is the one place that knows how each registry pages.

- ECR: `DescribeRepositories` (paginated) for the names, `DescribeImages` with `maxResults`
  (1-1000) and `nextToken` for the images (API reference, DescribeImages: "nextToken ... returned
  from a previous paginated DescribeImages request where maxResults was used"). It lists untagged
  manifests too (platform images of an index, referrers pushed without a tag) and `imagePushedAt`.
- A plain OCI registry (local mode): `/v2/_catalog` for the names and `tags/list` + a HEAD per tag
  for the images; untagged manifests are invisible there, and there is no push time.

IAM: `ecr:DescribeRepositories` and `ecr:DescribeImages` on the repositories walked (and
`ecr:BatchGetImage` for `EcrManifests`, which the audit reads referrers' `subject` with).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from promoter.image_batches import ImagePage, InvalidPageToken, ListedImage
from promoter.registry import RegistryClient
from promoter.registry.errors import RegistryError, RepositoryNotFound
from promoter.registry.manifest import MANIFEST_MEDIA_TYPES, Manifest
from promoter.registry.transport import discard, next_link

# DescribeImages maxResults range (API reference: "between 1 and 1000").
MAX_PAGE = 1000
# A catalog or repository listing that never ends is a fault, not a big registry.
MAX_LISTING_PAGES = 1000


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class EcrRepositoryImages:
    """RepositoryImages over ECR's control plane; `ecr` is a boto3 ECR client (moto, Stubber or real)."""

    def __init__(self, ecr: Any) -> None:
        self._ecr = ecr

    def repositories(self, pattern: str) -> list[str]:
        if "*" not in pattern:
            return [pattern]
        names: list[str] = []
        request: dict[str, Any] = {"maxResults": MAX_PAGE}
        for _ in range(MAX_LISTING_PAGES):
            page = self._ecr.describe_repositories(**request)
            names += [repo["repositoryName"] for repo in page.get("repositories", [])]
            if not page.get("nextToken"):
                return sorted(name for name in names if fnmatch.fnmatchcase(name, pattern))
            request["nextToken"] = page["nextToken"]
        raise RuntimeError("DescribeRepositories pagination does not end")

    def images(self, repository: str, *, token: str | None, limit: int) -> ImagePage:
        """One page of DescribeImages, never more than `limit` images, whatever size the page comes back.

        ECR honours `maxResults`; moto 5.2.5 ignores it and returns every image at once. So the token
        this adapter hands out is ECR's `nextToken` plus how many images of that page were already
        taken: a page larger than asked for is served in slices instead of being cut short.
        """
        upstream, skip = _read_token(token)
        limit = max(1, min(limit, MAX_PAGE))
        request: dict[str, Any] = {"repositoryName": repository, "maxResults": min(skip + limit, MAX_PAGE)}
        if upstream:
            request["nextToken"] = upstream
        try:
            page = self._ecr.describe_images(**request)
        except ClientError as error:
            if _code(error) == "RepositoryNotFoundException":
                return ImagePage(())
            if upstream and _code(error) == "InvalidParameterException":
                raise InvalidPageToken(f"ECR refused the continuation token for {repository}") from None
            raise
        details = page.get("imageDetails", [])
        images = tuple(
            ListedImage(
                repository=repository,
                digest=detail["imageDigest"],
                tags=tuple(detail.get("imageTags", ())),
                pushed_at=detail.get("imagePushedAt"),
                media_type=detail.get("imageManifestMediaType"),
            )
            for detail in details[skip : skip + limit]
        )
        if skip + limit < len(details):
            return ImagePage(images, _write_token(upstream, skip + limit))
        following = page.get("nextToken") or None
        return ImagePage(images, _write_token(following, 0) if following else None)


def _write_token(upstream: str | None, skip: int) -> str:
    return json.dumps({"next": upstream, "skip": skip}, sort_keys=True)


def _read_token(token: str | None) -> tuple[str | None, int]:
    if token is None:
        return None, 0
    try:
        body = json.loads(token)
    except ValueError:
        raise InvalidPageToken("not a DescribeImages continuation token this function wrote") from None
    if not isinstance(body, dict) or set(body) != {"next", "skip"}:
        raise InvalidPageToken("not a DescribeImages continuation token this function wrote")
    upstream, skip = body["next"], body["skip"]
    if not (upstream is None or isinstance(upstream, str)) or not isinstance(skip, int) or not 0 <= skip < MAX_PAGE:
        raise InvalidPageToken("not a DescribeImages continuation token this function wrote")
    return upstream, skip


class OciRepositoryImages:
    """RepositoryImages over the OCI distribution API (local mode). The token is an offset into the sorted
    tags: tag order is the registry's, and an offset is all a resumed walk needs."""

    def __init__(self, client: RegistryClient) -> None:
        self._client = client

    def repositories(self, pattern: str) -> list[str]:
        if "*" not in pattern:
            return [pattern]
        transport = self._client.transport
        path: str | None = "/v2/_catalog?n=1000"
        names: list[str] = []
        for _ in range(MAX_LISTING_PAGES):
            if path is None:
                return sorted(name for name in names if fnmatch.fnmatchcase(name, pattern))
            response = transport.request("GET", path, scope="registry:catalog:*", what="list repositories")
            if response.status != 200:
                raise transport.fail(response, "list repositories")
            names += [str(name) for name in json.loads(response.data).get("repositories") or []]
            path = next_link(response.headers.get("Link"))
        discard(response)
        raise RegistryError("list repositories: pagination does not end")

    def images(self, repository: str, *, token: str | None, limit: int) -> ImagePage:
        start = _offset(token)
        try:
            tags = sorted(self._client.list_tags(repository))
        except RepositoryNotFound:
            return ImagePage(())
        window = tags[start : start + max(1, limit)]
        by_digest: dict[str, list[str]] = {}
        for tag in window:
            found = self._client.resolve(repository, tag)
            if found is not None:
                by_digest.setdefault(found.digest, []).append(tag)
        images = tuple(ListedImage(repository, digest, tuple(held)) for digest, held in by_digest.items())
        after = start + len(window)
        return ImagePage(images, str(after) if after < len(tags) else None)


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    if not token.isdigit() or len(token) > 9:
        raise InvalidPageToken(f"not a tag offset: {token[:40]!r}")
    return int(token)


@dataclass
class InMemoryRepositoryImages:
    """RepositoryImages over {repository: [ListedImage, ...]}; the token is an offset. Counts calls."""

    held: dict[str, list[ListedImage]] = field(default_factory=dict)
    calls: int = 0

    def add(self, image: ListedImage) -> ListedImage:
        self.held.setdefault(image.repository, []).append(image)
        return image

    def repositories(self, pattern: str) -> list[str]:
        if "*" not in pattern:
            return [pattern]
        return sorted(name for name in self.held if fnmatch.fnmatchcase(name, pattern))

    def images(self, repository: str, *, token: str | None, limit: int) -> ImagePage:
        self.calls += 1
        held = self.held.get(repository, [])
        start = _offset(token)
        window = held[start : start + max(1, min(limit, MAX_PAGE))]
        after = start + len(window)
        return ImagePage(tuple(window), str(after) if after < len(held) else None)


class EcrManifests:
    """Manifests read through ECR's control plane (BatchGetImage): no registry token, one call per image.

    API reference, BatchGetImage: `acceptedMediaTypes` says which manifest types the caller takes;
    a missing image is a `failures` entry (failureCode ImageNotFound), not an error. moto 5.2.5 ignores
    `acceptedMediaTypes` and its digests are not the manifest's sha256, so the bytes are not checked
    against the listed digest here (the audit only reads `subject`, layers and children).
    IAM: `ecr:BatchGetImage` on the target repositories.
    """

    def __init__(self, ecr: Any) -> None:
        self._ecr = ecr

    def manifest(self, repository: str, digest: str) -> Manifest | None:
        try:
            answer = self._ecr.batch_get_image(
                repositoryName=repository,
                imageIds=[{"imageDigest": digest}],
                acceptedMediaTypes=list(MANIFEST_MEDIA_TYPES),
            )
        except ClientError as error:
            if _code(error) in {"RepositoryNotFoundException", "ImageNotFoundException"}:
                return None
            raise
        images = answer.get("images") or []
        if not images or "imageManifest" not in images[0]:
            return None
        found = images[0]
        return Manifest.from_bytes(found["imageManifest"].encode(), found.get("imageManifestMediaType"))
