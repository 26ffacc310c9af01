"""A digest walks dev → staging → prod on the real registry (moto DynamoDB and KMS): stage-specific
evidence, one hop per invocation, the promotion's own push starts the next stage, and the last
stage waits for a signed approval (issue 16: "Done when")."""

from __future__ import annotations

import json
import uuid

import boto3

from devtools.eventfactory import ci_result_event, push_event
from promoter.attest.intoto import build_approval
from promoter.attest.kms import KmsSigner
from tests.support.promotion import Promoter, only, rule


def test_a_digest_walks_dev_staging_prod_with_stage_specific_evidence(promoter: Promoter) -> None:
    # Given dev-* → staging-{name} (unit) and staging-* → prod-{name} (e2e and an approval)
    kms = boto3.client("kms", region_name="us-west-2")
    approver = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    run = uuid.uuid4().hex[:8]  # rules scoped to this test's repositories on the shared registry
    dev, staging, prod = f"dev-{run}-app", f"staging-{run}-app", f"prod-{run}-app"
    promoter.configure(
        {
            "rules": [
                rule(f"dev-{run}-*", f"staging-{run}-{{name}}", name="to-staging", require={"tests": ["unit"]}),
                rule(
                    f"staging-{run}-*",
                    f"prod-{run}-{{name}}",
                    name="to-prod",
                    require={"tests": ["e2e"], "approval": {"signed_by": [approver]}},
                ),
            ]
        }
    )
    image = promoter.push(dev, "v1")

    # When the push and its unit result arrive: one hop, to staging
    assert only(promoter.invoke(push_event(dev, image.digest, "v1")))["outcome"] == "pending"
    to_staging = only(promoter.invoke(ci_result_event(dev, image.digest, "unit", "PASSED")))
    assert (to_staging["target_repository"], to_staging["outcome"]) == (staging, "promoted")
    assert promoter.target_digest(staging, "v1") == image.digest
    assert promoter.target_digest(prod, "v1") is None

    # When the promotion's own push reaches the function: the next stage waits for e2e and an approval
    waiting = only(promoter.invoke(push_event(staging, image.digest, "v1")))
    assert (waiting["rule"], waiting["outcome"]) == ("to-prod", "pending")
    assert waiting["reasons"] == ["tests: e2e has no result yet", "approval: none yet"]

    # When e2e passes (reported against dev: evidence follows the digest), it still waits for the approval
    in_dev, e2e = promoter.invoke(ci_result_event(dev, image.digest, "e2e", "PASSED"))["decisions"]
    assert (in_dev["rule"], in_dev["outcome"]) == ("to-staging", "already-promoted")
    assert (e2e["rule"], e2e["outcome"], e2e["reasons"]) == (
        "to-prod",
        "pending",
        ["approval: none yet", "tests: e2e PASSED"],
    )

    # When the approver signs the approval for the staging → prod stage
    statement = build_approval(image.digest, "approve", "release board: go", "to-prod", repository=staging, tag="v1")
    envelope = json.loads(KmsSigner(kms, approver).sign_statement(statement).to_json())
    approval = {
        "action": "approve",
        "repository": staging,
        "tag": "v1",
        "rule": "to-prod",
        "reason": "release board: go",
        "attestation": envelope,
    }
    to_prod = only(promoter.invoke(approval))

    # Then the digest reaches prod, byte for byte the same
    assert (to_prod["target_repository"], to_prod["outcome"]) == (prod, "promoted")
    assert promoter.target_digest(prod, "v1") == image.digest
