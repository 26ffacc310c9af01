"""EcrScanReader against DescribeImageScanFindings as AWS documents and users observed it.

The Stubber-pinned documented shapes are in the unit test of the same name; these cases use moto where it
models the call correctly.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from promoter.adapters.scans import EcrScanReader, ImageNotInRegistry, ScanState

REPO = "dev-microservice"


def _digest() -> str:
    return "sha256:" + uuid.uuid4().hex * 2


def _push(client: Any, tag: str) -> str:
    manifest = '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []}'
    image = client.put_image(repositoryName=REPO, imageManifest=manifest, imageTag=tag)["image"]
    return str(image["imageId"]["imageDigest"])


@pytest.fixture
def moto_ecr() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("ecr", region_name="us-west-2")
        client.create_repository(repositoryName=REPO)
        yield client


def test_moto_an_image_never_scanned_has_no_scan(moto_ecr: Any) -> None:
    digest = _push(moto_ecr, "v1")
    assert EcrScanReader(moto_ecr).scan_of(REPO, digest) is None


def test_moto_a_scanned_image_is_complete(moto_ecr: Any) -> None:
    digest = _push(moto_ecr, "v2")
    moto_ecr.start_image_scan(repositoryName=REPO, imageId={"imageDigest": digest})
    report = EcrScanReader(moto_ecr).scan_of(REPO, digest)
    assert report is not None
    assert (report.state, report.mode) == (ScanState.COMPLETE, "basic")
    assert report.completed_at is not None


def test_moto_a_missing_image_or_repository_is_a_domain_error(moto_ecr: Any) -> None:
    reader = EcrScanReader(moto_ecr)
    with pytest.raises(ImageNotInRegistry) as no_image:
        reader.scan_of(REPO, _digest())
    with pytest.raises(ImageNotInRegistry) as no_repo:
        reader.scan_of("dev-gone", _digest())
    assert (no_image.value.code, no_repo.value.code) == ("ImageNotFoundException", "RepositoryNotFoundException")
