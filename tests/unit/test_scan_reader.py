"""EcrScanReader against DescribeImageScanFindings as AWS documents and users observed it.

Response bodies are the documented shapes, served by botocore's Stubber (moto returns one static
COMPLETE answer and no pages, so it cannot show enhanced scanning); moto is used where it is
right: the ScanNotFound / ImageNotFound / RepositoryNotFound errors and its COMPLETE answer.

Sources quoted below:
- API_DescribeImageScanFindings (examples "for basic image scanning" and "for enhanced image
  scanning"): https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImageScanFindings.html
- API_ImageScanStatus, "Valid Values: IN_PROGRESS | COMPLETE | FAILED | UNSUPPORTED_IMAGE | ACTIVE |
  PENDING | SCAN_ELIGIBILITY_EXPIRED | FINDINGS_UNAVAILABLE | LIMIT_EXCEEDED | IMAGE_ARCHIVED":
  https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageScanStatus.html
- aws/aws-cli#6759 (enhanced, ACTIVE, ``findings: []``, "Continuous scan is selected for image.")
- aws/aws-sdk#289 ("ECR scan shows Status COMPLETE when enhanced findings are not there yet")
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from promoter.adapters import scans
from promoter.adapters.scans import EcrScanReader, ScanPagesExhausted, ScanState

REPO = "dev-microservice"
COMPLETED = datetime(2025, 6, 9, 7, 8, 40, tzinfo=UTC)  # boto parses the wire's epoch/ISO time to this


def _digest() -> str:
    return "sha256:" + uuid.uuid4().hex * 2


def _request(digest: str, token: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"repositoryName": REPO, "imageId": {"imageDigest": digest}, "maxResults": 1000}
    if token:
        request["nextToken"] = token
    return request


def _page(digest: str, status: str, findings: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    scan_status = {"status": status} | ({"description": description} if description else {})
    return {
        "registryId": "123456789012",
        "repositoryName": REPO,
        "imageId": {"imageDigest": digest},
        "imageScanStatus": scan_status,
        "imageScanFindings": findings,
    }


def _enhanced(severity: str, n: int) -> dict[str, Any]:
    """An EnhancedImageScanFinding trimmed to the fields the doc example has that matter here."""
    return {
        "awsAccountId": "123456789012",
        "findingArn": f"arn:aws:inspector2:us-west-2:123456789012:finding/{n:024d}",
        "severity": severity,
        "status": "ACTIVE",
        "title": f"CVE-2022-{n:05d} - libxml2",
        "type": "PACKAGE_VULNERABILITY",
    }


@pytest.fixture
def stubbed() -> Iterator[tuple[EcrScanReader, Stubber]]:
    client = boto3.client("ecr", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(client) as stubber:
        yield EcrScanReader(client), stubber
        stubber.assert_no_pending_responses()


def test_basic_scan_as_in_the_api_reference_example_is_complete(stubbed: tuple[EcrScanReader, Stubber]) -> None:
    # Given the API reference's basic example: COMPLETE, one MEDIUM finding, imageScanCompletedAt 1579839105.0
    reader, stubber = stubbed
    digest = _digest()
    findings = {
        "findings": [{"name": "CVE-2019-5188", "severity": "MEDIUM", "uri": "http://people.ubuntu.com/x"}],
        "imageScanCompletedAt": datetime.fromtimestamp(1579839105.0, UTC),
        "vulnerabilitySourceUpdatedAt": datetime.fromtimestamp(1579811117.0, UTC),
        "findingSeverityCounts": {"MEDIUM": 1},
    }
    stubber.add_response(
        "describe_image_scan_findings",
        _page(digest, "COMPLETE", findings, "The scan was completed successfully."),
        _request(digest),
    )
    # When it is read
    report = reader.scan_of(REPO, digest)
    # Then it is complete basic evidence with ECR's counts and completion time
    assert report is not None
    assert (report.state, report.mode, report.severity_counts) == (ScanState.COMPLETE, "basic", {"MEDIUM": 1})
    assert report.completed_at == datetime.fromtimestamp(1579839105.0, UTC)


def test_enhanced_active_scan_with_completion_time_is_complete(stubbed: tuple[EcrScanReader, Stubber]) -> None:
    # Given the API reference's enhanced example: status ACTIVE "Continuous scan is selected for image.",
    # one enhancedFinding with "severity": "HIGH" and imageScanCompletedAt "2025-06-09T07:08:40.144000+00:00"
    reader, stubber = stubbed
    digest = _digest()
    findings = {"enhancedFindings": [_enhanced("HIGH", 1)], "imageScanCompletedAt": COMPLETED}
    stubber.add_response(
        "describe_image_scan_findings",
        _page(digest, "ACTIVE", findings, "Continuous scan is selected for image."),
        _request(digest),
    )
    report = reader.scan_of(REPO, digest)
    assert report is not None
    assert (report.state, report.mode, report.severity_counts) == (ScanState.COMPLETE, "enhanced", {"HIGH": 1})
    assert report.description == "Continuous scan is selected for image."


def test_active_without_completion_time_is_pending_not_clean(stubbed: tuple[EcrScanReader, Stubber]) -> None:
    # Given aws/aws-cli#6759's answer, verbatim: {"imageScanFindings": {"findings": []}, ...,
    # "imageScanStatus": {"status": "ACTIVE", "description": "Continuous scan is selected for image."}}
    reader, stubber = stubbed
    digest = _digest()
    stubber.add_response(
        "describe_image_scan_findings",
        _page(digest, "ACTIVE", {"findings": []}, "Continuous scan is selected for image."),
        _request(digest),
    )
    report = reader.scan_of(REPO, digest)
    # Then it is not "zero findings": Inspector has not finished
    assert report is not None
    assert (report.state, report.mode, report.completed_at) == (ScanState.PENDING, "enhanced", None)


def test_complete_with_nothing_in_it_is_pending(stubbed: tuple[EcrScanReader, Stubber]) -> None:
    # Given aws/aws-sdk#289 (ENHANCED + SCAN_ON_PUSH): "no findings, no enhanced findings, no
    # findingSeverityCounts etc., but with status COMPLETE" -- {"imageScanFindings": {"findings": []}}
    reader, stubber = stubbed
    digest = _digest()
    stubber.add_response(
        "describe_image_scan_findings",
        _page(digest, "COMPLETE", {"findings": []}, "The scan was completed successfully."),
        _request(digest),
    )
    report = reader.scan_of(REPO, digest)
    assert report is not None
    assert report.state is ScanState.PENDING


def test_enhanced_scan_on_push_reports_complete_with_enhanced_findings(stubbed: tuple[EcrScanReader, Stubber]) -> None:
    # Given enhanced scan-on-push: "AWS ECR returned imageScanStatus.status = COMPLETE together with
    # enhancedFindings" (theam/facility#127), and no findingSeverityCounts
    reader, stubber = stubbed
    digest = _digest()
    findings = {"enhancedFindings": [_enhanced("CRITICAL", 1), _enhanced("HIGH", 2)]}
    stubber.add_response("describe_image_scan_findings", _page(digest, "COMPLETE", findings), _request(digest))
    report = reader.scan_of(REPO, digest)
    # Then it is enhanced evidence whose CRITICAL is counted, not a clean basic scan
    assert report is not None
    assert (report.state, report.mode, report.severity_counts) == (
        ScanState.COMPLETE,
        "enhanced",
        {"CRITICAL": 1, "HIGH": 1},
    )


def test_a_clean_basic_scan_is_complete_with_no_counts(stubbed: tuple[EcrScanReader, Stubber]) -> None:
    reader, stubber = stubbed
    digest = _digest()
    findings = {"imageScanCompletedAt": COMPLETED, "findingSeverityCounts": {}}
    stubber.add_response("describe_image_scan_findings", _page(digest, "COMPLETE", findings), _request(digest))
    report = reader.scan_of(REPO, digest)
    assert report is not None
    assert (report.state, report.severity_counts) == (ScanState.COMPLETE, {})


@pytest.mark.parametrize("status", ["IN_PROGRESS", "PENDING", "LIMIT_EXCEEDED", "SOME_FUTURE_STATUS"])
def test_statuses_that_may_still_produce_a_scan_are_pending(
    stubbed: tuple[EcrScanReader, Stubber], status: str
) -> None:
    reader, stubber = stubbed
    digest = _digest()
    stubber.add_response("describe_image_scan_findings", _page(digest, status, {}), _request(digest))
    report = reader.scan_of(REPO, digest)
    assert report is not None
    assert (report.state, report.status) == (ScanState.PENDING, status)


@pytest.mark.parametrize(
    ("status", "description"),
    [
        ("FAILED", "The scan failed."),
        # docker/setup-buildx-action#186: ECR cannot scan an index
        (
            "UNSUPPORTED_IMAGE",
            "An artifact with media type 'application/vnd.oci.image.index.v1+json' cannot be scanned",
        ),
        ("SCAN_ELIGIBILITY_EXPIRED", "Continuous scanning is suspended for this image."),
        ("FINDINGS_UNAVAILABLE", "Findings are unavailable."),
        ("IMAGE_ARCHIVED", "The image is archived."),
    ],
)
def test_statuses_after_which_no_scan_comes_are_failed_with_the_description(
    stubbed: tuple[EcrScanReader, Stubber], status: str, description: str
) -> None:
    reader, stubber = stubbed
    digest = _digest()
    stubber.add_response("describe_image_scan_findings", _page(digest, status, {}, description), _request(digest))
    report = reader.scan_of(REPO, digest)
    assert report is not None
    assert (report.state, report.status, report.description) == (ScanState.FAILED, status, description)


def test_enhanced_findings_are_counted_over_every_page(stubbed: tuple[EcrScanReader, Stubber]) -> None:
    # Given an enhanced scan whose findings span three pages and no findingSeverityCounts at all
    # ("returns up to 100 results and a nextToken value, if applicable" -- API reference)
    reader, stubber = stubbed
    digest = _digest()
    pages = [
        ([_enhanced("HIGH", 1), _enhanced("high", 2)], "token-1"),
        ([_enhanced("Critical", 3)], "token-2"),
        ([_enhanced("CRITICAL", 4), _enhanced("LOW", 5), _enhanced("", 6)], None),
    ]
    sent: str | None = None
    for found, token in pages:
        body = _page(digest, "ACTIVE", {"enhancedFindings": found, "imageScanCompletedAt": COMPLETED})
        if token:
            body["nextToken"] = token
        stubber.add_response("describe_image_scan_findings", body, _request(digest, sent))
        sent = token
    # When it is read
    report = reader.scan_of(REPO, digest)
    # Then every page was asked for (Stubber checks each nextToken) and severities are summed, upper-cased
    assert report is not None
    assert report.pages == 3
    assert report.severity_counts == {"CRITICAL": 2, "HIGH": 2, "LOW": 1, "UNDEFINED": 1}
    assert report.state is ScanState.COMPLETE


def test_basic_totals_repeated_on_every_page_are_not_added_up(stubbed: tuple[EcrScanReader, Stubber]) -> None:
    # Given basic findings split over three pages, each page repeating the image's findingSeverityCounts
    # (botocore's paginator for this call keeps findingSeverityCounts as a non-aggregate key)
    reader, stubber = stubbed
    digest = _digest()
    totals = {"CRITICAL": 1, "HIGH": 2}
    split = [["CRITICAL"], ["HIGH"], ["HIGH"]]
    tokens = ["a", "b", None]
    sent: str | None = None
    for severities, token in zip(split, tokens, strict=True):
        listed = [{"name": f"CVE-{i}", "severity": s} for i, s in enumerate(severities)]
        findings = {"findings": listed, "findingSeverityCounts": totals, "imageScanCompletedAt": COMPLETED}
        body = _page(digest, "COMPLETE", findings) | ({"nextToken": token} if token else {})
        stubber.add_response("describe_image_scan_findings", body, _request(digest, sent))
        sent = token
    report = reader.scan_of(REPO, digest)
    assert report is not None
    assert report.severity_counts == totals


def test_a_reported_count_larger_than_the_listed_findings_wins(stubbed: tuple[EcrScanReader, Stubber]) -> None:
    reader, stubber = stubbed
    digest = _digest()
    findings = {
        "findings": [{"name": "CVE-1", "severity": "HIGH"}],
        "findingSeverityCounts": {"HIGH": 5, "critical": 1},
        "imageScanCompletedAt": COMPLETED,
    }
    stubber.add_response("describe_image_scan_findings", _page(digest, "COMPLETE", findings), _request(digest))
    report = reader.scan_of(REPO, digest)
    assert report is not None
    assert report.severity_counts == {"CRITICAL": 1, "HIGH": 5}


@pytest.mark.parametrize(("code", "status"), [("ThrottlingException", 400), ("ServerException", 500)])
def test_transient_faults_propagate(stubbed: tuple[EcrScanReader, Stubber], code: str, status: int) -> None:
    reader, stubber = stubbed
    stubber.add_client_error("describe_image_scan_findings", service_error_code=code, http_status_code=status)
    with pytest.raises(ClientError) as raised:
        reader.scan_of(REPO, _digest())
    assert raised.value.response["Error"]["Code"] == code


def test_a_token_that_never_ends_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Endless:
        calls = 0

        def describe_image_scan_findings(self, **_: Any) -> dict[str, Any]:
            self.calls += 1
            return {"imageScanStatus": {"status": "ACTIVE"}, "imageScanFindings": {}, "nextToken": "again"}

    monkeypatch.setattr(scans, "MAX_PAGES", 4)
    client = Endless()
    with pytest.raises(ScanPagesExhausted):
        EcrScanReader(client).scan_of(REPO, _digest())
    assert client.calls == 4
