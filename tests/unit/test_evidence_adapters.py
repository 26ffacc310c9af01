"""The evidence adapters as the service sees them: "no such run / image" is an answer, not an exception;
and an index's platform images are read from its manifest with attestations skipped.

Error codes: DescribeImageScanFindings (ImageNotFoundException), GetPipelineExecution
(PipelineExecutionNotFoundException), BatchGetBuilds (`buildsNotFound`), per their API references.
buildx attestation manifests: docker buildx docs "Attestation storage" (platform unknown/unknown,
annotation vnd.docker.reference.type: attestation-manifest).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from promoter.adapters.evidence import CodeBuildRuns, CodePipelineRuns, EcrScans
from promoter.images import platform_images
from promoter.registry.manifest import OCI_INDEX, Manifest
from promoter.scan_evidence import FAILED, from_reading
from tests.unit.fakes import NOW, new_digest


def _client(service: str) -> object:
    return boto3.client(service, region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")


@pytest.fixture
def stubbed(request: pytest.FixtureRequest) -> Iterator[tuple[object, Stubber]]:
    client = _client(request.param)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize("stubbed", ["ecr"], indirect=True)
def test_a_platform_image_gone_from_the_registry_is_a_scan_that_never_completes(
    stubbed: tuple[object, Stubber],
) -> None:
    client, stubber = stubbed
    digest = new_digest()
    stubber.add_client_error("describe_image_scan_findings", service_error_code="ImageNotFoundException")

    reading = EcrScans(lambda: client).scan_of("dev-a", digest)

    assert reading is not None and reading.state == FAILED
    assert from_reading(digest, reading, NOW).scan is not None


@pytest.mark.parametrize("stubbed", ["codepipeline"], indirect=True)
def test_a_missing_pipeline_execution_is_none(stubbed: tuple[object, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error("get_pipeline_execution", service_error_code="PipelineExecutionNotFoundException")

    assert CodePipelineRuns(lambda: client).confirm("release", "exec-1") is None


@pytest.mark.parametrize("stubbed", ["codebuild"], indirect=True)
def test_a_build_in_builds_not_found_is_none_and_a_found_one_is_confirmed(stubbed: tuple[object, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("batch_get_builds", {"builds": [], "buildsNotFound": ["app:1"]}, {"ids": ["app:1"]})
    stubber.add_response(
        "batch_get_builds",
        {"builds": [{"id": "app:2", "buildStatus": "SUCCEEDED", "resolvedSourceVersion": "4f1c2d3e"}]},
        {"ids": ["app:2"]},
    )
    runs = CodeBuildRuns(lambda: client)

    missing = runs.confirm("app:1")
    found = runs.confirm("arn:aws:codebuild:us-west-2:111122223333:build/app:2")

    assert missing is None
    assert found is not None and found.succeeded and found.revisions == ("4f1c2d3e",)


def test_clients_are_created_only_when_first_needed() -> None:
    created: list[str] = []

    EcrScans(lambda: created.append("ecr"))
    CodePipelineRuns(lambda: created.append("codepipeline"))
    CodeBuildRuns(lambda: created.append("codebuild"))

    assert created == []


def test_an_index_lists_its_platform_images_without_attestations() -> None:
    amd64, arm64, attestation, unknown = new_digest(), new_digest(), new_digest(), new_digest()
    manifest = "application/vnd.oci.image.manifest.v1+json"
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": manifest, "digest": amd64, "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": manifest, "digest": arm64, "size": 1, "platform": {"os": "linux", "architecture": "arm64"}},
            {
                "mediaType": manifest,
                "digest": attestation,
                "size": 1,
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {
                    "vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": amd64,
                },
            },
            {
                "mediaType": manifest,
                "digest": unknown,
                "size": 1,
                "platform": {"os": "unknown", "architecture": "unknown"},
            },
        ],
    }

    index = Manifest.from_bytes(json.dumps(document).encode(), OCI_INDEX)

    assert platform_images(index) == (amd64, arm64)


def test_a_single_image_has_no_platform_children() -> None:
    document = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": new_digest(), "size": 2},
        "layers": [],
    }

    single = Manifest.from_bytes(json.dumps(document).encode(), "application/vnd.oci.image.manifest.v1+json")

    assert platform_images(single) == ()
