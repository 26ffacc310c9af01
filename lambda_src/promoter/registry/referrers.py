"""Referrers (signatures, SBOMs, attestations) of an image: find them in the source, copy them across.

Why a module of its own (regclient's `referrer` package): referrers are found two ways and must be
written two ways. Found by the OCI 1.1 referrers API where the registry has one, and by tag in every
case (`sha256-<hex>` tag-schema fallback index, cosign `sha256-<hex>.sig|.att|.sbom`). Written as
manifests whose blobs come first; where the target has no referrers API (it does not answer
`OCI-Subject`), its `sha256-<hex>` fallback index is merged, never overwritten.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .blobs import check_digest
from .errors import UnsupportedManifest
from .manifest import OCI_INDEX, Descriptor, Manifest
from .reference import is_digest
from .session import CopySession
from .writer import ManifestWriter

log = logging.getLogger("promoter.registry")

_COSIGN_SUFFIXES = (".sig", ".att", ".sbom")
_FALLBACK_TAG_LENGTH = len("sha256-") + 64


@dataclass(frozen=True)
class Referrers:
    by_api: tuple[tuple[str, Descriptor], ...]  # (subject digest, referrer descriptor)
    by_tag: tuple[str, ...]  # `sha256-<hex>` fallback indexes and cosign `.sig`/`.att`/`.sbom` tags

    def __bool__(self) -> bool:
        return bool(self.by_api or self.by_tag)


NO_REFERRERS = Referrers((), ())


def referrer_tag_subject(tag: str) -> str | None:
    """The hex digest a referrer tag is about (`sha256-<hex>`, `sha256-<hex>.sig`…), else None."""
    if not tag.startswith("sha256-") or len(tag) < _FALLBACK_TAG_LENGTH:
        return None
    hex_part, suffix = tag[7:_FALLBACK_TAG_LENGTH], tag[_FALLBACK_TAG_LENGTH:]
    if suffix and suffix not in _COSIGN_SUFFIXES:
        return None
    return hex_part


class ReferrerCopier:
    """Copies referrers level by level: those of the image, then referrers of those (a signature on an
    SBOM), down to `max_depth` levels. `max_referrers` bounds how many are copied per call (the rest are
    counted as deferred and follow on the next call). `only_missing` (the image is already in the target)
    checks the target first, so a re-sync writes only what is missing."""

    def __init__(
        self, session: CopySession, writer: ManifestWriter, *, max_referrers: int = 64, max_depth: int = 3
    ) -> None:
        self.session = session
        self.writer = writer
        self.max_referrers = max_referrers
        self.max_depth = max_depth
        self._tags_by_subject: dict[str, list[str]] | None = None
        self._visited: set[str] = set()

    def discover(self, subjects: Sequence[str]) -> Referrers:
        """Referrers of each subject in the source: by the referrers API where the registry has it, and by
        tag (`sha256-<hex>` fallback index, cosign `sha256-<hex>.sig|.att|.sbom`) in every case."""
        session = self.session
        fresh = [subject for subject in dict.fromkeys(subjects) if subject not in self._visited]
        self._visited.update(fresh)
        by_api: list[tuple[str, Descriptor]] = []
        for subject in fresh:
            found = session.source.referrers(session.src, subject)
            if found is None:
                break
            by_api.extend((subject, descriptor) for descriptor in found)
        if self._tags_by_subject is None:  # one tag listing per copy serves every level
            index: dict[str, list[str]] = {}
            for tag in session.source.list_tags(session.src):
                hex_part = referrer_tag_subject(tag)
                if hex_part is not None:
                    index.setdefault(hex_part, []).append(tag)
            self._tags_by_subject = index
        by_tag = [tag for subject in fresh for tag in self._tags_by_subject.get(subject.split(":", 1)[1], ())]
        return Referrers(tuple(by_api), tuple(sorted(by_tag)))

    def copy(self, found: Referrers, *, only_missing: bool = False) -> None:
        """Copy `found` (level 1), then discover and copy each next level, down to `max_depth`."""
        depth = 1
        while found:
            next_subjects = self._copy_level(found, only_missing)
            depth += 1
            if depth > self.max_depth or not next_subjects:
                return
            found = self.discover(next_subjects)

    def _take_budget(self, count: int = 1) -> bool:
        stats = self.session.stats
        with stats.lock:
            if stats.referrers_copied >= self.max_referrers:
                stats.referrers_deferred += count
                return False
            return True

    def _copy_level(self, found: Referrers, only_missing: bool) -> list[str]:
        """Copy one level; return the digests of its referrers (copied or already there): the next subjects."""
        session = self.session
        next_subjects: list[str] = []
        needs_fallback: dict[str, list[Descriptor]] = {}
        api_seen: set[str] = set()
        for subject, descriptor in found.by_api:
            if descriptor.digest in api_seen:
                continue
            api_seen.add(descriptor.digest)
            if not is_digest(descriptor.digest):
                raise UnsupportedManifest(f"referrer {descriptor.digest} of {subject} is not a sha256 digest")
            next_subjects.append(descriptor.digest)
            if only_missing and session.target.resolve(session.dst, descriptor.digest) is not None:
                continue
            if not self._take_budget():
                continue
            manifest = session.source.get_manifest(session.src, descriptor.digest)
            result = self.writer.copy_tree(manifest)
            session.stats.add(referrers_copied=1)
            if result is not None and not result.subject_indexed:
                # The target has no referrers API: keep its `sha256-<hex>` fallback index up to date.
                needs_fallback.setdefault(subject, []).append(descriptor)
        for tag in found.by_tag:
            next_subjects.extend(self._copy_tag(tag))
        for subject, descriptors in needs_fallback.items():
            self.merge_fallback_index(subject, descriptors)
        return next_subjects

    def _copy_tag(self, tag: str) -> list[str]:
        """Copy one referrer tag unless the target has it already; return the digests it stands for."""
        session, writer = self.session, self.writer
        manifest = session.source.get_manifest(session.src, tag)
        fallback_index = len(tag) == _FALLBACK_TAG_LENGTH and manifest.is_index
        listed = [child.digest for child in manifest.children] if fallback_index else [manifest.digest]
        existing = session.target.resolve(session.dst, tag)
        if existing is not None and existing.digest == manifest.digest:
            return listed
        if existing is None:
            if self._take_budget(len(listed)):
                writer.copy_tree(manifest, tag)
                session.stats.add(referrers_copied=len(listed))
            return listed
        if not fallback_index:
            log.warning(
                "referrer tag %s in %s already points to %s, not %s: left as it is",
                tag,
                session.dst,
                existing.digest,
                manifest.digest,
            )
            return listed
        # The target's fallback index differs (it lists referrers of its own): add only what it lacks.
        added: list[Descriptor] = []
        for child in manifest.children:
            check_digest(child, manifest)
            if session.target.resolve(session.dst, child.digest) is None:
                if not self._take_budget():
                    continue
                writer.copy_tree(session.source.get_manifest(session.src, child.digest))
                session.stats.add(referrers_copied=1)
            added.append(child)
        self.merge_fallback_index("sha256:" + tag[len("sha256-") :], added)
        return listed

    def merge_fallback_index(self, subject: str, descriptors: Sequence[Descriptor]) -> None:
        """Add `descriptors` to the target's `sha256-<hex>` referrers index (the OCI tag-schema fallback)."""
        session = self.session
        tag = "sha256-" + subject.split(":", 1)[1]
        current: list[dict[str, Any]] = []
        if session.target.resolve(session.dst, tag) is not None:
            existing = session.target.get_manifest(session.dst, tag)
            current = [d.to_json() for d in existing.children]
        known = {item["digest"] for item in current}
        added = [d.to_json() for d in descriptors if d.digest not in known]
        if not added:
            return
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": current + added}
        merged = Manifest.from_bytes(json.dumps(document, separators=(",", ":")).encode(), OCI_INDEX)
        self.writer.put(merged, tag)
