"""The ECR image-facts adapter, pinned to AWS's documented behaviour with botocore's Stubber.

The response shapes come from the API reference:
https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html
(scan findings and CI runs: tests/unit/test_scan_reader.py, test_ci_runs.py, test_evidence_adapters.py)
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from promoter.aws import EcrImageStore
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
