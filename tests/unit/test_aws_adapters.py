"""ECR and CodePipeline adapters, pinned to AWS's documented behaviour with botocore's Stubber.

moto diverges here (no scan findings for pushed images, no GetPipelineExecution revisions), so the
real response shapes come from the API references:
https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html
https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImageScanFindings.html
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetPipelineExecution.html
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from promoter.aws import EcrImageStore, EcrScans, PipelineRevisions
from promoter.registry import RegistryClient

DIGEST = "sha256:" + "c" * 64


@pytest.fixture
def ecr() -> Iterator[tuple[EcrImageStore, Stubber]]:
    client = boto3.client("ecr", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")
    registry = RegistryClient.for_endpoint("http://127.0.0.1:9")  # never contacted by these reads
    with Stubber(client) as stubber:
        yield EcrImageStore(registry, client), stubber
        stubber.assert_no_pending_responses()


def test_tags_of_a_digest_come_from_describe_images(ecr: tuple[EcrImageStore, Stubber]) -> None:
    store, stubber = ecr
    stubber.add_response(
        "describe_images",
        {"imageDetails": [{"imageDigest": DIGEST, "imageTags": ["v1.0.0", "latest"], "repositoryName": "dev-a"}]},
        {"repositoryName": "dev-a", "imageIds": [{"imageDigest": DIGEST}]},
    )

    assert store.tags_of("dev-a", DIGEST) == ("v1.0.0", "latest")


def test_a_missing_image_is_none_not_an_error(ecr: tuple[EcrImageStore, Stubber]) -> None:
    store, stubber = ecr
    stubber.add_client_error("describe_images", service_error_code="ImageNotFoundException", http_status_code=400)
    stubber.add_client_error("describe_images", service_error_code="RepositoryNotFoundException", http_status_code=400)

    assert store.tags_of("dev-a", DIGEST) is None
    assert store.digest_for_tag("dev-gone", "v1") is None


def test_throttling_is_not_swallowed(ecr: tuple[EcrImageStore, Stubber]) -> None:
    from botocore.exceptions import ClientError

    store, stubber = ecr
    stubber.add_client_error("describe_images", service_error_code="ThrottlingException", http_status_code=400)

    with pytest.raises(ClientError):
        store.tags_of("dev-a", DIGEST)


def test_completed_basic_scan_gives_severity_counts(ecr: tuple[EcrImageStore, Stubber]) -> None:
    store, stubber = ecr
    scans = EcrScans(store._ecr)
    done = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    stubber.add_response(
        "describe_image_scan_findings",
        {
            "imageScanStatus": {"status": "COMPLETE"},
            "imageScanFindings": {"findingSeverityCounts": {"CRITICAL": 1}, "imageScanCompletedAt": done},
        },
        {"repositoryName": "dev-a", "imageId": {"imageDigest": DIGEST}},
    )

    scan = scans.scan_of("dev-a", DIGEST)

    assert scan is not None and scan.severity_counts == {"CRITICAL": 1} and scan.at == done


def test_scan_in_progress_or_absent_is_no_evidence(ecr: tuple[EcrImageStore, Stubber]) -> None:
    store, stubber = ecr
    scans = EcrScans(store._ecr)
    stubber.add_response("describe_image_scan_findings", {"imageScanStatus": {"status": "IN_PROGRESS"}})
    stubber.add_client_error("describe_image_scan_findings", service_error_code="ScanNotFoundException")

    assert scans.scan_of("dev-a", DIGEST) is None
    assert scans.scan_of("dev-a", DIGEST) is None


def test_pipeline_revisions_come_from_the_execution_artifacts() -> None:
    client = boto3.client("codepipeline", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(client) as stubber:
        stubber.add_response(
            "get_pipeline_execution",
            {
                "pipelineExecution": {
                    "pipelineName": "app",
                    "pipelineExecutionId": "e-1",
                    "status": "Succeeded",
                    "artifactRevisions": [
                        {"name": "Source", "revisionId": "4f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6"},
                        {"name": "Config", "revisionId": "4f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6"},
                    ],
                }
            },
            {"pipelineName": "app", "pipelineExecutionId": "e-1"},
        )

        assert PipelineRevisions(client).revisions("app", "e-1") == ("4f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6",)


def test_a_vanished_pipeline_execution_has_no_revisions_rather_than_failing() -> None:
    client = boto3.client("codepipeline", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_pipeline_execution", service_error_code="PipelineNotFoundException")

        assert PipelineRevisions(client).revisions("gone", "e-1") == ()
