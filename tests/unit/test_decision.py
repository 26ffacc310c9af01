"""The decision core on its own: plain facts in, one Decision (or a copy to make) per rule out."""

from __future__ import annotations

from datetime import UTC, datetime

from promoter.contract import Outcome
from promoter.decision import Candidate, CopyImage, Decision, TagHeld, Trigger, plan, settle, wanted_tags
from promoter.gates import Evidence, ScanEvidence, SuiteResult
from promoter.policy import load_policy
from tests.unit.fakes import FakeCopy, new_digest

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
POLICY = load_policy(
    {
        "rules": [
            {
                "name": "svc",
                "source": "dev-svc",
                "target": "prod-svc",
                "tags": ["v*"],
                "require": {"tests": ["integration"], "scan": {"fail_on": ["CRITICAL"]}},
            }
        ]
    }
)
MATCHES = POLICY.rules_for("dev-svc")
PASSED = {"integration": SuiteResult("integration", "PASSED", T0)}
CLEAN = ScanEvidence({"HIGH": 3}, T0)


def candidate(tags: tuple[str, ...] = ("v1",), **evidence: object) -> Candidate:
    return Candidate("dev-svc", new_digest(), tags, Evidence(**evidence), pushed_at=T0)  # type: ignore[arg-type]


def trigger(**extra: object) -> Trigger:
    return Trigger("event-1", T0, "test", **extra)  # type: ignore[arg-type]


def only(steps: list[Decision | CopyImage]) -> Decision | CopyImage:
    assert len(steps) == 1, steps
    return steps[0]


def test_passing_gates_plan_a_copy_of_the_promotable_tags_only() -> None:
    # Given every gate has passing evidence, and a tag the rule does not promote
    image = candidate(("v1", "latest"), tests=PASSED, scan=CLEAN)

    # When the core plans
    step = only(plan(MATCHES, image, trigger(), allow_override=False))

    # Then it asks for one copy into the target with the v* tags
    assert isinstance(step, CopyImage)
    assert (step.target_repository, step.tags) == ("prod-svc", ("v1",))
    assert "scan: no CRITICAL findings" in step.reasons


def test_missing_evidence_is_pending_and_names_each_gate() -> None:
    step = only(plan(MATCHES, candidate(), trigger(), allow_override=False))

    assert isinstance(step, Decision) and step.outcome is Outcome.PENDING
    assert step.reasons == ("tests: integration has no result yet", "scan: no completed scan yet")


def test_a_failed_gate_rejects_even_with_an_override_allowed() -> None:
    failed = {"integration": SuiteResult("integration", "FAILED", T0, "https://ci/7")}

    step = only(plan(MATCHES, candidate(tests=failed), trigger(override_reason="hotfix"), allow_override=True))

    assert isinstance(step, Decision) and step.outcome is Outcome.REJECTED
    assert step.reasons == ("tests: integration FAILED (https://ci/7)",)


def test_a_critical_finding_rejects() -> None:
    dirty = ScanEvidence({"CRITICAL": 2}, T0)

    step = only(plan(MATCHES, candidate(tests=PASSED, scan=dirty), trigger(), allow_override=False))

    assert isinstance(step, Decision) and step.outcome is Outcome.REJECTED
    assert step.reasons == ("scan: 2 CRITICAL finding(s)",)


def test_a_scan_that_can_never_finish_rejects_with_the_scanner_reason() -> None:
    never = ScanEvidence({}, T0, failure="UNSUPPORTED_IMAGE: the operating system is not supported")

    step = only(plan(MATCHES, candidate(tests=PASSED, scan=never), trigger(), allow_override=False))

    assert isinstance(step, Decision) and step.outcome is Outcome.REJECTED
    assert step.reasons == ("scan: UNSUPPORTED_IMAGE: the operating system is not supported",)


def test_override_skips_pending_gates_only_when_the_policy_allows_it() -> None:
    wish = trigger(override_reason="INC-7")

    refused = only(plan(MATCHES, candidate(), wish, allow_override=False))
    allowed = only(plan(MATCHES, candidate(), wish, allow_override=True))

    assert isinstance(refused, Decision) and refused.outcome is Outcome.PENDING
    assert refused.reasons[0] == "override refused: the policy has allow_override false"
    assert isinstance(allowed, CopyImage) and allowed.override_reason == "INC-7"
    assert allowed.reasons[0] == "override: INC-7"


def test_no_promotable_tag_is_ignored_with_the_rule_named() -> None:
    step = only(plan(MATCHES, candidate(("latest", "build-9")), trigger(), allow_override=False))

    assert isinstance(step, Decision) and step.outcome is Outcome.IGNORED and step.rule == "svc"
    assert step.reasons == ("no tag matches v* (tags: latest, build-9)",)


def test_no_matching_rule_is_ignored_without_a_rule() -> None:
    step = only(plan([], candidate(), trigger(), allow_override=False))

    assert isinstance(step, Decision) and step.outcome is Outcome.IGNORED and step.rule is None


def test_dry_run_reads_the_target_tags_and_never_asks_for_a_copy() -> None:
    image = candidate(("v1",), tests=PASSED, scan=CLEAN)
    dry = trigger(dry_run=True)
    other = new_digest()

    fresh = only(plan(MATCHES, image, dry, allow_override=False, target_tags={"prod-svc": {"v1": None}}))
    held = only(plan(MATCHES, image, dry, allow_override=False, target_tags={"prod-svc": {"v1": image.digest}}))
    clash = only(plan(MATCHES, image, dry, allow_override=False, target_tags={"prod-svc": {"v1": other}}))

    assert isinstance(fresh, Decision) and fresh.outcome is Outcome.DRY_RUN and fresh.reasons[0] == "would promote"
    assert isinstance(held, Decision) and held.outcome is Outcome.ALREADY_PROMOTED
    assert isinstance(clash, Decision) and clash.outcome is Outcome.CONFLICT
    assert clash.reasons == (f"prod-svc:v1 holds {other}, not {image.digest}: never overwritten",)


def test_wanted_tags_lists_per_target_what_a_dry_run_must_look_up() -> None:
    assert wanted_tags(MATCHES, ("v2", "v1", "latest")) == {"prod-svc": ("v1", "v2")}


def test_settle_turns_what_the_copy_found_into_the_decision() -> None:
    copy = CopyImage("svc", "dev-svc", new_digest(), "prod-svc", ("v1",), ("tests: integration PASSED",), "INC-1")
    other = new_digest()

    promoted = settle(copy, FakeCopy(already_present=False, blobs_mounted=4), claimed=True, latency_seconds=2.5)
    raced = settle(copy, FakeCopy(already_present=False), claimed=False)
    present = settle(copy, FakeCopy(already_present=True), claimed=False)
    conflict = settle(copy, TagHeld("v1", other), claimed=False)

    assert promoted.outcome is Outcome.PROMOTED and promoted.latency_seconds == 2.5
    assert promoted.override_reason == "INC-1" and promoted.copy is not None
    assert raced.outcome is Outcome.ALREADY_PROMOTED and present.outcome is Outcome.ALREADY_PROMOTED
    assert present.reasons[0] == f"prod-svc already holds {copy.digest}"
    assert conflict.outcome is Outcome.CONFLICT and other in conflict.reasons[0]


def test_every_decision_serialises_to_the_response_shape() -> None:
    step = only(plan(MATCHES, candidate(), trigger(), allow_override=False))
    assert isinstance(step, Decision)

    data = step.to_dict()

    assert set(data) == {"rule", "source_repository", "digest", "target_repository", "tags", "outcome", "reasons"}
    assert data["outcome"] == "pending" and isinstance(data["outcome"], str)
