"""The bypass audit: find images in target repositories that this function did not put there.

Why this module exists: write protection on the targets (issue 13, item 1) can be undone by an
account admin, and the `prod-` replication rule ships whatever lands in a target. So the scheduled
run also walks every target repository (named targets of the policy, and for `{name}` targets every
repository matching the target pattern), a bounded batch per run with its cursor kept in the ledger,
and compares each image with the ledger's promotion records. An image nothing accounts for is a
finding: an `Unrecorded Image` event, the `UnrecordedImage` metric, and a mark that `status` shows
and that keeps the next runs from reporting it again.

An image is accounted for when:
- the ledger records its promotion into that target: a `PROMOTED#<target>#<tag>` claim, or a
  `promoted` / `already-promoted` decision into that target (the copy happened and the claim was
  lost, or it was already there when the gates passed) under its source repository, found from the
  target through the policy (`prod-{name}` ← `dev-*`: `prod-api` ← `dev-api`);
- it is a referrer of an accounted image: a non-runnable manifest (no tar layers) whose `subject`
  names one (OCI 1.1: signatures, SBOMs and this function's own promotion attestation); or it carries a tag-schema tag
  `sha256-<hex>[.sig|.att|.sbom]` of an accounted digest *and* is not runnable (no tar layers; a
  fallback index whose every entry is such a referrer), so a runnable image tagged to look like a
  signature is still reported;
- it is a platform image of an accounted index (ECR lists an index's children as untagged images).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from promoter.adapters.audit_state import AuditState, Finding
from promoter.adapters.event_bus import EventPublisher
from promoter.adapters.repository_listing import MAX_PAGE
from promoter.contract import DetailType, Outcome
from promoter.image_batches import Cursor, InvalidCursor, ListedImage, RepositoryImages, next_batch
from promoter.policy import Policy, Rule
from promoter.ports import ImageRecord
from promoter.registry import RegistryClient
from promoter.registry.errors import ImageNotFound, RepositoryNotFound
from promoter.registry.manifest import INDEX_MEDIA_TYPES, Manifest
from promoter.registry.referrers import referrer_tag_subject

BATCH_SIZE = 100
# Referrers of referrers (a signature on an SBOM on the image): the depth the copier follows too.
MAX_REFERRER_DEPTH = 3
# Pages of a target read to find the indexes whose platform images an untagged image may be.
MAX_INDEX_PAGES = 10
_PROMOTIONS = frozenset({Outcome.PROMOTED, Outcome.ALREADY_PROMOTED})


class PromotionRecords(Protocol):
    """The part of promoter.ports.Ledger the audit reads (both ledgers already have it)."""

    def image_record(self, repository: str, digest: str) -> ImageRecord: ...


class Manifests(Protocol):
    def manifest(self, repository: str, digest: str) -> Manifest | None:
        """The manifest of `digest` in `repository`; None when it is gone."""
        ...


class RegistryManifests:
    """Manifests read over the OCI API (ECR's endpoint or the local registry): the function's own client."""

    def __init__(self, client: RegistryClient) -> None:
        self._client = client

    def manifest(self, repository: str, digest: str) -> Manifest | None:
        try:
            return self._client.get_manifest(repository, digest)
        except (ImageNotFound, RepositoryNotFound):
            return None


def target_repositories(policy: Policy, lister: RepositoryImages) -> list[str]:
    """Every repository the policy promotes into: named targets, and those matching a `{name}` pattern now."""
    names: set[str] = set()
    for rule in policy.rules:
        names.update(lister.repositories(rule.target_pattern) if "{name}" in rule.target else [rule.target])
    return sorted(names)


def _is_runnable(manifest: Manifest) -> bool:
    """An image a container runtime would run: it has filesystem layers (tar, tar+gzip, tar+zstd)."""
    return any("tar" in blob.media_type for blob in manifest.blobs)


def _is_artifact(manifest: Manifest) -> bool:
    """A signature, SBOM or attestation manifest: a `subject` alone must not let a runnable image pass."""
    return not manifest.is_index and not _is_runnable(manifest)


@dataclass
class AuditReport:
    findings: list[Finding] = field(default_factory=list)  # reported by this run (new ones only)
    scanned: int = 0
    pass_complete: bool = False


class BypassAudit:
    """One scheduled run's worth of the audit. Built per run: its caches live as long as the run."""

    def __init__(
        self,
        policy: Policy,
        *,
        records: PromotionRecords,
        lister: RepositoryImages,
        manifests: Manifests,
        state: AuditState,
        publisher: EventPublisher,
        clock: Callable[[], datetime],
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.policy = policy
        self.records = records
        self.lister = lister
        self.manifests = manifests
        self.state = state
        self.publisher = publisher
        self.clock = clock
        self.batch_size = batch_size
        self._sources: dict[str, list[tuple[Rule, str]]] = {}
        self._accounted: dict[tuple[str, str], bool] = {}
        self._index_children: dict[str, frozenset[str]] = {}

    def run(self) -> AuditReport:
        """Audit the next batch; mark, announce and return what is new; keep the place for the next run."""
        try:
            stored = self.state.audit_cursor()
            cursor = Cursor.decode(stored) if stored is not None else None
        except InvalidCursor:
            cursor = None  # an edited or stale mark: start a new pass, which only costs time
        try:
            batch = next_batch(
                self.lister, target_repositories(self.policy, self.lister), cursor, limit=self.batch_size
            )
        except InvalidCursor:
            batch = next_batch(self.lister, target_repositories(self.policy, self.lister), None, limit=self.batch_size)
        report = AuditReport(scanned=len(batch.images), pass_complete=batch.cursor is None)
        now = self.clock()
        for image in batch.images:
            if self._image_accounted(image):
                continue
            finding = self._finding(image)
            if not self.state.mark_unrecorded(finding, now):
                continue  # reported by an earlier run
            try:
                self.publisher.publish(DetailType.UNRECORDED_IMAGE, finding.detail())
            except BaseException:
                self.state.forget_unrecorded(finding.repository, finding.digest)
                raise
            report.findings.append(finding)
        self.state.save_audit_cursor(batch.cursor.encode() if batch.cursor else None, now)
        return report

    # ---- where an image in a target may have come from ---------------------------------------

    def sources_for(self, target: str) -> list[tuple[Rule, str]]:
        """(rule, source repository) pairs whose promotion would land in `target`."""
        if target not in self._sources:
            found: list[tuple[Rule, str]] = []
            for rule in self.policy.rules:
                if "{name}" in rule.target:
                    prefix, suffix = rule.target.split("{name}", 1)
                    if not (target.startswith(prefix) and target.endswith(suffix)):
                        continue
                    name = target[len(prefix) : len(target) - len(suffix)]
                    source = rule.source.replace("*", name)
                    if name and rule.target_for(source) == target:
                        found.append((rule, source))
                elif rule.target == target:
                    sources = self.lister.repositories(rule.source) if "*" in rule.source else [rule.source]
                    found += [(rule, source) for source in sources]
            self._sources[target] = found
        return self._sources[target]

    def _finding(self, image: ListedImage) -> Finding:
        sources = self.sources_for(image.repository)
        rule = sources[0][0].name if sources else None
        only_source = sources[0][1] if len({source for _, source in sources}) == 1 else None
        return Finding(image.repository, image.digest, image.tags, image.pushed_at, rule, only_source)

    # ---- is the image accounted for -----------------------------------------------------------

    def promoted(self, target: str, digest: str) -> bool:
        """The ledger records that this function promoted `digest` into `target`."""
        for _, source in self.sources_for(target):
            record = self.records.image_record(source, digest)
            if any(promotion.target_repository == target for promotion in record.promotions):
                return True
            if any(entry.target_repository == target and entry.outcome in _PROMOTIONS for entry in record.history):
                return True
        return False

    def _image_accounted(self, image: ListedImage) -> bool:
        target, digest = image.repository, image.digest
        if self.accounted(target, digest):
            return True
        if self._tag_schema_referrer(image):
            return True
        untagged_platform_image = not image.tags and image.media_type not in INDEX_MEDIA_TYPES
        return untagged_platform_image and digest in self._children_of_promoted_indexes(target)

    def accounted(self, target: str, digest: str, depth: int = 0) -> bool:
        """Promoted, or a referrer (by `subject`) of something accounted for, `MAX_REFERRER_DEPTH` deep."""
        key = (target, digest)
        if key not in self._accounted:
            verdict = self.promoted(target, digest)
            if not verdict and depth < MAX_REFERRER_DEPTH:
                manifest = self.manifests.manifest(target, digest)
                subject = manifest.subject if manifest is not None and _is_artifact(manifest) else None
                verdict = subject is not None and self.accounted(target, subject.digest, depth + 1)
            self._accounted[key] = verdict
        return self._accounted[key]

    def _tag_schema_referrer(self, image: ListedImage) -> bool:
        """Every tag is `sha256-<hex>[.sig|.att|.sbom]` of an accounted digest and the image is no runnable one."""
        subjects = [referrer_tag_subject(tag) for tag in image.tags]
        if not subjects or any(subject is None for subject in subjects):
            return False
        if not all(self.accounted(image.repository, f"sha256:{subject}") for subject in subjects):
            return False
        manifest = self.manifests.manifest(image.repository, image.digest)
        if manifest is None:
            return True  # deleted meanwhile: nothing left to report
        if not manifest.is_index:
            return not _is_runnable(manifest)
        # A tag-schema fallback index: each entry must itself be a referrer of an accounted image.
        return all(self.accounted(image.repository, child.digest) for child in manifest.children)

    def _children_of_promoted_indexes(self, target: str) -> frozenset[str]:
        """Platform images listed by the promoted indexes of `target` (read once per run, when needed)."""
        if target not in self._index_children:
            children: set[str] = set()
            token: str | None = None
            for _ in range(MAX_INDEX_PAGES):
                page = self.lister.images(target, token=token, limit=MAX_PAGE)
                for listed in page.images:
                    if listed.tags and listed.media_type in INDEX_MEDIA_TYPES and self.promoted(target, listed.digest):
                        manifest = self.manifests.manifest(target, listed.digest)
                        children.update(child.digest for child in (manifest.children if manifest else ()))
                token = page.next_token
                if token is None:
                    break
            self._index_children[target] = frozenset(children)
        return self._index_children[target]
