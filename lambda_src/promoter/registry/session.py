"""The state one copy shares between its parts: both ends, the worker pool, the abort flag, the counters.

Why a module of its own: blob transfer, manifest writing and referrer copying each need the same few
things (which repository is which, a pool to run work in parallel that stops at the first failure,
counters for the result), and none of them should own the others. They all take a `CopySession`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TypeVar

from .client import RegistryClient
from .errors import RegistryError

T = TypeVar("T")
R = TypeVar("R")


class Aborted(RegistryError):
    """Another worker failed: stop early (never surfaces; the first real error does)."""


@dataclass
class CopyStats:
    """Counters of one copy, updated from worker threads."""

    blobs_mounted: int = 0
    blobs_streamed: int = 0
    blobs_skipped: int = 0
    bytes_moved: int = 0
    referrers_copied: int = 0
    referrers_deferred: int = 0
    written: set[str] = field(default_factory=set)  # digests of manifests put into the target
    tags_written: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class CopySession:
    """`source`/`src` (repository) to `target`/`dst`, work run on `pool`; `abort` stops every worker."""

    def __init__(
        self,
        source: RegistryClient,
        source_repository: str,
        target: RegistryClient,
        target_repository: str,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.source = source
        self.src = source_repository
        self.target = target
        self.dst = target_repository
        self.pool = pool
        self.same_registry = source.same_registry(target)
        self.stats = CopyStats()
        self.abort = threading.Event()

    def check_abort(self) -> None:
        if self.abort.is_set():
            raise Aborted("stopped: another transfer failed")

    def run_all(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Run `function` over `items` on the pool; on the first failure stop the rest and raise it."""
        if not items:
            return []
        if len(items) == 1:
            return [function(items[0])]
        futures = [self.pool.submit(function, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        if any(future.exception() is not None for future in done):
            self.abort.set()
            for future in futures:
                future.cancel()
            wait(futures)
            errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
            real = [e for e in errors if not isinstance(e, Aborted)]
            raise (real or errors)[0]  # type: ignore[misc]
        return [future.result() for future in futures]
