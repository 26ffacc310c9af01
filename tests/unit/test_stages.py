"""Chained rules (docs/POLICY.md "Stages"): one invocation decides one hop, the
promotion's own push starts the next, and a test result recorded for a digest in any stage counts in
every stage that requires that suite."""

from __future__ import annotations

import uuid
from typing import Any

from promoter.entry import handle
from tests.unit.fakes import World, rule, world


def push(repository: str, digest: str, tag: str) -> dict[str, Any]:
    detail = {"action-type": "PUSH", "result": "SUCCESS", "repository-name": repository, "image-digest": digest}
    return {
        "id": str(uuid.uuid4()),
        "source": "aws.ecr",
        "detail-type": "ECR Image Action",
        "time": "2026-11-29T11:00:00Z",
        "detail": {**detail, "image-tag": tag},
    }


def result(repository: str, digest: str, suite: str, outcome: str = "PASSED", at: str = "11:05") -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "source": "ecr-promoter",
        "detail-type": "Image Test Result",
        "time": f"2026-11-29T{at}:00Z",
        "detail": {"repository-name": repository, "image-digest": digest, "suite": suite, "result": outcome},
    }


def stages(staging_requires: list[str], prod_requires: list[str]) -> World:
    return world(
        {
            "rules": [
                rule("dev-*", "staging-{name}", name="to-staging", tags=["v*"], require={"tests": staging_requires}),
                rule("staging-*", "prod-{name}", name="to-prod", tags=["v*"], require={"tests": prod_requires}),
            ]
        }
    )


def outcomes(response: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(d["rule"], d["source_repository"], d["outcome"]) for d in response["decisions"]]


def test_a_digest_walks_one_hop_per_invocation_with_stage_specific_evidence() -> None:
    # Given dev → staging needs `unit`, staging → prod needs `e2e`, and both results are already in
    w = stages(["unit"], ["e2e"])
    digest = w.images.add("dev-app", "v1")
    handle(result("dev-app", digest, "e2e"), w.services)

    # When `unit` passes, Then the image moves to staging only
    assert outcomes(handle(result("dev-app", digest, "unit"), w.services)) == [("to-staging", "dev-app", "promoted")]
    assert w.images.digest_for_tag("staging-app", "v1") == digest
    assert w.images.digest_for_tag("prod-app", "v1") is None

    # When the promotion's own push reaches the function, Then the next stage is decided: the e2e
    # result recorded against dev-app counts for the same digest in staging
    assert outcomes(handle(push("staging-app", digest, "v1"), w.services)) == [("to-prod", "staging-app", "promoted")]
    assert w.images.digest_for_tag("prod-app", "v1") == digest


def test_each_stage_lists_what_it_requires_and_a_later_result_decides_every_stage_holding_the_digest() -> None:
    # Given the image in staging, waiting for e2e
    w = stages(["unit"], ["unit", "e2e"])
    digest = w.images.add("dev-app", "v1")
    handle(result("dev-app", digest, "unit"), w.services)
    waiting = handle(push("staging-app", digest, "v1"), w.services)["decisions"][0]
    assert waiting["outcome"] == "pending"
    assert waiting["reasons"] == ["tests: e2e has no result yet", "tests: unit PASSED"]

    # When e2e passes, reported against the staging repository
    response = handle(result("staging-app", digest, "e2e", at="11:10"), w.services)

    # Then the staging stage promotes into prod
    assert outcomes(response) == [("to-prod", "staging-app", "promoted")]


def test_a_failed_result_in_one_stage_rejects_the_digest_in_the_stages_that_need_that_suite() -> None:
    w = stages(["unit"], ["unit"])
    digest = w.images.add("dev-app", "v1")
    handle(result("dev-app", digest, "unit"), w.services)
    handle(push("staging-app", digest, "v1"), w.services)

    # When a newer unit run fails for the same digest: both stages see it, prod keeps what it got
    response = handle(result("dev-app", digest, "unit", "FAILED", at="12:00"), w.services)

    assert ("to-prod", "staging-app", "already-promoted") not in outcomes(response)
    assert outcomes(response) == [("to-staging", "dev-app", "rejected"), ("to-prod", "staging-app", "rejected")]


def test_a_result_for_a_digest_in_no_stage_yet_is_recorded_for_later() -> None:
    w = stages(["unit"], ["e2e"])
    digest = w.images.add("dev-app", "v1")

    response = handle(result("staging-app", digest, "e2e"), w.services)

    assert response["decisions"][0]["outcome"] == "ignored"
    assert "staging-app" in {repo for repo, _ in w.ledger.images}


def test_an_approval_naming_the_dev_image_waits_in_the_stage_its_rule_decides() -> None:
    from dataclasses import replace

    from tests.unit.test_approvals import APPROVER, FakeApprovals

    # Given dev → staging (unit) → prod (approval), and the image still in dev
    w = world(
        {
            "rules": [
                rule("dev-*", "staging-{name}", name="to-staging", tags=["v*"], require={"tests": ["unit"]}),
                rule(
                    "staging-*",
                    "prod-{name}",
                    name="to-prod",
                    tags=["v*"],
                    require={"approval": {"signed_by": [APPROVER]}},
                ),
            ]
        }
    )
    w.services = replace(w.services, approvals=FakeApprovals())
    digest = w.images.add("dev-app", "v1")
    approval = {"action": "approve", "repository": "dev-app", "tag": "v1", "rule": "to-prod", "reason": "go"}

    # When the approver approves the dev image for the prod rule, Then it says where the image stands now
    early = handle({**approval, "attestation": {"payloadType": "x"}}, w.services)
    assert outcomes(early) == [("to-staging", "dev-app", "pending")]

    # When it reaches staging, Then the approval recorded for that stage lets it through to prod
    handle(result("dev-app", digest, "unit"), w.services)
    assert outcomes(handle(push("staging-app", digest, "v1"), w.services)) == [("to-prod", "staging-app", "promoted")]
