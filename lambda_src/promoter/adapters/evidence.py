"""The evidence adapters (scan reader, CI runs) as the promotion service consumes them.

`adapters.scans` and `adapters.ci_runs` raise for "no such image / run"; the service asks plain
questions instead (promoter.ports.ScanSource, PipelineConfirmer, BuildConfirmer), so those
exceptions are turned into answers here, once. The AWS clients are created on first use: a push
never pays for a CodeBuild client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from promoter.adapters.ci_runs import BuildRuns, PipelineRuns, RunConfirmation, RunNotFound
from promoter.adapters.scans import EcrScanReader, ImageNotInRegistry, ScanReport, ScanState


@dataclass(frozen=True)
class _Gone:
    """A scan that will never exist: the image is no longer in the registry."""

    status: str
    description: str | None
    state: str = ScanState.FAILED.value
    completed_at: datetime | None = None

    @property
    def severity_counts(self) -> dict[str, int]:
        return {}


class EcrScans:
    """promoter.ports.ScanSource over ECR's DescribeImageScanFindings."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = client
        self._reader: EcrScanReader | None = None

    def scan_of(self, repository: str, digest: str) -> ScanReport | _Gone | None:
        if self._reader is None:
            self._reader = EcrScanReader(self._client())
        try:
            return self._reader.scan_of(repository, digest)
        except ImageNotInRegistry as gone:
            return _Gone(gone.code, f"{repository}@{digest} is not in the registry")


class CodePipelineRuns:
    """promoter.ports.PipelineConfirmer over GetPipelineExecution; None when the run does not exist."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = client
        self._runs: PipelineRuns | None = None

    def confirm(self, pipeline: str, execution_id: str) -> RunConfirmation | None:
        if self._runs is None:
            self._runs = PipelineRuns(self._client())
        try:
            return self._runs.confirm(pipeline, execution_id)
        except RunNotFound:
            return None


class CodeBuildRuns:
    """promoter.ports.BuildConfirmer over BatchGetBuilds; None when the build does not exist."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = client
        self._runs: BuildRuns | None = None

    def confirm(self, build_id: str) -> RunConfirmation | None:
        if self._runs is None:
            self._runs = BuildRuns(self._client())
        try:
            return self._runs.confirm(build_id)
        except RunNotFound:
            return None
