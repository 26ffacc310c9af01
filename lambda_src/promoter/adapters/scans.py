"""Scan evidence read from ECR's DescribeImageScanFindings, never from the event that triggered us.

Why this module exists: an ``ECR Image Scan`` or ``Inspector2 Scan`` event is only a trigger.
Anyone allowed to invoke the function can forge one with zero counts, so the scan gate must
re-read the scan from the ECR API. That API answers differently for the two scanning modes:

- basic scanning: ``imageScanStatus.status`` COMPLETE, counts in ``findingSeverityCounts`` and
  one entry per finding in ``findings``;
- enhanced scanning (Amazon Inspector): findings in ``enhancedFindings`` (a ``severity`` each),
  ``findingSeverityCounts`` may be absent, and a continuously scanned image stays ``ACTIVE``
  ("Continuous scan is selected for image") even before Inspector has produced anything
  (aws/aws-cli#6759). With scan-on-push, ECR can say COMPLETE with ``findings: []`` and no
  counts before the enhanced findings arrive (aws/aws-sdk#289).

So a scan is *complete* only when the API shows a completion time (``imageScanCompletedAt``),
or, for COMPLETE, at least some findings data; severities are counted over every page
(``nextToken``), and statuses after which no scan will ever arrive are reported as FAILED with
ECR's description. The report keeps the numbers; the gate (not this adapter) decides.

IAM: ``ecr:DescribeImageScanFindings`` on the source repositories, and for enhanced scanning
``inspector2:ListFindings`` (ECR user guide, "IAM permissions required for enhanced scanning":
https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-enhanced-iam.html).

Errors: ScanNotFoundException means "no scan exists" and is answered with None;
ImageNotFoundException / RepositoryNotFoundException raise :class:`ImageNotInRegistry`;
anything else (throttling, 5xx after boto's retries, validation) propagates unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

# ECR's documented maximum page size (API_DescribeImageScanFindings: "between 1 and 1000").
PAGE_SIZE = 1000
# 1000 findings a page: 200 pages is far beyond any real image; a token that never ends is a fault.
MAX_PAGES = 200

_NO_SCAN = "ScanNotFoundException"
_NO_IMAGE = frozenset({"ImageNotFoundException", "RepositoryNotFoundException"})

# ImageScanStatus valid values (API reference ImageScanStatus, botocore ecr ScanStatus enum):
# IN_PROGRESS | COMPLETE | FAILED | UNSUPPORTED_IMAGE | ACTIVE | PENDING | SCAN_ELIGIBILITY_EXPIRED |
# FINDINGS_UNAVAILABLE | LIMIT_EXCEEDED | IMAGE_ARCHIVED (| IMAGE_SIZE_EXCEEDED in botocore 1.44).
_IN_FLIGHT = frozenset({"IN_PROGRESS", "PENDING"})
# A quota is not a property of the image: its semantics are undocumented, so keep it re-checkable.
_TRANSIENT = frozenset({"LIMIT_EXCEEDED"})
# After these no scan result will ever come for this digest (UNSUPPORTED_IMAGE: scratch images,
# unsupported OS, image indexes; SCAN_ELIGIBILITY_EXPIRED: Inspector stopped watching the image).
_NEVER = frozenset(
    {"FAILED", "UNSUPPORTED_IMAGE", "SCAN_ELIGIBILITY_EXPIRED", "FINDINGS_UNAVAILABLE", "IMAGE_ARCHIVED"}
    | {"IMAGE_SIZE_EXCEEDED"}
)
# Statuses only Amazon Inspector produces; with them the scan mode is known to be enhanced.
_ENHANCED_ONLY = frozenset({"ACTIVE", "SCAN_ELIGIBILITY_EXPIRED"})
# A finding without a severity is counted, not dropped: ECR's own key for that is UNDEFINED.
_UNKNOWN_SEVERITY = "UNDEFINED"


class ScanState(StrEnum):
    """Where a scan stands: COMPLETE has results, PENDING may still get them, FAILED never will."""

    COMPLETE = "complete"
    PENDING = "pending"
    FAILED = "failed"


@dataclass(frozen=True)
class ScanReport:
    """What ECR says about one digest's scan. ``severity_counts`` keys are upper case."""

    state: ScanState
    severity_counts: dict[str, int]
    completed_at: datetime | None
    status: str
    description: str | None
    mode: str  # "basic" | "enhanced": inferred from the response (see _mode)
    pages: int = field(default=1, compare=False)


class ImageNotInRegistry(Exception):
    """The repository or the image is gone: there is nothing to scan, now or later.

    Raised instead of returning None so the caller can tell "not scanned yet" (None) from
    "cannot be scanned because it does not exist" (this), without matching message text.
    """

    def __init__(self, repository: str, digest: str, code: str) -> None:
        super().__init__(f"{repository}@{digest}: {code}")
        self.repository = repository
        self.digest = digest
        self.code = code


class ScanPagesExhausted(Exception):
    """DescribeImageScanFindings kept returning ``nextToken`` past MAX_PAGES: a service fault."""


class EcrScanReader:
    """Reads one digest's scan through an injected ECR client (boto3, moto or Stubber-wrapped)."""

    def __init__(self, ecr_client: Any) -> None:
        self._ecr = ecr_client

    def scan_of(self, repository: str, digest: str) -> ScanReport | None:
        """The digest's scan, every page read; None when ECR has no scan for it."""
        try:
            pages = list(self._pages(repository, digest))
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == _NO_SCAN:
                return None
            if code in _NO_IMAGE:
                raise ImageNotInRegistry(repository, digest, code) from error
            raise
        return report_from_pages(pages)

    def _pages(self, repository: str, digest: str) -> Iterable[Mapping[str, Any]]:
        request: dict[str, Any] = {
            "repositoryName": repository,
            "imageId": {"imageDigest": digest},
            "maxResults": PAGE_SIZE,
        }
        for _ in range(MAX_PAGES):
            page: Mapping[str, Any] = self._ecr.describe_image_scan_findings(**request)
            yield page
            token = page.get("nextToken")
            if not token:
                return
            request["nextToken"] = token
        raise ScanPagesExhausted(f"{repository}@{digest}: more than {MAX_PAGES} pages of scan findings")


def report_from_pages(pages: list[Mapping[str, Any]]) -> ScanReport:
    """One report from every page of a DescribeImageScanFindings answer (pure: unit-testable)."""
    first = pages[0]
    scan_status = first.get("imageScanStatus") or {}
    status = str(scan_status.get("status") or "")
    description = scan_status.get("description")
    findings = [page.get("imageScanFindings") or {} for page in pages]
    completed_at = next((f["imageScanCompletedAt"] for f in findings if f.get("imageScanCompletedAt")), None)
    counts = _severity_counts(findings)
    has_data = bool(counts) or any("findingSeverityCounts" in f for f in findings)
    return ScanReport(
        state=_state(status, completed_at, has_data),
        severity_counts=counts,
        completed_at=completed_at,
        status=status,
        description=str(description) if description is not None else None,
        mode=_mode(status, findings),
        pages=len(pages),
    )


def _state(status: str, completed_at: datetime | None, has_data: bool) -> ScanState:
    if status == "ACTIVE":
        # aws/aws-cli#6759: ACTIVE with findings: [] and no completion time = Inspector not done yet.
        return ScanState.COMPLETE if completed_at is not None else ScanState.PENDING
    if status == "COMPLETE":
        # aws/aws-sdk#289: enhanced scan-on-push says COMPLETE with findings: [] before results exist.
        return ScanState.COMPLETE if completed_at is not None or has_data else ScanState.PENDING
    if status in _NEVER:
        return ScanState.FAILED
    # IN_PROGRESS, PENDING, LIMIT_EXCEEDED, and any status newer than this code: not evidence yet.
    return ScanState.PENDING


def _severity_counts(findings: list[Mapping[str, Any]]) -> dict[str, int]:
    """Per severity, the larger of ECR's reported count and the findings listed on every page.

    ``findingSeverityCounts`` is the image's total (botocore's paginator treats it as a
    non-aggregate key), while ``findings``/``enhancedFindings`` are split across pages; taking
    the maximum never under-reports when one of the two is absent or truncated.
    """
    reported: dict[str, int] = {}
    listed: dict[str, int] = {}
    for page in findings:
        for severity, count in (page.get("findingSeverityCounts") or {}).items():
            key = _severity(severity)
            reported[key] = max(reported.get(key, 0), int(count))
        for finding in [*(page.get("findings") or []), *(page.get("enhancedFindings") or [])]:
            key = _severity(finding.get("severity"))
            listed[key] = listed.get(key, 0) + 1
    return {key: max(reported.get(key, 0), listed.get(key, 0)) for key in sorted(reported.keys() | listed.keys())}


def _severity(name: object) -> str:
    text = str(name).strip().upper() if name is not None else ""
    return text or _UNKNOWN_SEVERITY


def _mode(status: str, findings: list[Mapping[str, Any]]) -> str:
    """Enhanced when Inspector's shape or status shows it, else basic (informational only)."""
    if status in _ENHANCED_ONLY or any("enhancedFindings" in page for page in findings):
        return "enhanced"
    return "basic"
