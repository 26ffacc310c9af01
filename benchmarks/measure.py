"""Whole-process measurements (wall time, peak RSS from the child's rusage) and registry access-log figures."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from devtools.localregistry import LocalRegistry


@dataclass(frozen=True)
class ProcessRun:
    seconds: float
    max_rss_kib: int
    returncode: int
    stdout: str
    stderr: str


GNU_TIME = "/usr/bin/time"


def run_process(argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None) -> ProcessRun:
    """Run one process to completion: wall time from fork to reap; peak RSS as GNU time reports it.

    Not `wait4`'s own `ru_maxrss`: Linux carries the high-water RSS of the forking process across exec, so
    a child of this (large) benchmark process would report at least the benchmark's RSS. GNU time is a
    tiny intermediate parent, so the figure is the command's own."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as rss:
        wrapped = [GNU_TIME, "-f", "%M", "-o", rss.name, *argv] if os.path.exists(GNU_TIME) else list(argv)
        started = time.perf_counter()
        process = subprocess.Popen(wrapped, env=dict(env), cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        reported = Path(rss.name).read_text().strip().splitlines()
        max_rss_kib = int(reported[-1]) if reported and reported[-1].isdigit() else usage.ru_maxrss
        return ProcessRun(
            seconds,
            max_rss_kib,
            process.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


@dataclass(frozen=True)
class Traffic:
    requests: int
    upload_requests: int  # PATCH/PUT carrying blob bytes
    mounts: int
    blobs_uploaded: int  # upload sessions completed with ?digest=
    bytes_uploaded: int  # sum of the sizes of those blobs


class TrafficMeter:
    """Requests seen by a set of registries since `start()`, from their access logs."""

    def __init__(self, registries: Iterable[LocalRegistry], sizes: Mapping[str, int]) -> None:
        self.registries = list(registries)
        self.sizes = sizes
        self.marks: list[int] = []

    def start(self) -> None:
        self.marks = [registry.log_mark() for registry in self.registries]

    def stop(self) -> Traffic:
        entries = [
            e for registry, mark in zip(self.registries, self.marks, strict=True) for e in registry.access_log(mark)
        ]
        completed = []
        for entry in entries:
            if entry.method == "PUT" and "/blobs/uploads/" in entry.path and entry.status == 201:
                digest = parse_qs(urlsplit(entry.path).query).get("digest", [""])[0]
                completed.append(digest)
        unknown = [d for d in completed if d not in self.sizes]
        if unknown:
            raise RuntimeError(f"uploaded blobs of unknown size: {unknown}")
        return Traffic(
            requests=len(entries),
            upload_requests=sum(e.is_blob_upload for e in entries),
            mounts=sum(e.is_mount and e.status == 201 for e in entries),
            blobs_uploaded=len(completed),
            bytes_uploaded=sum(self.sizes[d] for d in completed),
        )


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


@dataclass(frozen=True)
class Spread:
    """The median of some runs and their range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        items = sorted(values)
        return cls(float(statistics.median(items)), items[0], items[-1])

    def text(self, digits: int = 3) -> str:
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"
