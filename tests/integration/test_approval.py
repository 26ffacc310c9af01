"""The approval gate end to end: real handler, moto DynamoDB, moto KMS (real ECDSA P-256), real registry.

docs/POLICY.md "Approval" and "Trust": a rule that requires an approval is pending until one
signed by an approver key arrives; a signed reject is final for that digest and rule; anything
unsigned or mis-signed is ignored and recorded nowhere; `status` shows approvals with key ids and reasons.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from devtools.eventfactory import push_event
from promoter.attest.intoto import build_approval
from promoter.attest.kms import KmsSigner
from tests.support.promotion import Promoter, only, rule


def new_key(kms: Any) -> str:
    return str(kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"])


@pytest.fixture
def kms(promoter: Promoter) -> Any:
    return boto3.client("kms", region_name="us-west-2")


def signed(kms: Any, key: str, dev: str, digest: str, action: str, reason: str, rule_name: str = "to-prod") -> dict:
    statement = build_approval(digest, action, reason, rule_name, repository=dev, tag="v1")
    envelope = KmsSigner(kms, key).sign_statement(statement)
    return {
        "action": action,
        "repository": dev,
        "tag": "v1",
        "rule": "to-prod",
        "reason": reason,
        "attestation": json.loads(envelope.to_json()),
    }


def approval_policy(dev: str, prod: str, approver: str) -> dict:
    return {"rules": [rule(dev, prod, name="to-prod", require={"approval": {"signed_by": [approver]}})]}


def test_an_image_waits_for_a_signed_approval_then_promotes(promoter: Promoter, kms: Any, repo_name) -> None:
    # Given a rule that requires an approval by one KMS key, and a pushed image
    approver, stranger = new_key(kms), new_key(kms)
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(approval_policy(dev, prod, approver))
    image = promoter.push(dev, "v1")

    # When the push, an approval signed by another key, one signed for another rule, and the right one arrive
    pushed = only(promoter.invoke(push_event(dev, image.digest, "v1")))
    forged = only(promoter.invoke(signed(kms, stranger, dev, image.digest, "approve", "trust me")))
    replayed = only(promoter.invoke(signed(kms, approver, dev, image.digest, "approve", "ok", rule_name="other")))
    before = promoter.ledger_items()
    approved = only(promoter.invoke(signed(kms, approver, dev, image.digest, "approve", "release board: go")))

    # Then it waited, the forged and replayed approvals were ignored without a write, and the right one promoted
    assert (pushed["outcome"], pushed["reasons"]) == ("pending", ["approval: none yet"])
    assert forged["outcome"] == "ignored" and "not trusted" in forged["reasons"][0]
    assert replayed["outcome"] == "ignored" and "signed for rule 'other'" in replayed["reasons"][0]
    assert not [item for item in before if item["sk"]["S"].startswith("APPROVAL#")]
    assert approved["outcome"] == "promoted"
    assert approved["reasons"] == [f"approval: approved by {approver}: release board: go"]
    assert promoter.target_digest(prod, "v1") == image.digest
    # And status shows who approved and why
    status = promoter.invoke({"action": "status", "repository": dev, "tag": "v1"})["status"]
    assert [(a["decision"], a["key_id"], a["reason"]) for a in status["approvals"]] == [
        ("approve", approver, "release board: go")
    ]


def test_a_signed_rejection_is_final(promoter: Promoter, kms: Any, repo_name) -> None:
    # Given an image rejected by an approver
    approver = new_key(kms)
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(approval_policy(dev, prod, approver))
    image = promoter.push(dev, "v1")
    rejected = only(promoter.invoke(signed(kms, approver, dev, image.digest, "reject", "CVE under review")))

    # When the same approver approves it later, and the push is delivered again
    later = only(promoter.invoke(signed(kms, approver, dev, image.digest, "approve", "fixed, go")))
    redelivered = only(promoter.invoke(push_event(dev, image.digest, "v1")))

    # Then the image stays rejected and never reaches the target
    reason = f"approval: rejected by {approver}: CVE under review"
    assert (rejected["outcome"], rejected["reasons"]) == ("rejected", [reason])
    assert (later["outcome"], later["reasons"]) == ("rejected", [reason])
    assert redelivered["outcome"] == "rejected"
    assert promoter.target_digest(prod, "v1") is None
    status = promoter.invoke({"action": "status", "repository": dev, "tag": "v1"})["status"]
    assert [a["decision"] for a in status["approvals"]] == ["reject", "approve"]
