"""Scan evidence as AWS gives it: basic and enhanced (Inspector) scans, scans that never finish,
image indexes scanned through their platform images, and scan events that are only triggers.

Shapes: ECR user guide (ecr-eventbridge, image-scanning-enhanced-events); DescribeImageScanFindings
answers as promoter.adapters.scans reports them (ACTIVE without completion is pending: aws/aws-cli#6759).
"""

from __future__ import annotations

import uuid

import pytest

from devtools.eventfactory import ci_result_event, push_event, scan_event
from promoter.adapters.scans import ScanState
from promoter.entry import handle
from tests.unit.fakes import ACCOUNT, World, new_digest, rule, scan_report, world


@pytest.fixture
def names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"dev-{suffix}", f"prod-{suffix}"


def scanned(dev: str, prod: str) -> dict:
    return {"rules": [rule(dev, prod, tags=["v*"], require={"scan": {"fail_on": ["CRITICAL", "HIGH"]}})]}


def invoke(w: World, event: object) -> list[dict]:
    response = handle(event, w.services, request_id=str(uuid.uuid4()))
    assert "error" not in response, response
    return response["decisions"]  # type: ignore[no-any-return]


def outcome(decisions: list[dict]) -> tuple[str, list[str]]:
    assert len(decisions) == 1, decisions
    return decisions[0]["outcome"], decisions[0]["reasons"]


def inspector_event(repository: str, digest: str, counts: dict[str, int], account: str = ACCOUNT) -> dict:
    """An `Inspector2 Scan` event in the documented shape (repository-name is the repository ARN)."""
    event = scan_event(repository, digest, counts, ["v1"])
    event.update({"source": "aws.inspector2", "detail-type": "Inspector2 Scan"})
    event["detail"]["scan-status"] = "INITIAL_SCAN_COMPLETE"
    event["detail"]["repository-name"] = f"arn:aws:ecr:us-west-2:{account}:repository/{repository}"
    event["detail"]["finding-severity-counts"] = {**counts, "TOTAL": sum(counts.values())}
    return event


# ---- with ECR: the event is a trigger, the API is the evidence ---------------------------------


def test_a_forged_clean_scan_event_does_not_pass_an_image_the_api_finds_critical(names: tuple[str, str]) -> None:
    # Given ECR's API reports a CRITICAL finding for the image
    dev, prod = names
    w = world(scanned(dev, prod), apis=True)
    digest = w.images.add(dev, "v1")
    w.scans.found[(dev, digest)] = scan_report(counts={"CRITICAL": 1})

    # When someone invokes the function with a scan event claiming zero findings
    decisions = invoke(w, scan_event(dev, digest, {}, ["v1"]))

    # Then the API's answer decides
    assert outcome(decisions) == ("rejected", ["scan: 1 CRITICAL finding(s)"])
    assert w.images.copies == []


def test_an_enhanced_scan_still_active_without_completion_is_pending(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(scanned(dev, prod), apis=True)
    digest = w.images.add(dev, "v1")
    w.scans.found[(dev, digest)] = scan_report(ScanState.PENDING, status="ACTIVE", mode="enhanced")

    decisions = invoke(w, inspector_event(dev, digest, {}))

    assert outcome(decisions) == ("pending", ["scan: ACTIVE, not complete yet"])


def test_an_inspector_scan_event_reads_the_repository_from_its_arn_and_promotes_a_clean_image(
    names: tuple[str, str],
) -> None:
    dev, prod = names
    w = world(scanned(dev, prod), apis=True)
    digest = w.images.add(dev, "v1")
    w.scans.found[(dev, digest)] = scan_report(counts={"MEDIUM": 4}, mode="enhanced")

    decisions = invoke(w, inspector_event(dev, digest, {"MEDIUM": 4}))

    assert outcome(decisions)[0] == "promoted"
    assert w.images.digest_for_tag(prod, "v1") == digest


def test_a_scan_event_about_another_accounts_registry_is_ignored(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(scanned(dev, prod), apis=True)
    digest = w.images.add(dev, "v1")

    decisions = invoke(w, inspector_event(dev, digest, {}, account="444455556666"))

    assert outcome(decisions) == (
        "ignored",
        [f"scan of a repository in account 444455556666, not this account ({ACCOUNT})"],
    )
    assert w.scans.reads == 0 and w.ledger.writes == 0


@pytest.mark.parametrize("status", ["FAILED", "UNSUPPORTED_IMAGE", "SCAN_ELIGIBILITY_EXPIRED"])
def test_a_scan_that_can_never_complete_rejects_with_the_scanners_reason(names: tuple[str, str], status: str) -> None:
    dev, prod = names
    w = world(scanned(dev, prod), apis=True)
    digest = w.images.add(dev, "v1")
    w.scans.found[(dev, digest)] = scan_report(ScanState.FAILED, status=status, description="cannot be scanned")

    decisions = invoke(w, push_event(dev, digest, "v1"))

    assert outcome(decisions) == ("rejected", [f"scan: {status}: cannot be scanned (the scan can never complete)"])


def test_no_scan_yet_is_pending_and_a_later_trigger_re_reads_it(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(scanned(dev, prod), apis=True)
    digest = w.images.add(dev, "v1")

    first = invoke(w, push_event(dev, digest, "v1"))
    w.scans.found[(dev, digest)] = scan_report(counts={"LOW": 2})
    second = invoke(w, {"action": "reconcile"})

    assert outcome(first) == ("pending", ["scan: no completed scan yet"])
    assert outcome(second)[0] == "promoted"


# ---- local mode: the events are the evidence ------------------------------------------------


def test_in_local_mode_an_inspector_event_is_the_evidence(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(scanned(dev, prod))
    dirty, clean = w.images.add(dev, "v1"), w.images.add(dev, "v2")

    rejected = invoke(w, inspector_event(dev, dirty, {"HIGH": 3}))
    promoted = invoke(w, inspector_event(dev, clean, {"LOW": 1}))

    assert outcome(rejected) == ("rejected", ["scan: 3 HIGH finding(s)"])
    assert outcome(promoted)[0] == "promoted"


def test_in_local_mode_an_unsupported_image_scan_event_rejects(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(scanned(dev, prod))
    digest = w.images.add(dev, "v1")
    event = scan_event(dev, digest, {}, ["v1"])
    event["detail"]["scan-status"] = "UNSUPPORTED_IMAGE"

    decisions = invoke(w, event)

    assert outcome(decisions) == ("rejected", ["scan: UNSUPPORTED_IMAGE (the scan can never complete)"])


# ---- image indexes: scanned through their platform images ------------------------------------


def index_world(dev: str, prod: str, *, apis: bool) -> tuple[World, str, tuple[str, str]]:
    w = world(scanned(dev, prod), apis=apis)
    amd64, arm64 = w.images.add(dev), w.images.add(dev)  # untagged platform images
    index = w.images.add(dev, "v1")
    w.images.children[(dev, index)] = (amd64, arm64)
    return w, index, (amd64, arm64)


def test_an_index_waits_for_every_platform_image_then_the_last_child_scan_promotes_it(
    names: tuple[str, str],
) -> None:
    # Given a tagged index whose two platform images are scanned one after the other (ECR mode)
    dev, prod = names
    w, index, (amd64, arm64) = index_world(dev, prod, apis=True)
    w.scans.found[(dev, amd64)] = scan_report(counts={"LOW": 1})

    # When the index is pushed, Then it waits for the arm64 image
    pushed = invoke(w, push_event(dev, index, "v1"))
    # When the arm64 image's scan event arrives (image-tags: [] : it names only the child)
    w.scans.found[(dev, arm64)] = scan_report(counts={"MEDIUM": 2})
    child_scanned = invoke(w, scan_event(dev, arm64, {"MEDIUM": 2}, []))

    assert outcome(pushed) == ("pending", [f"scan: platform image(s) not scanned yet: {arm64} (no scan yet)"])
    # Then the index it belongs to is decided, and promoted
    assert [(d["digest"], d["outcome"]) for d in child_scanned] == [(index, "promoted")]
    assert w.images.digest_for_tag(prod, "v1") == index


def test_the_worst_platform_image_decides_even_while_another_is_unscanned(names: tuple[str, str]) -> None:
    dev, prod = names
    w, index, (amd64, _) = index_world(dev, prod, apis=True)
    w.scans.found[(dev, amd64)] = scan_report(counts={"HIGH": 1})

    decisions = invoke(w, push_event(dev, index, "v1"))

    assert outcome(decisions) == ("rejected", ["scan: 1 HIGH finding(s)"])


def test_a_platform_image_that_can_never_be_scanned_rejects_the_index(names: tuple[str, str]) -> None:
    dev, prod = names
    w, index, (amd64, arm64) = index_world(dev, prod, apis=True)
    w.scans.found[(dev, amd64)] = scan_report(counts={})
    w.scans.found[(dev, arm64)] = scan_report(ScanState.FAILED, status="UNSUPPORTED_IMAGE", description="scratch")

    decisions = invoke(w, push_event(dev, index, "v1"))

    reason = f"scan: platform image {arm64}: UNSUPPORTED_IMAGE: scratch (the scan can never complete)"
    assert outcome(decisions) == ("rejected", [reason])


def test_in_local_mode_child_scan_events_are_the_evidence_of_their_index(names: tuple[str, str]) -> None:
    dev, prod = names
    w, index, (amd64, arm64) = index_world(dev, prod, apis=False)
    invoke(w, push_event(dev, index, "v1"))  # the index is seen: its children are linked to it

    first = invoke(w, scan_event(dev, amd64, {"LOW": 1}, []))
    second = invoke(w, scan_event(dev, arm64, {"CRITICAL": 1}, []))

    assert [(d["digest"], d["outcome"]) for d in first] == [(index, "pending")]
    assert [(d["digest"], d["outcome"], d["reasons"]) for d in second] == [
        (index, "rejected", ["scan: 1 CRITICAL finding(s)"])
    ]


def test_a_scan_event_for_an_image_of_no_known_index_decides_that_image(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(scanned(dev, prod))
    digest = new_digest()
    w.images.add(dev, "v1", digest=digest)

    decisions = invoke(w, scan_event(dev, digest, {}, ["v1"]))

    assert [(d["digest"], d["outcome"]) for d in decisions] == [(digest, "promoted")]


def test_tests_and_scans_together_still_need_both(names: tuple[str, str]) -> None:
    dev, prod = names
    policy = {"rules": [rule(dev, prod, require={"tests": ["it"], "scan": {"fail_on": ["CRITICAL"]}})]}
    w = world(policy, apis=True)
    digest = w.images.add(dev, "v1")
    w.scans.found[(dev, digest)] = scan_report(counts={})

    decisions = invoke(w, ci_result_event(dev, digest, "it", "PASSED"))

    assert outcome(decisions)[0] == "promoted"
