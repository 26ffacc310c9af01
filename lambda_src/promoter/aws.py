"""AWS control-plane adapters: ECR's API for image facts and scans, CodePipeline for a run's source revision.

Clients are injected (boto3, moto or a Stubber-wrapped client). Error codes are read from the
response, never from message text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from promoter.gates import ScanEvidence
from promoter.images import OciImageStore
from promoter.registry import RegistryClient

_PIPELINE_MISSING = {"PipelineNotFoundException", "PipelineExecutionNotFoundException"}
_MISSING = {"ImageNotFoundException", "RepositoryNotFoundException", "ScanNotFoundException"}
# ECR basic scanning reports COMPLETE; enhanced scanning (Amazon Inspector) keeps the image ACTIVE.
_SCANNED = {"COMPLETE", "ACTIVE"}


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


class EcrScans:
    """ScanSource over ECR's DescribeImageScanFindings."""

    def __init__(self, ecr: Any) -> None:
        self._ecr = ecr

    def scan_of(self, repository: str, digest: str) -> ScanEvidence | None:
        try:
            found = self._ecr.describe_image_scan_findings(repositoryName=repository, imageId={"imageDigest": digest})
        except ClientError as error:
            if _missing(error):
                return None
            raise
        if found.get("imageScanStatus", {}).get("status") not in _SCANNED:
            return None
        findings = found.get("imageScanFindings", {})
        at = findings.get("imageScanCompletedAt") or datetime.now(UTC)
        return ScanEvidence(dict(findings.get("findingSeverityCounts", {})), at)


class PipelineRevisions:
    """The source revisions (commits) of a CodePipeline execution."""

    def __init__(self, codepipeline: Any) -> None:
        self._codepipeline = codepipeline

    def revisions(self, pipeline: str, execution_id: str) -> tuple[str, ...]:
        """The run's revisions; empty when the pipeline or execution no longer exists (nothing to retry)."""
        try:
            execution = self._codepipeline.get_pipeline_execution(
                pipelineName=pipeline, pipelineExecutionId=execution_id
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _PIPELINE_MISSING:
                return ()
            raise
        artifacts = execution.get("pipelineExecution", {}).get("artifactRevisions", [])
        return tuple(dict.fromkeys(str(a["revisionId"]) for a in artifacts if a.get("revisionId")))
