"""In-memory stand-ins for the registry side and the evidence APIs (promoter.ports.ImageStore,
ScanSource, PipelineConfirmer, BuildConfirmer).

With promoter.adapters.memory.InMemoryLedger they let a unit test drive `promoter.entry.handle`
through every outcome in milliseconds: no registry binary, no moto. The image store keeps the one
registry rule the decisions depend on: a tag that holds another digest is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from promoter.adapters.ci_runs import RunConfirmation
from promoter.adapters.memory import InMemoryLedger
from promoter.adapters.scans import ScanReport, ScanState
from promoter.policy import load_policy
from promoter.promotion import Services
from promoter.registry.errors import TagConflict

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def new_digest() -> str:
    return "sha256:" + hashlib.sha256(uuid.uuid4().bytes).hexdigest()


def new_commit() -> str:
    return hashlib.sha1(uuid.uuid4().bytes, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class FakeCopy:
    already_present: bool
    blobs_mounted: int = 0
    bytes_moved: int = 0
    referrers_copied: int = 0
    referrers_deferred: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "already_present": self.already_present,
            "blobs_mounted": self.blobs_mounted,
            "bytes_moved": 0,
            "referrers_copied": self.referrers_copied,
        }


@dataclass
class FakeImageStore:
    """Repositories as {repository: {tag: digest}} plus the untagged digests each one holds."""

    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    digests: dict[str, set[str]] = field(default_factory=dict)
    revisions: dict[tuple[str, str], str] = field(default_factory=dict)
    children: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    copies: list[tuple[str, str, str, tuple[str, ...]]] = field(default_factory=list)
    # Referrer manifests: their subject, and per (source repository, subject) those not yet copied.
    subjects: dict[tuple[str, str], str] = field(default_factory=dict)
    unsynced: dict[tuple[str, str], int] = field(default_factory=dict)

    def refer(self, repository: str, subject: str, *tags: str) -> str:
        """Push a referrer of `subject` (a signature): tagged by the tag schema, or untagged with a `subject`."""
        referrer = self.add(repository, *tags)
        self.subjects[(repository, referrer)] = subject
        self.unsynced[(repository, subject)] = self.unsynced.get((repository, subject), 0) + 1
        return referrer

    def add(self, repository: str, *tags: str, digest: str | None = None, revision: str | None = None) -> str:
        digest = digest or new_digest()
        self.digests.setdefault(repository, set()).add(digest)
        for tag in tags:
            self.tags.setdefault(repository, {})[tag] = digest
        if revision:
            self.revisions[(repository, digest)] = revision
        return digest

    def delete(self, repository: str, digest: str) -> None:
        self.digests.get(repository, set()).discard(digest)
        self.tags[repository] = {t: d for t, d in self.tags.get(repository, {}).items() if d != digest}

    def digest_for_tag(self, repository: str, tag: str) -> str | None:
        return self.tags.get(repository, {}).get(tag)

    def tags_of(self, repository: str, digest: str) -> tuple[str, ...] | None:
        if digest not in self.digests.get(repository, set()):
            return None
        return tuple(sorted(tag for tag, held in self.tags.get(repository, {}).items() if held == digest))

    def revision_of(self, repository: str, digest: str) -> str | None:
        return self.revisions.get((repository, digest))

    def platform_children(self, repository: str, digest: str) -> tuple[str, ...]:
        return self.children.get((repository, digest), ())

    def subject_of(self, repository: str, digest: str) -> str | None:
        return self.subjects.get((repository, digest))

    def target_digests(self, repository: str, tags: tuple[str, ...]) -> dict[str, str | None]:
        return {tag: self.digest_for_tag(repository, tag) for tag in tags}

    def promote(self, source_repository: str, digest: str, target_repository: str, tags: tuple[str, ...]) -> FakeCopy:
        held = self.tags.get(target_repository, {})
        for tag in tags:
            if held.get(tag) not in (None, digest):
                raise TagConflict(tag, held[tag], digest)
        present = digest in self.digests.get(target_repository, set()) and all(held.get(t) == digest for t in tags)
        self.add(target_repository, *tags, digest=digest)
        self.copies.append((source_repository, digest, target_repository, tags))
        referrers = self.unsynced.pop((source_repository, digest), 0)
        return FakeCopy(already_present=present, blobs_mounted=0 if present else 3, referrers_copied=referrers)


def scan_report(
    state: ScanState = ScanState.COMPLETE, counts: dict[str, int] | None = None, status: str = "COMPLETE", **extra: Any
) -> ScanReport:
    """A ScanReport as promoter.adapters.scans.EcrScanReader returns it."""
    completed = NOW if state is ScanState.COMPLETE else None
    fields: dict[str, Any] = {"completed_at": completed, "description": None, "mode": "basic", **extra}
    return ScanReport(state=state, severity_counts=counts or {}, status=status, **fields)


@dataclass
class FakeScans:
    """ScanSource: what the scanner's API answers per (repository, digest); None: no scan exists."""

    found: dict[tuple[str, str], ScanReport] = field(default_factory=dict)
    reads: int = 0

    def scan_of(self, repository: str, digest: str) -> ScanReport | None:
        self.reads += 1
        return self.found.get((repository, digest))


@dataclass
class FakeRuns:
    """PipelineConfirmer and BuildConfirmer: runs by (pipeline, execution id) or by build id."""

    pipelines: dict[tuple[str, str], RunConfirmation] = field(default_factory=dict)
    builds: dict[str, RunConfirmation] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def confirm(self, *run: str) -> RunConfirmation | None:
        self.asked.append("/".join(run))
        if len(run) == 2:
            return self.pipelines.get((run[0], run[1]))
        return self.builds.get(run[0])


@dataclass
class World:
    """One function's worth of in-memory adapters."""

    services: Services
    ledger: InMemoryLedger
    images: FakeImageStore
    scans: FakeScans
    runs: FakeRuns


ACCOUNT = "111122223333"


def world(policy: dict[str, Any] | str, *, apis: bool = False) -> World:
    """Services over in-memory adapters. `apis`: as with ECR (scans and CI runs read from APIs, this
    account's registry); without: local mode, where the events are the evidence."""
    ledger, images, scans, runs = InMemoryLedger(), FakeImageStore(), FakeScans(), FakeRuns()
    loaded = load_policy(policy if isinstance(policy, str) else json.dumps(policy))
    services = Services(
        policy=loaded,
        ledger=ledger,
        images=images,
        scans=scans if apis else None,
        pipeline_runs=runs if apis else None,
        build_runs=runs if apis else None,
        account_id=ACCOUNT if apis else None,
        clock=lambda: NOW,
    )
    return World(services, ledger, images, scans, runs)


def rule(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"name": extra.pop("name", "r"), "source": source, "target": target, **extra}
