"""Scan evidence for one candidate from what the scanner reports about each image it consists of.

Pure. An image index cannot be scanned (ECR scans only its platform images: docker/setup-buildx-action#186,
aws/containers-roadmap#1683), so an index's evidence is the union of its platform children's scans:
the worst child decides, a child that can never be scanned rejects, and while any child is unscanned
the index stays pending. A single image is the one-child case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from promoter.gates import ScanEvidence

# promoter.adapters.scans.ScanState values.
COMPLETE, PENDING, FAILED = "complete", "pending", "failed"
NO_SCAN = "no scan yet"


class ScanReading(Protocol):
    """What the scanner's API says about one image (promoter.adapters.scans.ScanReport fits)."""

    @property
    def state(self) -> str: ...

    @property
    def severity_counts(self) -> dict[str, int]: ...

    @property
    def completed_at(self) -> datetime | None: ...

    @property
    def status(self) -> str: ...

    @property
    def description(self) -> str | None: ...


@dataclass(frozen=True)
class ImageScan:
    """One image's scan as evidence: finished (`scan`), or missing with the reason why."""

    digest: str
    scan: ScanEvidence | None
    missing: str | None = None


def from_reading(digest: str, reading: ScanReading | None, now: datetime) -> ImageScan:
    """The evidence in one API answer; None (no scan exists) and in-flight scans are missing evidence."""
    if reading is None:
        return ImageScan(digest, None, NO_SCAN)
    if reading.state == FAILED:
        why = f"{reading.status}: {reading.description}" if reading.description else reading.status
        return ImageScan(digest, ScanEvidence({}, reading.completed_at or now, f"{why} (the scan can never complete)"))
    if reading.state == COMPLETE:
        return ImageScan(digest, ScanEvidence(dict(reading.severity_counts), reading.completed_at or now))
    return ImageScan(digest, None, f"{reading.status or 'in progress'}, not complete yet")


def combine(scans: Sequence[ImageScan], *, index: bool) -> tuple[ScanEvidence | None, str | None]:
    """(evidence, pending reason) for the candidate. For an index, reasons name the child."""
    if not scans:
        return None, "scan: the index lists no platform image to scan"
    failed = [s for s in scans if s.scan is not None and s.scan.failure is not None]
    finished = [s.scan for s in scans if s.scan is not None and s.scan.failure is None]
    missing = [s for s in scans if s.scan is None]
    if failed:
        first = failed[0]
        assert first.scan is not None
        where = f"platform image {first.digest}: " if index else ""
        return ScanEvidence({}, first.scan.at, f"{where}{first.scan.failure}"), None
    evidence = None
    if finished:
        severities = {severity for scan in finished for severity in scan.severity_counts}
        worst = {severity: max(scan.severity_counts.get(severity, 0) for scan in finished) for severity in severities}
        evidence = ScanEvidence(worst, max(scan.at for scan in finished))
    if not missing:
        return evidence, None
    if not index:
        reason = missing[0].missing
        return None, (None if reason == NO_SCAN else f"scan: {reason}")
    listed = ", ".join(f"{s.digest} ({s.missing})" for s in missing[:3])
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return evidence, f"scan: platform image(s) not scanned yet: {listed}{more}"
