"""Referrers added to a promoted image after its promotion reach the target the next time the image is
evaluated (docs/POLICY.md): a push of the image or of a referrer, or the scheduled run."""

from __future__ import annotations

import uuid
from typing import Any

from promoter import referrer_sync
from promoter.entry import handle
from tests.unit.fakes import World, rule, world


def push(repository: str, digest: str, tag: str | None = None) -> dict[str, Any]:
    detail = {"action-type": "PUSH", "result": "SUCCESS", "repository-name": repository, "image-digest": digest}
    if tag is not None:
        detail["image-tag"] = tag
    return {
        "id": str(uuid.uuid4()),
        "source": "aws.ecr",
        "detail-type": "ECR Image Action",
        "time": "2026-11-29T11:00:00Z",
        "detail": detail,
    }


def promoted() -> tuple[World, str]:
    w = world({"rules": [rule("dev-a", "prod-a", tags=["v*"])]})
    digest = w.images.add("dev-a", "v1")
    (decision,) = handle(push("dev-a", digest, "v1"), w.services)["decisions"]
    assert decision["outcome"] == "promoted"
    return w, digest


def test_a_signature_pushed_by_tag_schema_after_promotion_follows_the_image() -> None:
    # Given a promoted image, When a cosign signature tag for it is pushed into the source
    w, digest = promoted()
    signature = w.images.refer("dev-a", digest, f"sha256-{digest.removeprefix('sha256:')}.sig")

    (decision,) = handle(push("dev-a", signature, f"sha256-{digest.removeprefix('sha256:')}.sig"), w.services)[
        "decisions"
    ]

    # Then the image's copy runs again and reports the referrer it copied
    assert decision["outcome"] == "already-promoted"
    assert decision["digest"] == digest and decision["target_repository"] == "prod-a" and decision["tags"] == ["v1"]
    assert decision["reasons"] == [
        f"prod-a already holds {digest}",
        "referrers: 1 copied, 0 deferred",
        "referrers re-synced",
    ]
    assert decision["copy"]["referrers_copied"] == 1
    assert w.images.copies[-1] == ("dev-a", digest, "prod-a", ("v1",))


def test_an_untagged_oci_referrer_is_traced_to_its_subject() -> None:
    w, digest = promoted()
    referrer = w.images.refer("dev-a", digest)

    (decision,) = handle(push("dev-a", referrer), w.services)["decisions"]

    assert (decision["digest"], decision["outcome"]) == (digest, "already-promoted")
    assert decision["copy"]["referrers_copied"] == 1


def test_a_referrer_of_an_image_never_promoted_is_decided_as_any_push() -> None:
    w = world({"rules": [rule("dev-a", "prod-a", tags=["v*"])]})
    digest = w.images.add("dev-a", "v1")
    referrer = w.images.refer("dev-a", digest)

    (decision,) = handle(push("dev-a", referrer), w.services)["decisions"]

    assert (decision["digest"], decision["outcome"]) == (referrer, "ignored")
    assert w.images.copies == []


def test_a_push_of_the_promoted_image_itself_re_syncs_its_referrers() -> None:
    w, digest = promoted()
    w.images.refer("dev-a", digest)

    (decision,) = handle(push("dev-a", digest, "v1"), w.services)["decisions"]

    assert decision["outcome"] == "already-promoted"
    assert "referrers: 1 copied, 0 deferred" in decision["reasons"]


def test_the_scheduled_run_re_syncs_promoted_images_in_bounded_batches(monkeypatch) -> None:
    # Given three promoted images, two of which got a signature afterwards, and batches of two
    monkeypatch.setattr(referrer_sync, "RESYNC_BATCH", 2)
    w = world({"rules": [rule("dev-a", "prod-a", tags=["v*"])]})
    digests = [w.images.add("dev-a", f"v{n}") for n in range(3)]
    for n, digest in enumerate(digests):
        handle(push("dev-a", digest, f"v{n}"), w.services)
    for digest in digests[:2]:
        w.images.refer("dev-a", digest)
    schedule = {"id": "s", "source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-11-29T12:00:00Z"}
    schedule["detail"] = {}

    # When the schedule fires three times
    runs, visited = [], []
    for n in range(3):
        before = len(w.images.copies)
        runs.append(handle({**schedule, "id": f"s{n}"}, w.services)["decisions"])
        visited.append(len(w.images.copies) - before)

    # Then each run visits at most two images, the cursor moves on and wraps, and every signature arrives once
    assert visited == [2, 1, 2]
    synced = [decision["digest"] for run in runs for decision in run]
    assert sorted(synced) == sorted(digests[:2])
    assert all(d["outcome"] == "already-promoted" for run in runs for d in run)
