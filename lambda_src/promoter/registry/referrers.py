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
    def __init__(self, session: CopySession, writer: ManifestWriter) -> None:
        self.session = session
        self.writer = writer

    def discover(self, subjects: Sequence[str]) -> Referrers:
        """Referrers of each subject in the source: by the referrers API where the registry has it, and by
        tag (`sha256-<hex>` fallback index, cosign `sha256-<hex>.sig|.att|.sbom`) in every case."""
        session = self.session
        by_api: list[tuple[str, Descriptor]] = []
        for subject in subjects:
            found = session.source.referrers(session.src, subject)
            if found is None:
                break
            by_api.extend((subject, descriptor) for descriptor in found)
        hexes = {subject.split(":", 1)[1] for subject in subjects}
        by_tag = [tag for tag in session.source.list_tags(session.src) if referrer_tag_subject(tag) in hexes]
        return Referrers(tuple(by_api), tuple(sorted(by_tag)))

    def copy(self, found: Referrers) -> None:
        session = self.session
        needs_fallback: dict[str, list[Descriptor]] = {}
        api_seen: set[str] = set()
        for subject, descriptor in found.by_api:
            if descriptor.digest in api_seen:
                continue
            api_seen.add(descriptor.digest)
            if not is_digest(descriptor.digest):
                raise UnsupportedManifest(f"referrer {descriptor.digest} of {subject} is not a sha256 digest")
            manifest = session.source.get_manifest(session.src, descriptor.digest)
            result = self.writer.copy_tree(manifest)
            session.stats.add(referrers_copied=1)
            if result is not None and not result.subject_indexed:
                # The target has no referrers API: keep its `sha256-<hex>` fallback index up to date.
                needs_fallback.setdefault(subject, []).append(descriptor)
        for tag in found.by_tag:
            self._copy_tag(tag)
        for subject, descriptors in needs_fallback.items():
            self.merge_fallback_index(subject, descriptors)

    def _copy_tag(self, tag: str) -> None:
        session = self.session
        manifest = session.source.get_manifest(session.src, tag)
        existing = session.target.resolve(session.dst, tag)
        if existing is not None and existing.digest == manifest.digest:
            return
        fallback_index = len(tag) == _FALLBACK_TAG_LENGTH and manifest.is_index
        writer = self.writer
        levels = writer.fetch_tree(manifest)
        writer.blobs.copy_blobs([m for level in levels for m in level])
        writer.put_levels(levels[1:])
        copied = len(manifest.children) if fallback_index else 1
        if existing is None:
            writer.put(manifest, tag)
            session.stats.add(referrers_copied=copied)
            return
        if fallback_index:
            subject = "sha256:" + tag[len("sha256-") :]
            self.merge_fallback_index(subject, list(manifest.children))
            session.stats.add(referrers_copied=copied)
            return
        log.warning(
            "referrer tag %s in %s already points to %s, not %s: left as it is",
            tag,
            session.dst,
            existing.digest,
            manifest.digest,
        )

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
