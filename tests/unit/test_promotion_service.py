"""Every outcome of the response contract through the one entry point (`promoter.entry.handle`),
over in-memory adapters: the same decisions as with the real registry and DynamoDB, in milliseconds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from devtools.eventfactory import ci_result_event, codebuild_event, codepipeline_event, push_event, scan_event
from promoter.adapters.ci_runs import RunConfirmation
from promoter.entry import handle
from promoter.gates import SuiteResult
from tests.unit.fakes import World, new_commit, rule, scan_report, world

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"dev-{suffix}", f"prod-{suffix}"


def gated(dev: str, prod: str, *, scan: bool = False, allow_override: bool = False, **extra: object) -> dict:
    require: dict = {"tests": ["integration"]}
    if scan:
        require["scan"] = {"fail_on": ["CRITICAL"]}
    return {"rules": [rule(dev, prod, tags=["v*"], require=require, **extra)], "allow_override": allow_override}


def only(response: dict) -> dict:
    assert "error" not in response, response
    assert len(response["decisions"]) == 1, response
    return response["decisions"][0]  # type: ignore[no-any-return]


def invoke(w: World, event: object) -> dict:
    return handle(event, w.services, request_id=str(uuid.uuid4()))


def test_push_waits_for_tests_then_the_passed_result_promotes(names: tuple[str, str]) -> None:
    # Given a gated rule and a pushed release tag
    dev, prod = names
    w = world(gated(dev, prod))
    digest = w.images.add(dev, "v1.0.0")

    # When the push arrives, Then it is pending; When the suite passes, Then it is promoted
    pending = only(invoke(w, push_event(dev, digest, "v1.0.0", at=T0)))
    promoted = only(invoke(w, ci_result_event(dev, digest, "integration", "PASSED", at=T0)))

    assert (pending["outcome"], pending["reasons"]) == ("pending", ["tests: integration has no result yet"])
    assert promoted["outcome"] == "promoted" and promoted["tags"] == ["v1.0.0"]
    assert w.images.digest_for_tag(prod, "v1.0.0") == digest
    assert w.ledger.pending() == []


def test_a_redelivered_event_is_already_promoted_and_recorded_once(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world({"rules": [rule(dev, prod)]})
    digest = w.images.add(dev, "v6")
    event = push_event(dev, digest, "v6")

    first, second = only(invoke(w, event)), only(invoke(w, event))

    assert (first["outcome"], second["outcome"]) == ("promoted", "already-promoted")
    assert len(w.ledger.image_record(dev, digest).history) == 1
    assert len(w.images.copies) == 2  # the second copy found everything present and wrote nothing new


def test_a_failed_result_after_a_passed_one_rejects_and_a_stale_pass_does_not_win(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(gated(dev, prod, scan=True))
    digest = w.images.add(dev, "v3")

    passed = only(invoke(w, ci_result_event(dev, digest, "integration", "PASSED", at=T0)))
    failed = only(
        invoke(w, ci_result_event(dev, digest, "integration", "FAILED", "https://ci/9", at=T0 + timedelta(1)))
    )
    stale = only(invoke(w, ci_result_event(dev, digest, "integration", "PASSED", at=T0)))

    assert passed["outcome"] == "pending"  # no scan yet
    assert (failed["outcome"], failed["reasons"]) == ("rejected", ["tests: integration FAILED (https://ci/9)"])
    assert stale["outcome"] == "rejected"
    assert w.images.copies == []


def test_scan_events_reject_critical_findings_and_promote_clean_scans(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(gated(dev, prod, scan=True))
    dirty, clean = w.images.add(dev, "v4.0.0"), w.images.add(dev, "v4.0.1")
    for digest in (dirty, clean):
        invoke(w, ci_result_event(dev, digest, "integration", "PASSED", at=T0))

    rejected = only(invoke(w, scan_event(dev, dirty, {"CRITICAL": 2, "LOW": 5}, ["v4.0.0"])))
    promoted = only(invoke(w, scan_event(dev, clean, {"HIGH": 1}, ["v4.0.1"])))

    assert (rejected["outcome"], rejected["reasons"]) == ("rejected", ["scan: 2 CRITICAL finding(s)"])
    assert promoted["outcome"] == "promoted"
    assert w.images.digest_for_tag(prod, "v4.0.0") is None


def test_with_a_scanner_api_the_scan_is_read_from_it_and_recorded_for_status(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(gated(dev, prod, scan=True), apis=True)
    digest = w.images.add(dev, "v1")
    w.scans.found[(dev, digest)] = scan_report(counts={"LOW": 1})

    decision = only(invoke(w, ci_result_event(dev, digest, "integration", "PASSED", at=T0)))
    status = invoke(w, {"action": "status", "repository": dev, "digest": digest})

    assert decision["outcome"] == "promoted"
    assert status["decisions"][0]["outcome"] == "already-promoted"
    assert status["status"]["scan"]["severity_counts"] == {"LOW": 1}


def test_conflict_when_the_target_tag_holds_another_digest_and_it_is_untouched(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world({"rules": [rule(dev, prod, tags=["v*"])]})
    released = w.images.add(prod, "v5")
    rebuilt = w.images.add(dev, "v5")

    decision = only(invoke(w, push_event(dev, rebuilt, "v5")))

    assert decision["outcome"] == "conflict"
    assert decision["reasons"] == [f"{prod}:v5 holds {released}, not {rebuilt}: never overwritten"]
    assert w.images.digest_for_tag(prod, "v5") == released


def test_ignored_inputs_write_nothing(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(gated(dev, prod))
    filtered = w.images.add(dev, "dev-build-17")
    stranger = w.images.add("sandbox-x", "v1")
    failed_push = push_event(dev, filtered, "v1")
    failed_push["detail"]["result"] = "FAILURE"

    by_tag = only(invoke(w, push_event(dev, filtered, "dev-build-17")))
    by_repository = only(invoke(w, push_event("sandbox-x", stranger, "v1")))
    by_result = only(invoke(w, failed_push))

    assert by_tag["outcome"] == "ignored" and by_tag["reasons"] == ["no tag matches v* (tags: dev-build-17)"]
    assert by_repository["outcome"] == "ignored" and by_repository["rule"] is None
    assert by_result["outcome"] == "ignored" and "not a successful push" in by_result["reasons"][0]
    assert w.ledger.pending() == []


def test_dry_run_promotes_nothing_and_writes_nothing(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world({"rules": [rule(dev, prod)]})
    digest = w.images.add(dev, "v7")

    decision = only(invoke(w, {"action": "promote", "repository": dev, "tag": "v7", "dry_run": True}))

    assert (decision["outcome"], decision["digest"]) == ("dry-run", digest)
    assert w.ledger.writes == 0 and w.images.copies == []


def test_override_is_refused_unless_allowed_then_promotes_and_is_recorded(names: tuple[str, str]) -> None:
    dev, prod = names
    request = {"action": "promote", "repository": dev, "tag": "v8", "override": {"reason": "INC-42 hotfix"}}
    refusing, allowing = world(gated(dev, prod)), world(gated(dev, prod, allow_override=True))
    for w in (refusing, allowing):
        w.images.add(dev, "v8")

    refused = only(invoke(refusing, request))
    allowed = only(invoke(allowing, request))
    status = invoke(allowing, {"action": "status", "repository": dev, "tag": "v8"})["status"]

    assert refused["outcome"] == "pending" and refused["reasons"][0].startswith("override refused")
    assert allowed["outcome"] == "promoted" and allowed["override_reason"] == "INC-42 hotfix"
    assert [entry["override_reason"] for entry in status["history"]] == ["INC-42 hotfix"]


def test_override_never_passes_a_failed_gate(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(gated(dev, prod, allow_override=True))
    digest = w.images.add(dev, "v9")
    invoke(w, ci_result_event(dev, digest, "integration", "FAILED"))

    decision = only(invoke(w, {"action": "promote", "repository": dev, "digest": digest, "override": {"reason": "x"}}))

    assert decision["outcome"] == "rejected" and w.images.copies == []


def test_a_deleted_image_is_ignored_and_leaves_the_pending_list(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(gated(dev, prod))
    digest = w.images.add(dev, "v10")
    assert only(invoke(w, push_event(dev, digest, "v10")))["outcome"] == "pending"
    w.images.delete(dev, digest)

    decisions = invoke(w, {"action": "reconcile"})["decisions"]

    assert [(d["outcome"], d["reasons"]) for d in decisions] == [
        ("ignored", [f"image {digest} is not in {dev} (deleted?)"])
    ]
    assert w.ledger.pending() == []


def test_reconcile_promotes_pending_candidates_whose_evidence_arrived(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(gated(dev, prod))
    digest = w.images.add(dev, "v11")
    invoke(w, push_event(dev, digest, "v11"))
    # Given evidence recorded while its own evaluation was lost (a crash after the write)
    w.ledger.record_test(dev, digest, SuiteResult("integration", "PASSED", T0), "lost-event")

    decisions = invoke(w, {"action": "reconcile"})["decisions"]

    assert [(d["digest"], d["outcome"]) for d in decisions] == [(digest, "promoted")]
    assert w.ledger.pending() == []


def test_status_shows_gates_and_history_and_writes_nothing(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world(gated(dev, prod))
    digest = w.images.add(dev, "v12")
    invoke(w, push_event(dev, digest, "v12"))
    writes = w.ledger.writes

    response = invoke(w, {"action": "status", "repository": dev, "tag": "v12"})

    assert w.ledger.writes == writes
    assert response["decisions"][0]["outcome"] == "pending"
    assert (response["status"]["digest"], response["status"]["tags"]) == (digest, ["v12"])
    assert [entry["outcome"] for entry in response["status"]["history"]] == ["pending"]


def test_a_codebuild_success_counts_for_images_tagged_with_its_commit(names: tuple[str, str]) -> None:
    dev, prod = names
    commit = new_commit()
    w = world({"rules": [rule(dev, prod, tags=["v*"], require={"tests": ["codebuild:app-tests"]})]})
    image = w.images.add(dev, commit[:7], "v12.0.0")
    w.images.add(dev, "v12")  # built from another commit: must not be promoted
    invoke(w, push_event(dev, image, commit[:7]))

    decisions = invoke(w, codebuild_event("app-tests", commit))["decisions"]

    assert [(d["digest"], d["outcome"], d["tags"]) for d in decisions] == [(image, "promoted", ["v12.0.0"])]


def test_a_confirmed_pipeline_success_finds_images_through_their_revision_label(names: tuple[str, str]) -> None:
    dev, prod = names
    commit = new_commit()
    w = world({"rules": [rule(dev, prod, require={"tests": ["pipeline:release"]})]}, apis=True)
    image = w.images.add(dev, "v1", revision=commit)
    invoke(w, push_event(dev, image, "v1"))
    w.runs.pipelines[("release", "exec-1")] = RunConfirmation(succeeded=True, status="Succeeded", revisions=(commit,))

    decision = only(invoke(w, codepipeline_event("release", "exec-1")))

    assert (decision["digest"], decision["outcome"]) == (image, "promoted")


def test_a_success_seen_before_the_push_is_applied_when_the_image_arrives(names: tuple[str, str]) -> None:
    dev, prod = names
    commit = new_commit()
    w = world({"rules": [rule(dev, prod, require={"tests": ["codebuild:app-tests"]})]})
    early = only(invoke(w, codebuild_event("app-tests", commit)))
    image = w.images.add(dev, commit)

    decision = only(invoke(w, push_event(dev, image, commit)))

    assert early["outcome"] == "ignored" and "no image built from it yet" in early["reasons"][0]
    assert decision["outcome"] == "promoted"


def test_a_build_success_without_a_source_revision_is_ignored_with_a_reason() -> None:
    w = world({"rules": [rule("dev-a", "prod-a", require={"tests": ["codebuild:app"]})]})
    event = codebuild_event("app", "unused")
    event["detail"]["additional-information"] = {}

    decision = only(invoke(w, event))

    assert decision["outcome"] == "ignored" and decision["reasons"] == [
        "codebuild:app succeeded but names no source revision"
    ]


@pytest.mark.parametrize(
    "event",
    [
        None,
        "promote everything",
        {"action": "promote", "repository": "../../prod-a", "tag": "v1"},
        {"action": "nuke"},
        {"source": "ecr-promoter", "detail-type": "Image Test Result", "detail": {"result": "PASSED"}},
    ],
)
def test_unreadable_input_is_an_error_and_writes_nothing(event: object) -> None:
    w = world({"rules": [rule("dev-a", "prod-a")]})

    response = invoke(w, event)

    assert response["decisions"] == [] and response["error"]
    assert w.ledger.writes == 0


def test_a_manual_request_for_a_missing_image_is_an_error(names: tuple[str, str]) -> None:
    dev, prod = names
    w = world({"rules": [rule(dev, prod)]})

    response = invoke(w, {"action": "promote", "repository": dev, "tag": "v404"})

    assert response == {"decisions": [], "error": f"{dev}:v404 not found"}
