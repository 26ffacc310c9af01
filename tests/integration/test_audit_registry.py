"""Local mode against the real CNCF registry: the OCI listing (`/v2/_catalog`, `tags/list`) feeds the
bypass audit and the backfill's bounded batches.

distribution 2.8 has no referrers API and lists only tagged manifests (NOTES.md); the audit there
sees what `tags/list` shows, which is what a local demo pushes.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from devtools import images
from devtools.localregistry import LocalRegistry
from promoter.adapters.audit_state import InMemoryAuditState
from promoter.adapters.event_bus import RecordedEvents
from promoter.adapters.memory import InMemoryLedger
from promoter.adapters.repository_listing import OciRepositoryImages
from promoter.audit import BypassAudit, RegistryManifests
from promoter.contract import DetailType
from promoter.image_batches import next_batch
from promoter.policy import load_policy
from promoter.registry import RegistryClient

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def test_local_audit_reports_a_direct_push_into_a_name_target(registry: LocalRegistry) -> None:
    # Given a policy dev<x>-* -> prod<x>-{name}, one promoted image and one pushed straight into prod<x>-api
    unique = uuid.uuid4().hex[:8]
    policy = load_policy(
        json.dumps({"rules": [{"name": "svc", "source": f"dev{unique}-*", "target": f"prod{unique}-{{name}}"}]})
    )
    target = f"prod{unique}-api"
    layers = images.random_layers(1, 512)
    promoted = images.push_image(registry.url, target, "v1.0.0", layers)
    bypass = images.push_image(registry.url, target, "v6.6.6", images.random_layers(1, 512))
    ledger = InMemoryLedger()
    ledger.claim_promotion(
        f"dev{unique}-api", promoted.digest, target=target, tag="v1.0.0", rule="svc", event_id="e", at=NOW
    )
    client = RegistryClient.for_endpoint(registry.url)
    events = RecordedEvents()

    # When the audit runs
    report = BypassAudit(
        policy,
        records=ledger,
        lister=OciRepositoryImages(client),
        manifests=RegistryManifests(client),
        state=InMemoryAuditState(),
        publisher=events,
        clock=lambda: NOW,
    ).run()

    # Then the direct push is the one finding, traced to the source it would have come from
    assert [(f.repository, f.digest, f.source_repository) for f in report.findings] == [
        (target, bypass.digest, f"dev{unique}-api")
    ]
    assert [detail_type for detail_type, _ in events.events] == [DetailType.UNRECORDED_IMAGE]


def test_oci_listing_walks_a_repository_in_bounded_batches(registry: LocalRegistry) -> None:
    # Given 12 tagged images in one repository
    repository = f"dev{uuid.uuid4().hex[:8]}-svc"
    pushed = {
        images.push_image(registry.url, repository, f"v{i}", images.random_layers(1, 64)).digest for i in range(12)
    }
    listing = OciRepositoryImages(RegistryClient.for_endpoint(registry.url))
    assert listing.repositories(repository[:11] + "*") == [repository]

    # When batches of 5 are taken until the cursor runs out
    seen, cursor, batches = [], None, 0
    while True:
        batch = next_batch(listing, [repository], cursor, limit=5)
        batches += 1
        assert len(batch.images) <= 5
        seen += [image.digest for image in batch.images]
        if batch.cursor is None:
            break
        cursor = batch.cursor

    # Then 3 batches saw every image once
    assert batches == 3 and sorted(seen) == sorted(pushed)
