"""Backfill: which images a `reconcile --all` batch takes, the cursor that resumes it, and the requests it refuses.

The images go through the real PromotionService.evaluate over in-memory adapters, so a test that
says "promoted" exercises the same gates a push would.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from promoter.adapters.repository_listing import InMemoryRepositoryImages
from promoter.backfill import (
    BackfillRequest,
    InvalidBackfill,
    UnknownRule,
    read_request,
    run_backfill,
    source_repositories,
)
from promoter.contract import Outcome
from promoter.decision import Decision, RuleMatch, Trigger
from promoter.image_batches import Cursor, InvalidCursor, ListedImage, next_batch
from promoter.promotion import PromotionService
from tests.unit.fakes import NOW, World, rule, world

POLICY = {
    "rules": [
        rule("dev-*", "prod-{name}", name="services", tags=["v*"]),
        rule("tools-cli", "prod-cli", name="cli", tags=["*"], require={"tests": ["integration"]}),
    ]
}


def seed(w: World, listing: InMemoryRepositoryImages, repository: str, count: int, *, age_days: int = 0) -> None:
    for index in range(count):
        digest = w.images.add(repository, f"v{index}.0.0")
        pushed = NOW - timedelta(days=age_days, minutes=index)
        listing.add(ListedImage(repository, digest, (f"v{index}.0.0",), pushed))


def evaluator(w: World, dry_run: bool = False) -> Any:
    service = PromotionService(w.services)
    trigger = Trigger("backfill-1", NOW, "backfill", dry_run=dry_run)

    def evaluate(repository: str, digest: str, matches: list[RuleMatch]) -> list[Decision]:
        return service.evaluate(repository, digest, matches, trigger)

    return evaluate


def follow(
    w: World, listing: InMemoryRepositoryImages, request: BackfillRequest, batch: int
) -> tuple[list[Decision], int]:
    """What the CLI does: call again with the cursor until there is none; returns decisions and invocations."""
    decisions: list[Decision] = []
    invocations = 0
    while True:
        invocations += 1
        result = run_backfill(w.services.policy, listing, request, evaluator(w, request.dry_run), batch_size=batch)
        assert result.images <= batch
        decisions += result.decisions
        if result.cursor is None:
            return decisions, invocations
        request = BackfillRequest(request.since, request.rule, Cursor.decode(result.cursor), request.dry_run)


def test_every_source_image_is_evaluated_once_in_bounded_batches() -> None:
    # Given 3 source repositories (two matched by a glob) holding 23 images, and an unrelated one
    w, listing = world(POLICY), InMemoryRepositoryImages()
    seed(w, listing, "dev-a", 10)
    seed(w, listing, "dev-b", 8)
    seed(w, listing, "tools-cli", 5)
    seed(w, listing, "other", 4)

    # When the backfill is followed with batches of 5
    decisions, invocations = follow(w, listing, BackfillRequest(), batch=5)

    # Then each source image was decided once, in ceil(23/5) invocations, none from `other`
    assert invocations == 5
    assert len({d.digest for d in decisions}) == 23
    assert not [d for d in decisions if d.source_repository == "other"]
    promoted = [d for d in decisions if d.outcome is Outcome.PROMOTED]
    assert {d.source_repository for d in promoted} == {"dev-a", "dev-b"}
    # the cli rule requires a test nobody recorded: pending, and remembered for the scheduled reconcile
    assert {d.outcome for d in decisions if d.source_repository == "tools-cli"} == {Outcome.PENDING}
    assert len([image for image in w.ledger.pending() if image[0] == "tools-cli"]) == 5


def test_dry_run_plans_and_writes_nothing() -> None:
    w, listing = world(POLICY), InMemoryRepositoryImages()
    seed(w, listing, "dev-a", 3)

    decisions, _ = follow(w, listing, BackfillRequest(dry_run=True), batch=50)

    assert {d.outcome for d in decisions} == {Outcome.DRY_RUN}
    assert w.images.copies == [] and w.ledger.writes == 0


def test_rule_filter_walks_only_that_rules_sources() -> None:
    w, listing = world(POLICY), InMemoryRepositoryImages()
    seed(w, listing, "dev-a", 3)
    seed(w, listing, "tools-cli", 2)

    decisions, _ = follow(w, listing, BackfillRequest(rule="cli"), batch=50)

    assert {d.source_repository for d in decisions} == {"tools-cli"}
    assert {d.rule for d in decisions} == {"cli"}


def test_since_keeps_only_images_pushed_after_it() -> None:
    w, listing = world(POLICY), InMemoryRepositoryImages()
    seed(w, listing, "dev-old", 4, age_days=30)
    seed(w, listing, "dev-new", 3, age_days=1)

    decisions, _ = follow(w, listing, BackfillRequest(since=NOW - timedelta(days=7)), batch=2)

    assert {d.source_repository for d in decisions} == {"dev-new"}
    assert len(decisions) == 3


def test_unknown_rule_is_refused() -> None:
    w, listing = world(POLICY), InMemoryRepositoryImages()
    with pytest.raises(UnknownRule, match="no rule named 'nope'"):
        source_repositories(w.services.policy, listing, "nope")


# ---- the cursor ---------------------------------------------------------------------------------


def test_cursor_round_trip() -> None:
    cursor = Cursor("dev-a", "eyJ0b2tlbiI6IDF9")
    assert Cursor.decode(cursor.encode()) == cursor
    assert Cursor.decode(Cursor("dev-b").encode()) == Cursor("dev-b")


def _forge(body: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


@pytest.mark.parametrize(
    "forged",
    [
        "not base64 !!",
        base64.urlsafe_b64encode(b"not json").decode(),
        _forge(["a list"]),
        _forge({"v": 1, "repository": "dev-a"}),
        _forge({"v": 2, "repository": "dev-a", "token": None}),
        _forge({"v": 1, "repository": "../../etc", "token": None}),
        _forge({"v": 1, "repository": "dev-a", "token": 7}),
        _forge({"v": 1, "repository": "dev-a", "token": None, "admin": True}),
        "x" * 20000,
        "",
    ],
)
def test_a_forged_cursor_is_a_clear_error(forged: str) -> None:
    with pytest.raises(InvalidCursor, match="cursor"):
        Cursor.decode(forged)
    with pytest.raises(InvalidBackfill, match="'cursor'"):
        read_request({"action": "reconcile", "scope": "all", "cursor": forged})


def test_a_token_the_registry_refuses_is_a_bad_cursor() -> None:
    listing = InMemoryRepositoryImages()
    listing.add(ListedImage("dev-a", "sha256:" + "a" * 64))
    with pytest.raises(InvalidCursor, match="offset"):
        next_batch(listing, ["dev-a"], Cursor("dev-a", "forged-token"), limit=5)


def test_a_cursor_on_a_deleted_repository_resumes_at_the_next_one() -> None:
    listing = InMemoryRepositoryImages()
    kept = listing.add(ListedImage("dev-c", "sha256:" + "c" * 64))
    batch = next_batch(listing, ["dev-a", "dev-c"], Cursor("dev-b", "3"), limit=5)
    assert batch.images == (kept,) and batch.cursor is None


def test_a_filter_that_skips_everything_still_ends_each_invocation() -> None:
    # Given 100 old images and a since after all of them, pages of 1
    listing = InMemoryRepositoryImages()
    for index in range(100):
        listing.add(ListedImage("dev-a", f"sha256:{index:064x}", (), datetime(2020, 1, 1, tzinfo=UTC)))

    # When a batch is taken / Then it stops after a bounded number of pages, with a cursor to go on
    batch = next_batch(listing, ["dev-a"], None, limit=1, since=NOW)
    assert batch.images == () and batch.cursor is not None and batch.pages == 20


# ---- reading the request -------------------------------------------------------------------------


def test_read_request_fields() -> None:
    cursor = Cursor("dev-a", "5")
    request = read_request(
        {"action": "reconcile", "scope": "all", "since": "2026-11-01", "rule": "cli", "cursor": cursor.encode()}
    )
    assert request == BackfillRequest(datetime(2026, 11, 1, tzinfo=UTC), "cli", cursor, False)
    assert read_request({"action": "reconcile", "scope": "all", "since": "2026-11-01T10:00:00Z"}).since == datetime(
        2026, 11, 1, 10, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"action": "reconcile", "scope": "some"}, "'scope' must be 'all'"),
        ({"action": "reconcile", "scope": "all", "since": "yesterday"}, "not an ISO date"),
        ({"action": "reconcile", "scope": "all", "since": 20261101}, "'since' must be"),
        ({"action": "reconcile", "scope": "all", "rule": ""}, "'rule' must be"),
        ({"action": "reconcile", "scope": "all", "dry_run": "yes"}, "'dry_run'"),
        ({"action": "reconcile", "scope": "all", "everything": True}, "does not take everything"),
    ],
)
def test_unreadable_requests_say_why(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidBackfill, match=message):
        read_request(raw)


# ---- ECR listing: DescribeImages as AWS documents it ---------------------------------------------
# API reference, DescribeImages (API_DescribeImages.html): "maxResults ... When this parameter is used,
# DescribeImages only returns maxResults results in a single page along with a nextToken response
# element ... This value can be between 1 and 1000"; "nextToken ... This value is null when there are
# no more results to return". moto 5.2.5 ignores both (every image in one page): the adapter slices.


def _detail(digest: str, *tags: str) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "registryId": "111122223333",
        "repositoryName": "dev-a",
        "imageDigest": digest,
        "imagePushedAt": NOW,
        "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
    }
    if tags:
        detail["imageTags"] = list(tags)
    return detail


def _ecr() -> Any:
    import boto3

    return boto3.client("ecr", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")


def test_ecr_pages_follow_next_token_with_the_asked_page_size() -> None:
    from botocore.stub import Stubber

    from promoter.adapters.repository_listing import EcrRepositoryImages

    client = _ecr()
    first, second = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    with Stubber(client) as stubber:
        # Given ECR answers a page of 1 with a nextToken, then the last page
        stubber.add_response(
            "describe_images",
            {"imageDetails": [_detail(first, "v1")], "nextToken": "opaque-ecr-token"},
            {"repositoryName": "dev-a", "maxResults": 1},
        )
        stubber.add_response(
            "describe_images",
            {"imageDetails": [_detail(second)]},
            {"repositoryName": "dev-a", "maxResults": 1, "nextToken": "opaque-ecr-token"},
        )
        listing = EcrRepositoryImages(client)

        # When two batches of one are taken
        one = next_batch(listing, ["dev-a"], None, limit=1)
        two = next_batch(listing, ["dev-a"], one.cursor, limit=1)

    # Then ECR's token crossed the cursor, and the walk ends when ECR gives no token
    assert [image.digest for image in one.images] == [first] and one.images[0].tags == ("v1",)
    assert one.images[0].pushed_at == NOW
    assert [image.digest for image in two.images] == [second] and two.cursor is None


def test_ecr_refusing_a_token_is_a_bad_cursor() -> None:
    from botocore.stub import Stubber

    from promoter.adapters.repository_listing import EcrRepositoryImages

    client = _ecr()
    forged = Cursor("dev-a", json.dumps({"next": "tampered", "skip": 0}, sort_keys=True))
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_images", "InvalidParameterException", http_status_code=400)
        with pytest.raises(InvalidCursor, match="refused the continuation token"):
            next_batch(EcrRepositoryImages(client), ["dev-a"], forged, limit=5)


def test_a_missing_repository_is_an_empty_walk() -> None:
    from botocore.stub import Stubber

    from promoter.adapters.repository_listing import EcrRepositoryImages

    client = _ecr()
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_images", "RepositoryNotFoundException", http_status_code=400)
        batch = next_batch(EcrRepositoryImages(client), ["dev-gone"], None, limit=5)
    assert batch.images == () and batch.cursor is None


def test_a_page_larger_than_asked_is_served_in_slices() -> None:
    from botocore.stub import Stubber

    from promoter.adapters.repository_listing import EcrRepositoryImages

    client = _ecr()
    digests = [f"sha256:{index:064x}" for index in range(3)]
    with Stubber(client) as stubber:
        # Given a server that ignores maxResults (as moto does) and returns all 3 each time
        for _ in range(2):
            stubber.add_response("describe_images", {"imageDetails": [_detail(d) for d in digests]})
        listing = EcrRepositoryImages(client)

        # When batches of 2 are taken until the end
        one = next_batch(listing, ["dev-a"], None, limit=2)
        two = next_batch(listing, ["dev-a"], one.cursor, limit=2)
        stubber.assert_no_pending_responses()

    # Then no image is lost or repeated and the walk ends
    assert [i.digest for i in one.images + two.images] == digests and two.cursor is None
