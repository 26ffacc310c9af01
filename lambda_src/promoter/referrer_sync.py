"""Referrers (signatures, SBOMs, attestations) added to a promoted image after its promotion follow it.

Why: a signature is often pushed after the image, and after its promotion. The copy engine re-syncs
only the referrers the target lacks (bounded per call; the rest are counted as deferred and follow
next time), so re-running the copy of a promoted image is cheap and idempotent. This runs:
- when a referrer is pushed into the source: a `sha256-<hex>[.sig|.att|.sbom]` tag names its subject,
  an untagged OCI 1.1 referrer names it in its manifest's `subject`;
- on every scheduled `reconcile`, for a bounded batch of promoted images, resumed by a cursor in the
  ledger, so every promoted image is visited in turn.
A push of the promoted image itself is decided as usual: its copy re-syncs the referrers too.
Gates are not re-checked: the image already passed them; only the referrers travel.
"""

from __future__ import annotations

from collections import defaultdict

from promoter.commands import ImagePushed
from promoter.decision import CopyImage, Decision, TagHeld, settle
from promoter.ports import ImageRecord, ImageStore, Ledger
from promoter.registry.errors import TagConflict
from promoter.registry.reference import is_digest
from promoter.registry.referrers import referrer_tag_subject

RESYNC_BATCH = 20
"""Promoted images whose referrers one scheduled run re-syncs (each costs a few registry calls)."""

REASON = "referrers re-synced"


class ReferrerSync:
    def __init__(self, ledger: Ledger, images: ImageStore) -> None:
        self.ledger = ledger
        self.images = images

    def subject_of_push(self, event: ImagePushed) -> str | None:
        """The image a pushed referrer is about, or None when the push is not a referrer's."""
        if event.tag is not None:
            hex_digest = referrer_tag_subject(event.tag)
            subject = f"sha256:{hex_digest}" if hex_digest else None
            return subject if subject is not None and is_digest(subject) else None
        return self.images.subject_of(event.repository, event.digest)

    def resync(self, repository: str, digest: str, record: ImageRecord) -> list[Decision]:
        """Copy the referrers of a promoted image into each of its targets (already-promoted decisions)."""
        targets: dict[str, set[str]] = defaultdict(set)
        rules: dict[str, str] = {}
        for promotion in record.promotions:
            targets[promotion.target_repository].add(promotion.tag)
            rules[promotion.target_repository] = promotion.rule
        decisions = []
        for target, tags in sorted(targets.items()):
            copy = CopyImage(rules[target], repository, digest, target, tuple(sorted(tags)), (REASON,))
            try:
                result = self.images.promote(repository, digest, target, copy.tags)
            except TagConflict as conflict:
                decisions.append(settle(copy, TagHeld(conflict.tag, conflict.existing_digest), claimed=False))
                continue
            decisions.append(settle(copy, result, claimed=False))
        return decisions

    def scheduled(self) -> list[Decision]:
        """One bounded batch of promoted images; only decisions that moved referrers are reported."""
        images, cursor = self.ledger.promoted_images(self.ledger.resync_cursor(), RESYNC_BATCH)
        decisions: list[Decision] = []
        for repository, digest in images:
            if self.images.tags_of(repository, digest) is None:
                continue  # gone from the source: nothing new can refer to it there
            decisions += [
                decision
                for decision in self.resync(repository, digest, self.ledger.image_record(repository, digest))
                if decision.copy is not None
            ]
        self.ledger.save_resync_cursor(cursor)
        return decisions
