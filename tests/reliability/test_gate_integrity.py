"""Gate integrity, attacker's view: each way to sneak an image past a gate, through the function's real entry point.

Every attack runs through `promoter.entry.handle` with `promoter.wiring.build_services` (the
`tests.support.promotion` harness): moto DynamoDB and moto KMS (real ECDSA P-256 signatures), the real
CNCF registry. ECR-mode attacks (forged scan and build events, unprotected `{name}` targets) build the
services for ECR (no `REGISTRY_ENDPOINT`), then point the image side at the local registry over OCI (moto's
ECR holds no registry, and its PutImage re-serializes a manifest, so the digest differs from the pushed one;
an attempted copy would really land in the local target), DescribeImageScanFindings and BatchGetBuilds at
botocore Stubbers (moto's answers diverge: tests/unit/test_ci_runs.py), and `{name}` targets at moto's ECR.

What the product must do: *blocked* = the decision is not `promoted`, nothing reached the target, and the
attack left no evidence (no TEST#, APPROVAL#, SUITE#, PROMOTED# item). A failed check says "GATE BREACHED"
so tests/reliability/tally.py counts it as data lost.

Each attack runs GATE_TRIES times (environment, default 1) with fresh images, keys and repositories, so
`GATE_TRIES=10 python -m tests.reliability.tally 1 -k gate_integrity` is 10 tries of each.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from devtools.eventfactory import ACCOUNT, REGION, ci_result_event, push_event, scan_event, schedule_event
from promoter.adapters.evidence import CodeBuildRuns, EcrScans
from promoter.attest.dsse import INTOTO_PAYLOAD_TYPE
from promoter.attest.intoto import build_approval, build_test_result
from promoter.attest.kms import KmsSigner
from promoter.config import Settings
from promoter.contract import DetailType, Env, Source
from promoter.images import OciImageStore
from promoter.registry import RegistryClient
from promoter.wiring import build_services
from tests.support.promotion import ACCOUNT_ID, Promoter, only, rule

TRIES = int(os.environ.get("GATE_TRIES", "1"))
TRY = pytest.mark.parametrize("attempt", range(TRIES), ids=lambda index: f"try{index}")
EVIDENCE = ("TEST#", "APPROVAL#", "SUITE#", "PROMOTED#")
BREACHED = "GATE BREACHED"


# ---- helpers ------------------------------------------------------------------------------------


def new_key(kms: Any) -> str:
    return str(kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"])


def evidence_items(promoter: Promoter) -> list[str]:
    return [item["sk"]["S"] for item in promoter.ledger_items() if item["sk"]["S"].startswith(EVIDENCE)]


def assert_blocked(decision: dict[str, Any], promoter: Promoter, target: str, tag: str, *, before: list[str]) -> None:
    """Not promoted, nothing in the target, no evidence added by the attack."""
    assert decision["outcome"] != "promoted", f"{BREACHED}: {decision}"
    assert promoter.target_digest(target, tag) is None, f"{BREACHED}: {target}:{tag} holds an image"
    added = sorted(set(evidence_items(promoter)) - set(before))
    assert not added, f"{BREACHED}: the attack recorded evidence {added}"


def envelope_of(kms: Any, key: str, statement: Any) -> dict[str, Any]:
    return dict(json.loads(KmsSigner(kms, key).sign_statement(statement).to_json()))


def signed_result(event: dict[str, Any], attestation: dict[str, Any] | None) -> dict[str, Any]:
    if attestation is not None:
        event["detail"]["attestation"] = attestation
    return event


def tampered(envelope: dict[str, Any], **predicate: Any) -> dict[str, Any]:
    """The same signature over a payload whose predicate fields were changed after signing."""
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"].update(predicate)
    return {**envelope, "payload": base64.b64encode(json.dumps(statement).encode()).decode()}


@pytest.fixture
def kms(promoter: Promoter) -> Any:
    return boto3.client("kms", region_name=REGION)


def trusted_policy(dev: str, prod: str, ci_key: str) -> dict[str, Any]:
    return {
        "rules": [rule(dev, prod, name="to-prod", tags=["v*"], require={"tests": ["integration"]})],
        "trust": {"test_results": {"signed_by": [ci_key]}},
    }


# ---- 1-5: forged, mis-signed, replayed, mislabelled and tampered test results --------------------


def forged_result(kms: Any, variant: str, ci_key: str, dev: str, digest: str, other: str) -> dict[str, Any]:
    """The attacker's `Image Test Result` PASSED event for `digest`, per variant."""
    event = ci_result_event(dev, digest, "integration", "PASSED")
    passed = build_test_result(digest, "integration", "PASSED")
    if variant == "unsigned":
        return event
    if variant == "garbage-signature-claiming-the-ci-key":
        body = base64.b64encode(passed.to_json()).decode()
        sig = base64.b64encode(os.urandom(71)).decode()
        forged = {"payloadType": INTOTO_PAYLOAD_TYPE, "payload": body, "signatures": [{"keyid": ci_key, "sig": sig}]}
        return signed_result(event, forged)
    if variant == "empty-signature-list":
        body = base64.b64encode(passed.to_json()).decode()
        return signed_result(event, {"payloadType": INTOTO_PAYLOAD_TYPE, "payload": body, "signatures": []})
    stranger = new_key(kms)
    if variant == "untrusted-key":
        return signed_result(event, envelope_of(kms, stranger, passed))
    if variant == "untrusted-key-claiming-the-ci-key":
        envelope = envelope_of(kms, stranger, passed)
        envelope["signatures"][0]["keyid"] = ci_key
        return signed_result(event, envelope)
    if variant == "replayed-from-another-digest":
        return signed_result(event, envelope_of(kms, ci_key, build_test_result(other, "integration", "PASSED")))
    if variant == "signed-for-another-suite":
        return signed_result(event, envelope_of(kms, ci_key, build_test_result(digest, "unit", "PASSED")))
    if variant == "failed-flipped-to-passed-after-signing":
        signed_failed = envelope_of(kms, ci_key, build_test_result(digest, "integration", "FAILED"))
        return signed_result(event, tampered(signed_failed, result="PASSED"))
    raise AssertionError(variant)


RESULT_ATTACKS = {
    "test_gate_forged_unsigned_result": ["unsigned", "empty-signature-list", "garbage-signature-claiming-the-ci-key"],
    "test_gate_result_signed_by_untrusted_key": ["untrusted-key", "untrusted-key-claiming-the-ci-key"],
    "test_gate_result_replayed_for_another_digest": ["replayed-from-another-digest"],
    "test_gate_result_claiming_another_suite": ["signed-for-another-suite"],
    "test_gate_result_tampered_after_signing": ["failed-flipped-to-passed-after-signing"],
}


def run_result_attack(promoter: Promoter, kms: Any, repo_name: Any, variant: str) -> None:
    # Given a rule requiring `integration`, a trust section naming the CI key, and a pushed, pending image
    ci_key = new_key(kms)
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(trusted_policy(dev, prod, ci_key))
    image, other = promoter.push(dev, "v1"), promoter.push(dev, "v2")
    assert only(promoter.invoke(push_event(dev, image.digest, "v1")))["outcome"] == "pending"
    before = evidence_items(promoter)

    # When the attacker's PASSED result arrives (event bus or direct invoke: the same entry point)
    decision = only(promoter.invoke(forged_result(kms, variant, ci_key, dev, image.digest, other.digest)))

    # Then it is ignored with a reason, nothing is recorded or copied, and the image is still pending
    assert decision["outcome"] == "ignored", f"{BREACHED}: {decision}"
    assert decision["reasons"][0].startswith("test result not trusted:"), decision
    assert_blocked(decision, promoter, prod, "v1", before=before)
    again = only(promoter.invoke({"action": "status", "repository": dev, "tag": "v1"}))
    assert again["outcome"] == "pending", f"{BREACHED}: {again}"


@TRY
@pytest.mark.parametrize("variant", RESULT_ATTACKS["test_gate_forged_unsigned_result"])
def test_gate_forged_unsigned_result(promoter: Promoter, kms: Any, repo_name, variant: str, attempt: int) -> None:
    run_result_attack(promoter, kms, repo_name, variant)


@TRY
@pytest.mark.parametrize("variant", RESULT_ATTACKS["test_gate_result_signed_by_untrusted_key"])
def test_gate_result_signed_by_untrusted_key(
    promoter: Promoter, kms: Any, repo_name, variant: str, attempt: int
) -> None:
    run_result_attack(promoter, kms, repo_name, variant)


@TRY
def test_gate_result_replayed_for_another_digest(promoter: Promoter, kms: Any, repo_name, attempt: int) -> None:
    run_result_attack(promoter, kms, repo_name, "replayed-from-another-digest")


@TRY
def test_gate_result_claiming_another_suite(promoter: Promoter, kms: Any, repo_name, attempt: int) -> None:
    run_result_attack(promoter, kms, repo_name, "signed-for-another-suite")


@TRY
def test_gate_result_tampered_after_signing(promoter: Promoter, kms: Any, repo_name, attempt: int) -> None:
    run_result_attack(promoter, kms, repo_name, "failed-flipped-to-passed-after-signing")


# ---- 8-9: approvals and overrides ----------------------------------------------------------------


def approval(kms: Any, key: str, dev: str, digest: str, decision: str, *, signed_rule: str = "to-prod") -> dict:
    statement = build_approval(digest, decision, "attack", signed_rule, repository=dev, tag="v1")
    return {
        "action": decision,
        "repository": dev,
        "tag": "v1",
        "rule": "to-prod",
        "reason": "attack",
        "attestation": envelope_of(kms, key, statement),
    }


@TRY
@pytest.mark.parametrize("variant", ["non-approver-key", "replayed-from-another-rule", "approve-after-signed-reject"])
def test_gate_forged_or_replayed_approval(promoter: Promoter, kms: Any, repo_name, variant: str, attempt: int) -> None:
    # Given a rule that needs an approval by one key, and a pushed image waiting for it
    approver = new_key(kms)
    dev, prod = repo_name("dev"), repo_name("prod")
    policy = {"rules": [rule(dev, prod, name="to-prod", require={"approval": {"signed_by": [approver]}})]}
    promoter.configure(policy)
    image = promoter.push(dev, "v1")
    promoter.invoke(push_event(dev, image.digest, "v1"))
    if variant == "approve-after-signed-reject":
        assert only(promoter.invoke(approval(kms, approver, dev, image.digest, "reject")))["outcome"] == "rejected"
    before = evidence_items(promoter)

    # When the attacker's approval arrives
    if variant == "non-approver-key":
        attack = approval(kms, new_key(kms), dev, image.digest, "approve")
    elif variant == "replayed-from-another-rule":
        attack = approval(kms, approver, dev, image.digest, "approve", signed_rule="another-rule")
    else:
        attack = approval(kms, approver, dev, image.digest, "approve")
    decision = only(promoter.invoke(attack))

    # Then: ignored and unrecorded (forged, replayed), or still rejected (a signed reject is final)
    assert promoter.target_digest(prod, "v1") is None, f"{BREACHED}: {prod}:v1 holds an image"
    if variant == "approve-after-signed-reject":
        assert decision["outcome"] == "rejected", f"{BREACHED}: {decision}"
        assert not [sk for sk in evidence_items(promoter) if sk.startswith("PROMOTED#")], BREACHED
    else:
        assert decision["outcome"] == "ignored", f"{BREACHED}: {decision}"
        assert decision["reasons"][0].startswith("approval not trusted:"), decision
        assert_blocked(decision, promoter, prod, "v1", before=before)


@TRY
@pytest.mark.parametrize("variant", ["approval-required-override-allowed", "tests-pending-override-not-allowed"])
def test_gate_override_request(promoter: Promoter, kms: Any, repo_name, variant: str, attempt: int) -> None:
    # Given a pending image: waiting for an approval (overrides allowed), or for tests (overrides not allowed)
    dev, prod = repo_name("dev"), repo_name("prod")
    if variant == "approval-required-override-allowed":
        require: dict[str, Any] = {"approval": {"signed_by": [new_key(kms)]}}
        promoter.configure({"rules": [rule(dev, prod, require=require)], "allow_override": True})
    else:
        promoter.configure({"rules": [rule(dev, prod, require={"tests": ["integration"]})], "allow_override": False})
    image = promoter.push(dev, "v1")
    assert only(promoter.invoke(push_event(dev, image.digest, "v1")))["outcome"] == "pending"
    before = evidence_items(promoter)

    # When an operator (or anyone who may invoke the function) asks for an override
    request = {"action": "promote", "repository": dev, "tag": "v1", "override": {"reason": "ship it"}}
    decision = only(promoter.invoke(request))

    # Then it stays pending and nothing is promoted
    assert decision["outcome"] == "pending", f"{BREACHED}: {decision}"
    assert_blocked(decision, promoter, prod, "v1", before=before)


# ---- 6, 7, 10: ECR mode (events are only triggers; targets must be protected) ------------------


class EcrMode:
    """The function built for ECR (no REGISTRY_ENDPOINT), its image side over the local registry."""

    def __init__(self, promoter: Promoter, monkeypatch: pytest.MonkeyPatch, target_policy: str | None = None) -> None:
        monkeypatch.delenv(Env.REGISTRY_ENDPOINT)
        if target_policy is not None:
            monkeypatch.setenv(Env.TARGET_REPOSITORY_POLICY, target_policy)
        self.promoter = promoter
        self.ecr = boto3.client("ecr", region_name=REGION)
        self.scan_api = Stubber(boto3.client("ecr", region_name=REGION))
        self.build_api = Stubber(boto3.client("codebuild", region_name=REGION))
        services = build_services(Settings.from_environ(os.environ), ACCOUNT_ID)
        store = OciImageStore(RegistryClient.for_endpoint(promoter.registry.url))
        scan_client, build_client = self.scan_api.client, self.build_api.client
        promoter.services = replace(
            services,
            images=store,
            scans=EcrScans(lambda: scan_client),
            build_runs=CodeBuildRuns(lambda: build_client),
        )
        self.scan_api.activate()
        self.build_api.activate()

    def push(self, repository: str, tag: str) -> str:
        return self.promoter.push(repository, tag).digest

    def ecr_images(self, repository: str) -> list[dict[str, Any]]:
        try:
            return list(self.ecr.describe_images(repositoryName=repository)["imageDetails"])
        except self.ecr.exceptions.RepositoryNotFoundException:
            return []


def critical_findings(repository: str, digest: str, enhanced: bool) -> dict[str, Any]:
    """DescribeImageScanFindings as ECR answers for an image with one CRITICAL finding (API reference shapes)."""
    completed = datetime.now(UTC)
    findings: dict[str, Any] = {"imageScanCompletedAt": completed, "vulnerabilitySourceUpdatedAt": completed}
    if enhanced:  # Inspector: enhancedFindings, no findingSeverityCounts, status ACTIVE with a completion time
        findings["enhancedFindings"] = [{"severity": "CRITICAL", "title": "CVE-2026-0001", "status": "ACTIVE"}]
        status = {"status": "ACTIVE", "description": "Continuous scan is selected for image."}
    else:
        findings["findingSeverityCounts"] = {"CRITICAL": 1}
        findings["findings"] = [{"name": "CVE-2026-0001", "severity": "CRITICAL"}]
        status = {"status": "COMPLETE", "description": "The scan was completed successfully."}
    return {
        "registryId": ACCOUNT,
        "repositoryName": repository,
        "imageId": {"imageDigest": digest},
        "imageScanStatus": status,
        "imageScanFindings": findings,
    }


def forged_clean_scan(kind: str, repository: str, digest: str) -> dict[str, Any]:
    zero = {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "LOW": 0}
    if kind == "ecr-image-scan":
        return scan_event(repository, digest, zero, ["v1"])
    arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}"
    event = scan_event(repository, digest, {**zero, "TOTAL": 0}, ["v1"])
    event["source"], event["detail-type"], event["resources"] = "aws.inspector2", "Inspector2 Scan", [arn]
    event["detail"].update({"scan-status": "INITIAL_SCAN_COMPLETE", "repository-name": arn})
    return event


@TRY
@pytest.mark.parametrize("kind", ["ecr-image-scan", "inspector2-scan"])
def test_gate_forged_clean_scan_in_ecr_mode(
    promoter: Promoter, monkeypatch: pytest.MonkeyPatch, repo_name, kind: str, attempt: int
) -> None:
    # Given ECR mode, a scan-gated rule, and an image whose real findings (the API's) have a CRITICAL
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod, require={"scan": {"fail_on": ["CRITICAL"]}})]})
    ecr = EcrMode(promoter, monkeypatch)
    digest = ecr.push(dev, "v1")
    answer = critical_findings(dev, digest, enhanced=kind == "inspector2-scan")
    expected = {"repositoryName": dev, "imageId": {"imageDigest": digest}, "maxResults": 1000}
    ecr.scan_api.add_response("describe_image_scan_findings", answer, expected)
    before = evidence_items(promoter)

    # When a scan event with zero counts is invoked directly
    decision = only(promoter.invoke(forged_clean_scan(kind, dev, digest)))

    # Then the findings were re-read from the API and the image is rejected; nothing reached the target
    ecr.scan_api.assert_no_pending_responses()
    assert decision["outcome"] == "rejected", f"{BREACHED}: {decision}"
    assert decision["reasons"] == ["scan: 1 CRITICAL finding(s)"], decision
    assert_blocked(decision, promoter, prod, "v1", before=before)
    assert ecr.ecr_images(prod) == [], f"{BREACHED}: {prod} in ECR holds images"


@TRY
def test_gate_forged_codebuild_success_in_ecr_mode(
    promoter: Promoter, monkeypatch: pytest.MonkeyPatch, repo_name, attempt: int
) -> None:
    # Given ECR mode, a rule requiring a CodeBuild project, and an image tagged with the commit it built
    dev, prod, project = repo_name("dev"), repo_name("prod"), repo_name("e2e")
    commit = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    promoter.configure({"rules": [rule(dev, prod, require={"tests": [f"codebuild:{project}"]})]})
    ecr = EcrMode(promoter, monkeypatch)
    digest = ecr.push(dev, commit)
    assert only(promoter.invoke(push_event(dev, digest, commit)))["outcome"] == "pending"
    before = evidence_items(promoter)
    build_id = f"{project}:{uuid.uuid4()}"
    build = {"id": build_id, "projectName": project, "buildStatus": "FAILED", "buildComplete": True}
    ecr.build_api.add_response(
        "batch_get_builds", {"builds": [{**build, "resolvedSourceVersion": commit}]}, {"ids": [build_id]}
    )

    # When a CodeBuild "SUCCEEDED" event for that commit is invoked directly, for a build the API says FAILED
    detail = {
        "build-status": "SUCCEEDED",
        "project-name": project,
        "build-id": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{build_id}",
        "additional-information": {"source-version": commit},
    }
    event = {**push_event(dev, digest), "source": "aws.codebuild", "detail-type": "CodeBuild Build State Change"}
    decision = only(promoter.invoke({**event, "detail": detail}))

    # Then it is ignored because of the API's answer; no success is recorded and nothing is promoted
    ecr.build_api.assert_no_pending_responses()
    assert decision["outcome"] == "ignored", f"{BREACHED}: {decision}"
    assert "FAILED according to the API" in decision["reasons"][0], decision
    assert_blocked(decision, promoter, prod, commit, before=before)
    status = only(promoter.invoke({"action": "status", "repository": dev, "digest": digest}))
    assert status["outcome"] == "pending", f"{BREACHED}: {status}"


TARGET_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OnlyThePromoterWrites",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["ecr:PutImage", "ecr:BatchDeleteImage", "ecr:SetRepositoryPolicy"],
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/promoter"}},
        }
    ],
}
SQUATTER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "AnyoneWrites", "Effect": "Allow", "Principal": "*", "Action": ["ecr:PutImage"]}],
}


@TRY
@pytest.mark.parametrize("squatted", ["mutable-no-policy", "immutable-foreign-policy"])
def test_gate_squatted_wildcard_target(
    promoter: Promoter, monkeypatch: pytest.MonkeyPatch, repo_name, squatted: str, attempt: int
) -> None:
    # Given a dev-*-style rule into prod-…-{name}, and its target pre-created by someone else, unprotected
    team = uuid.uuid4().hex[:8]
    dev, prod = f"dev-{team}-svc", f"prod-{team}-svc"
    promoter.configure({"rules": [rule(f"dev-{team}-*", f"prod-{team}-{{name}}")]})
    ecr = EcrMode(promoter, monkeypatch, target_policy=json.dumps(TARGET_POLICY))
    if squatted == "mutable-no-policy":
        ecr.ecr.create_repository(repositoryName=prod)
    else:
        ecr.ecr.create_repository(repositoryName=prod, imageTagMutability="IMMUTABLE")
        ecr.ecr.set_repository_policy(repositoryName=prod, policyText=json.dumps(SQUATTER_POLICY))
    digest = ecr.push(dev, "v1")

    # When the image's push is decided (no gates: it would promote)
    decision = only(promoter.invoke(push_event(dev, digest, "v1")))

    # Then the target is refused, nothing is copied, and the squatter's repository is left as it was
    assert decision["outcome"] == "rejected", f"{BREACHED}: {decision}"
    assert decision["reasons"][0].startswith(f"target {prod} "), decision
    assert_blocked(decision, promoter, prod, "v1", before=[])
    assert ecr.ecr_images(prod) == [], f"{BREACHED}: {prod} in ECR holds images"


# ---- 11: an image pushed straight into a target (bypass audit, detected) ------------------------


def announced(promoter: Promoter) -> tuple[Any, str]:
    """EVENT_BUS=default and a queue receiving every ecr-promoter event (what an alerting consumer does)."""
    promoter.monkeypatch.setenv(Env.EVENT_BUS, "default")
    sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
    url = sqs.create_queue(QueueName=f"alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_name = f"alerts-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=rule_name, EventPattern=json.dumps({"source": [Source.PROMOTER.value]}))
    events.put_targets(Rule=rule_name, Targets=[{"Id": "q", "Arn": arn}])
    return sqs, str(url)


def drained(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(message["Body"]) for message in batch]
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


@TRY
def test_gate_direct_push_into_target_is_reported(promoter: Promoter, repo_name, attempt: int) -> None:
    # Given a gated rule, one image promoted through it, and an image pushed straight into the target
    sqs, url = announced(promoter)
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod, tags=["v*"], require={"tests": ["integration"]})]})
    released = promoter.push(dev, "v1")
    promoter.invoke(push_event(dev, released.digest, "v1"))
    promoted = only(promoter.invoke(ci_result_event(dev, released.digest, "integration", "PASSED")))
    assert promoted["outcome"] == "promoted", promoted
    bypass = promoter.push(prod, "v6.6.6")
    drained(sqs, url)

    # When the scheduled reconcile runs three times
    for _ in range(3):
        promoter.invoke(schedule_event())

    # Then the pushed image alone is reported, once, and `status` shows it as unrecorded
    reports = [m for m in drained(sqs, url) if m["detail-type"] == DetailType.UNRECORDED_IMAGE.value]
    assert [m["detail"]["digest"] for m in reports] == [bypass.digest], f"{BREACHED}: reported {reports}"
    assert reports[0]["detail"]["target-repository"] == prod and reports[0]["detail"]["tags"] == ["v6.6.6"]
    status = promoter.invoke({"action": "status", "repository": prod, "tag": "v6.6.6"})["status"]
    assert status["unrecorded"]["tags"] == ["v6.6.6"], f"{BREACHED}: status {status}"


# ---- product bug: a signed result's time is the (unsigned) event's ------------------------------


def at(event: dict[str, Any], when: datetime) -> dict[str, Any]:
    return {**event, "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}


@TRY
def test_gate_signed_passed_replayed_after_a_signed_failed(
    promoter: Promoter, kms: Any, repo_name, attempt: int
) -> None:
    # Given two required suites, a signed PASSED of `integration`, then a signed FAILED of it (a re-run)
    ci_key = new_key(kms)
    dev, prod = repo_name("dev"), repo_name("prod")
    policy = trusted_policy(dev, prod, ci_key)
    policy["rules"][0]["require"]["tests"] = ["integration", "e2e"]
    promoter.configure(policy)
    digest = promoter.push(dev, "v1").digest
    now = datetime.now(UTC)
    passed = envelope_of(kms, ci_key, build_test_result(digest, "integration", "PASSED"))
    failed = envelope_of(kms, ci_key, build_test_result(digest, "integration", "FAILED"))
    first = signed_result(at(ci_result_event(dev, digest, "integration", "PASSED"), now - timedelta(hours=2)), passed)
    assert only(promoter.invoke(first))["outcome"] == "pending"
    rerun = signed_result(at(ci_result_event(dev, digest, "integration", "FAILED"), now - timedelta(hours=1)), failed)
    assert only(promoter.invoke(rerun))["outcome"] == "rejected"

    # When the attacker re-sends the captured PASSED envelope in a new event dated later, and e2e passes
    replay = signed_result(at(ci_result_event(dev, digest, "integration", "PASSED"), now), passed)
    promoter.invoke(replay)
    e2e = envelope_of(kms, ci_key, build_test_result(digest, "e2e", "PASSED"))
    decision = only(promoter.invoke(signed_result(ci_result_event(dev, digest, "e2e", "PASSED"), e2e)))

    # Then the image stays rejected for its failed integration run, and nothing reaches the target
    assert decision["outcome"] == "rejected", f"{BREACHED}: {decision}"
    assert promoter.target_digest(prod, "v1") is None, f"{BREACHED}: {prod}:v1 holds an image"
