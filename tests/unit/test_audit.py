"""The bypass audit over in-memory adapters: what counts as accounted for, what is reported, once, in bounded runs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from promoter.adapters.audit_state import InMemoryAuditState
from promoter.adapters.event_bus import EventNotPublished, RecordedEvents
from promoter.adapters.memory import InMemoryLedger
from promoter.adapters.repository_listing import InMemoryRepositoryImages
from promoter.audit import BypassAudit, target_repositories
from promoter.contract import DetailType, Outcome
from promoter.image_batches import ListedImage
from promoter.policy import load_policy
from promoter.ports import HistoryEntry
from promoter.registry.manifest import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Manifest
from tests.unit.fakes import NOW, new_digest, rule

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
POLICY = load_policy(
    json.dumps(
        {
            "rules": [
                rule("dev-microservice", "prod-microservice", name="microservice"),
                rule("team-*", "prod-team-{name}", name="teams"),
            ]
        }
    )
)


def _blob() -> dict[str, Any]:
    return {"mediaType": LAYER, "digest": new_digest(), "size": 10}


def image_manifest(*, runnable: bool = True, subject: str | None = None) -> Manifest:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": new_digest(), "size": 2},
        "layers": [
            _blob() if runnable else {**_blob(), "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json"}
        ],
    }
    if subject is not None:
        document["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject, "size": 100}
    return Manifest.from_bytes(json.dumps(document).encode(), OCI_MANIFEST)


def index_manifest(children: list[str]) -> Manifest:
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": child, "size": 100} for child in children],
    }
    return Manifest.from_bytes(json.dumps(document).encode(), OCI_INDEX)


@dataclass
class Scene:
    """A registry listing, the manifests behind it, a ledger, and the audit's state and events."""

    ledger: InMemoryLedger = field(default_factory=InMemoryLedger)
    listing: InMemoryRepositoryImages = field(default_factory=InMemoryRepositoryImages)
    held: dict[tuple[str, str], Manifest] = field(default_factory=dict)
    state: InMemoryAuditState = field(default_factory=InMemoryAuditState)
    events: RecordedEvents = field(default_factory=RecordedEvents)

    def manifest(self, repository: str, digest: str) -> Manifest | None:
        return self.held.get((repository, digest))

    def push(self, repository: str, *tags: str, manifest: Manifest | None = None) -> str:
        manifest = manifest or image_manifest()
        media = OCI_INDEX if manifest.is_index else DOCKER_MANIFEST
        digest = manifest.digest
        self.held[(repository, digest)] = manifest
        self.listing.add(ListedImage(repository, digest, tags, NOW - timedelta(hours=1), media))
        return digest

    def promote(self, source: str, target: str, *tags: str, manifest: Manifest | None = None) -> str:
        digest = self.push(target, *tags, manifest=manifest)
        for tag in tags:
            self.ledger.claim_promotion(source, digest, target=target, tag=tag, rule="r", event_id="e", at=NOW)
        return digest

    def audit(self, batch_size: int = 100) -> BypassAudit:
        return BypassAudit(
            POLICY,
            records=self.ledger,
            lister=self.listing,
            manifests=self,
            state=self.state,
            publisher=self.events,
            clock=lambda: NOW,
            batch_size=batch_size,
        )

    def reported(self) -> list[str]:
        return [
            detail["digest"] for detail_type, detail in self.events.events if detail_type is DetailType.UNRECORDED_IMAGE
        ]


def test_an_image_pushed_straight_into_a_target_is_reported_once() -> None:
    # Given one promoted image and one pushed directly into the target
    scene = Scene()
    scene.promote("dev-microservice", "prod-microservice", "v1.0.0")
    bypass = scene.push("prod-microservice", "v6.6.6")

    # When the audit runs twice (two scheduled runs, each a full pass)
    first = scene.audit().run()
    second = scene.audit().run()

    # Then only the bypass was reported, once, with the contract's event shape
    assert [finding.digest for finding in first.findings] == [bypass]
    assert second.findings == [] and first.pass_complete
    assert scene.reported() == [bypass]
    detail = scene.events.events[0][1]
    assert set(detail) == {"rule", "source-repository", "target-repository", "digest", "tags", "reasons"}
    assert detail["target-repository"] == "prod-microservice" and detail["tags"] == ["v6.6.6"]
    assert detail["rule"] == "microservice" and detail["source-repository"] == "dev-microservice"
    assert scene.state.unrecorded("prod-microservice", bypass) is not None  # what `status` shows


def test_an_already_promoted_decision_accounts_for_the_image() -> None:
    # Given the copy happened but the claim was lost: the ledger has an already-promoted decision
    scene = Scene()
    digest = scene.push("prod-microservice", "v2.0.0")
    entry = HistoryEntry(
        "e", NOW, "microservice", "prod-microservice", ("v2.0.0",), Outcome.ALREADY_PROMOTED, (), "push"
    )
    scene.ledger.record_decision("dev-microservice", digest, entry)

    assert scene.audit().run().findings == []


def test_a_rejected_decision_does_not_account_for_the_image() -> None:
    scene = Scene()
    digest = scene.push("prod-microservice", "v2.0.0")
    entry = HistoryEntry("e", NOW, "microservice", "prod-microservice", ("v2.0.0",), Outcome.REJECTED, (), "push")
    scene.ledger.record_decision("dev-microservice", digest, entry)

    assert [f.digest for f in scene.audit().run().findings] == [digest]


def test_name_targets_are_found_by_pattern_and_traced_to_their_source() -> None:
    # Given prod-team-api (promoted from team-api) and prod-team-web holding a pushed image
    scene = Scene()
    scene.promote("team-api", "prod-team-api", "v1")
    bypass = scene.push("prod-team-web", "v1")
    scene.push("unrelated", "v1")

    findings = scene.audit().run().findings

    assert target_repositories(POLICY, scene.listing) == ["prod-microservice", "prod-team-api", "prod-team-web"]
    assert [(f.digest, f.rule, f.source_repository) for f in findings] == [(bypass, "teams", "team-web")]


def test_a_promotion_from_another_source_does_not_count() -> None:
    # Given the digest was promoted from team-api into prod-team-api, and also pushed into prod-team-web
    scene = Scene()
    manifest = image_manifest()
    scene.promote("team-api", "prod-team-api", "v1", manifest=manifest)
    copied = scene.push("prod-team-web", "v1", manifest=manifest)

    assert [f.digest for f in scene.audit().run().findings] == [copied]


def test_referrers_of_promoted_images_are_ignored_and_of_bypasses_reported() -> None:
    # Given a promoted image with an untagged attestation (subject) and a signature on that attestation,
    # and a bypass image with its own referrer
    scene = Scene()
    promoted = scene.promote("dev-microservice", "prod-microservice", "v1")
    attestation = scene.push("prod-microservice", manifest=image_manifest(runnable=False, subject=promoted))
    scene.push("prod-microservice", manifest=image_manifest(runnable=False, subject=attestation))
    bypass = scene.push("prod-microservice", "evil")
    its_referrer = scene.push("prod-microservice", manifest=image_manifest(runnable=False, subject=bypass))

    findings = scene.audit().run().findings

    assert sorted(f.digest for f in findings) == sorted([bypass, its_referrer])


def test_a_runnable_image_naming_a_promoted_subject_is_reported() -> None:
    scene = Scene()
    promoted = scene.promote("dev-microservice", "prod-microservice", "v1")
    smuggled = scene.push("prod-microservice", "latest", manifest=image_manifest(runnable=True, subject=promoted))

    assert [f.digest for f in scene.audit().run().findings] == [smuggled]


def test_tag_schema_referrers_count_only_when_they_are_not_runnable() -> None:
    # Given a promoted image, its cosign signature by tag, its fallback index, and a runnable image
    # disguised with a signature tag
    scene = Scene()
    promoted = scene.promote("dev-microservice", "prod-microservice", "v1")
    hex_part = promoted.removeprefix("sha256:")
    scene.push("prod-microservice", f"sha256-{hex_part}.sig", manifest=image_manifest(runnable=False))
    referrer = scene.push("prod-microservice", manifest=image_manifest(runnable=False, subject=promoted))
    scene.push("prod-microservice", f"sha256-{hex_part}", manifest=index_manifest([referrer]))
    disguised = scene.push("prod-microservice", f"sha256-{hex_part}.att", manifest=image_manifest(runnable=True))

    findings = scene.audit().run().findings

    assert [f.digest for f in findings] == [disguised]


def test_a_fallback_index_listing_a_runnable_image_is_reported() -> None:
    scene = Scene()
    promoted = scene.promote("dev-microservice", "prod-microservice", "v1")
    smuggled = image_manifest()
    scene.held[("prod-microservice", smuggled.digest)] = smuggled
    index = scene.push(
        "prod-microservice", f"sha256-{promoted.removeprefix('sha256:')}", manifest=index_manifest([smuggled.digest])
    )

    assert [f.digest for f in scene.audit().run().findings] == [index]


def test_platform_images_of_a_promoted_index_are_ignored_orphans_reported() -> None:
    # Given a promoted index whose two platform images ECR lists untagged, and an untagged orphan
    scene = Scene()
    children = [scene.push("prod-microservice") for _ in range(2)]
    scene.promote("dev-microservice", "prod-microservice", "v1", manifest=index_manifest(children))
    orphan = scene.push("prod-microservice")

    assert [f.digest for f in scene.audit().run().findings] == [orphan]


def test_bounded_runs_resume_from_the_stored_cursor_and_cover_everything() -> None:
    # Given 25 direct pushes over two targets
    scene = Scene()
    pushed = {scene.push("prod-microservice", f"t{i}") for i in range(15)}
    pushed |= {scene.push("prod-team-api", f"t{i}") for i in range(10)}

    # When the audit runs with batches of 10 until a pass completes
    runs = []
    while not runs or not runs[-1].pass_complete:
        runs.append(scene.audit(batch_size=10).run())
        assert runs[-1].scanned <= 10

    # Then 3 runs covered all 25, and a new pass reports nothing again
    assert len(runs) == 3
    assert {f.digest for run in runs for f in run.findings} == pushed
    assert scene.state.cursor is None
    assert scene.audit(batch_size=10).run().findings == []
    assert len(scene.reported()) == 25


def test_a_mangled_stored_cursor_starts_a_new_pass() -> None:
    scene = Scene()
    bypass = scene.push("prod-microservice", "v1")
    scene.state.cursor = "garbage"

    assert [f.digest for f in scene.audit().run().findings] == [bypass]


class RefusingBus(RecordedEvents):
    def publish(self, detail_type: DetailType, detail: Any) -> None:
        raise EventNotPublished("throttled")


def test_an_event_that_could_not_be_published_is_reported_by_the_next_run() -> None:
    scene = Scene()
    bypass = scene.push("prod-microservice", "v1")
    failing = BypassAudit(
        POLICY,
        records=scene.ledger,
        lister=scene.listing,
        manifests=scene,
        state=scene.state,
        publisher=RefusingBus(),
        clock=lambda: NOW,
    )

    with pytest.raises(EventNotPublished):
        failing.run()

    assert scene.state.unrecorded("prod-microservice", bypass) is None
    assert [f.digest for f in scene.audit().run().findings] == [bypass]


def test_manifest_digests_are_what_the_scene_lists() -> None:
    """Guards the fixture: Manifest.digest is sha256 of the exact bytes."""
    manifest = image_manifest()
    assert manifest.digest == "sha256:" + hashlib.sha256(manifest.data).hexdigest()
