"""Through promoter.entry.handle: events once per state change, backfill with its cursor, the audit on the schedule."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.eventfactory import ci_result_event, push_event, scan_event
from promoter.adapters.audit_state import InMemoryAuditState
from promoter.adapters.event_bus import InMemoryEmissionGuard, OnceOnlyEvents, RecordedEvents
from promoter.adapters.repository_listing import InMemoryRepositoryImages
from promoter.contract import DetailType
from promoter.entry import handle
from promoter.image_batches import ListedImage
from promoter.promotion import Services
from tests.unit.fakes import World, rule, world

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
DETAIL_KEYS = {"rule", "source-repository", "target-repository", "digest", "tags", "reasons"}


@dataclass
class Wired:
    world: World
    services: Services
    events: RecordedEvents
    listing: InMemoryRepositoryImages
    state: InMemoryAuditState

    def invoke(self, event: object) -> dict[str, Any]:
        return handle(event, self.services, request_id=str(uuid.uuid4()))

    def sent(self) -> list[tuple[DetailType, str]]:
        return [(detail_type, detail["digest"]) for detail_type, detail in self.events.events]


class _NoManifests:
    def manifest(self, repository: str, digest: str) -> None:
        return None


@pytest.fixture
def names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"dev-{suffix}", f"prod-{suffix}"


def wired(policy: dict[str, Any]) -> Wired:
    w = world(policy)
    recorded, listing, state = RecordedEvents(), InMemoryRepositoryImages(), InMemoryAuditState()
    services = replace(
        w.services,
        events=OnceOnlyEvents(recorded, InMemoryEmissionGuard()),
        publisher=recorded,
        listing=listing,
        manifests=_NoManifests(),
        audit_state=state,
    )
    return Wired(w, services, recorded, listing, state)


def test_a_duplicate_push_emits_one_image_promoted(names: tuple[str, str]) -> None:
    # Given a rule with no gates and a pushed release tag
    dev, prod = names
    w = wired({"rules": [rule(dev, prod, name="app", tags=["v*"])]})
    digest = w.world.images.add(dev, "v1.0.0")
    event = push_event(dev, digest, "v1.0.0", at=T0)

    # When the same push is delivered twice
    first, second = w.invoke(event), w.invoke(event)

    # Then it is promoted once, announced once, with the documented detail keys
    assert [d["outcome"] for d in first["decisions"] + second["decisions"]] == ["promoted", "already-promoted"]
    assert w.sent() == [(DetailType.IMAGE_PROMOTED, digest)]
    detail = w.events.events[0][1]
    assert set(detail) == DETAIL_KEYS | {"attestation-digest"}
    assert (detail["rule"], detail["source-repository"], detail["target-repository"]) == ("app", dev, prod)
    assert detail["tags"] == ["v1.0.0"]


def test_a_rejection_and_a_conflict_are_each_announced_once(names: tuple[str, str]) -> None:
    dev, prod = names
    require = {"tests": ["integration"], "scan": {"fail_on": ["CRITICAL"]}}
    w = wired({"rules": [rule(dev, prod, tags=["v*"], require=require)]})
    dirty = w.world.images.add(dev, "v4.0.0")
    held = w.world.images.add(prod, "v5")
    rebuilt = w.world.images.add(dev, "v5")
    for digest in (dirty, rebuilt):
        w.invoke(ci_result_event(dev, digest, "integration", "PASSED", at=T0))

    # When each decision is reached twice (a redelivered scan event)
    for _ in range(2):
        rejected = w.invoke(scan_event(dev, dirty, {"CRITICAL": 2}, ["v4.0.0"]))
        conflict = w.invoke(scan_event(dev, rebuilt, {"LOW": 1}, ["v5"]))

    # Then each is announced exactly once
    assert rejected["decisions"][0]["outcome"] == "rejected"
    assert conflict["decisions"][0]["outcome"] == "conflict"
    assert sorted(w.sent()) == sorted(
        [(DetailType.PROMOTION_REJECTED, dirty), (DetailType.PROMOTION_CONFLICT, rebuilt)]
    )
    assert all(set(detail) == DETAIL_KEYS for _, detail in w.events.events)
    assert w.world.images.digest_for_tag(prod, "v5") == held


def test_dry_runs_status_and_pending_decisions_announce_nothing(names: tuple[str, str]) -> None:
    dev, prod = names
    w = wired({"rules": [rule(dev, prod, tags=["v*"], require={"tests": ["integration"]})]})
    digest = w.world.images.add(dev, "v2")

    pending = w.invoke(push_event(dev, digest, "v2", at=T0))
    w.invoke({"action": "promote", "repository": dev, "digest": digest, "dry_run": True})
    w.invoke({"action": "status", "repository": dev, "digest": digest})

    assert pending["decisions"][0]["outcome"] == "pending"
    assert w.events.events == []


def test_without_an_event_bus_nothing_is_announced_or_marked(names: tuple[str, str]) -> None:
    # Given the services as wiring builds them with EVENT_BUS unset (no events object)
    dev, prod = names
    w = world({"rules": [rule(dev, prod, tags=["v*"])]})
    digest = w.images.add(dev, "v1")

    response = handle(push_event(dev, digest, "v1", at=T0), w.services)

    assert response["decisions"][0]["outcome"] == "promoted"
    assert w.services.events is None


def test_backfill_follows_its_cursor_and_refuses_a_forged_one(names: tuple[str, str]) -> None:
    dev, prod = names
    w = wired({"rules": [rule(dev, prod, name="app", tags=["v*"])]})
    for index in range(120):
        digest = w.world.images.add(dev, f"v{index}")
        w.listing.add(ListedImage(dev, digest, (f"v{index}",), T0))

    responses, request = [], {"action": "reconcile", "scope": "all", "dry_run": True}
    while True:
        response = w.invoke(request)
        responses.append(response)
        if "cursor" not in response:
            break
        request = {**request, "cursor": response["cursor"]}
    forged = w.invoke({"action": "reconcile", "scope": "all", "cursor": "Zm9yZ2Vk"})

    assert [len(r["decisions"]) for r in responses] == [50, 50, 20]
    assert {d["outcome"] for r in responses for d in r["decisions"]} == {"dry-run"}
    assert forged["decisions"] == [] and "cursor" in forged["error"]
    assert w.events.events == []


def test_backfill_promotes_what_qualifies_and_announces_it_once(names: tuple[str, str]) -> None:
    dev, prod = names
    w = wired({"rules": [rule(dev, prod, name="app", tags=["v*"])]})
    digest = w.world.images.add(dev, "v1")
    w.listing.add(ListedImage(dev, digest, ("v1",), T0))

    first = w.invoke({"action": "reconcile", "scope": "all"})
    again = w.invoke({"action": "reconcile", "scope": "all", "rule": "app"})
    unknown = w.invoke({"action": "reconcile", "scope": "all", "rule": "nope"})

    assert "cursor" not in first and [d["outcome"] for d in first["decisions"]] == ["promoted"]
    assert [d["outcome"] for d in again["decisions"]] == ["already-promoted"]
    assert unknown["decisions"] == [] and "nope" in unknown["error"]
    assert w.sent() == [(DetailType.IMAGE_PROMOTED, digest)]


def test_the_schedule_runs_the_audit_and_status_shows_the_finding(names: tuple[str, str]) -> None:
    dev, prod = names
    w = wired({"rules": [rule(dev, prod, name="app", tags=["v*"])]})
    bypass = w.world.images.add(prod, "v9.9.9")
    w.listing.add(ListedImage(prod, bypass, ("v9.9.9",), T0))
    schedule = {
        "id": "s1",
        "source": "aws.events",
        "detail-type": "Scheduled Event",
        "time": T0.isoformat(),
        "account": "111122223333",
        "region": "us-west-2",
        "detail": {},
    }

    handle(schedule, w.services)
    handle({**schedule, "id": "s2"}, w.services)
    manual = w.invoke({"action": "reconcile"})
    status = w.invoke({"action": "status", "repository": prod, "digest": bypass})

    assert w.sent() == [(DetailType.UNRECORDED_IMAGE, bypass)]
    assert manual["decisions"] == []
    assert status["status"]["unrecorded"]["tags"] == ["v9.9.9"]


def test_a_promoted_image_is_not_reported_by_the_audit(names: tuple[str, str]) -> None:
    dev, prod = names
    w = wired({"rules": [rule(dev, prod, name="app", tags=["v*"])]})
    digest = w.world.images.add(dev, "v1")
    w.invoke(push_event(dev, digest, "v1", at=T0))
    w.listing.add(ListedImage(prod, digest, ("v1",), T0))

    w.invoke({"action": "reconcile"})

    assert w.sent() == [(DetailType.IMAGE_PROMOTED, digest)]
