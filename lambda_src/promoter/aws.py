"""ECR's control-plane API for image facts: which tags a digest has, which digest a tag names.

Clients are injected (boto3, moto or a Stubber-wrapped client). Error codes are read from the
response, never from message text.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from promoter.images import OciImageStore
from promoter.registry import RegistryClient

_MISSING = {"ImageNotFoundException", "RepositoryNotFoundException"}


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _MISSING


class EcrImageStore(OciImageStore):
    """ImageStore for this account's ECR: reads through the ECR API, copies through the OCI endpoint."""

    def __init__(self, client: RegistryClient, ecr: Any) -> None:
        super().__init__(client)
        self._ecr = ecr

    def _describe(self, repository: str, image_id: dict[str, str]) -> dict[str, Any] | None:
        try:
            details = self._ecr.describe_images(repositoryName=repository, imageIds=[image_id])["imageDetails"]
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return details[0] if details else None

    def digest_for_tag(self, repository: str, tag: str) -> str | None:
        detail = self._describe(repository, {"imageTag": tag})
        return str(detail["imageDigest"]) if detail else None

    def tags_of(self, repository: str, digest: str) -> tuple[str, ...] | None:
        detail = self._describe(repository, {"imageDigest": digest})
        return tuple(detail.get("imageTags", ())) if detail else None
