"""A three-stage chain with an approval: dev-checkout → staging-checkout → prod-checkout.

The demo's policy adds two chained rules (DESIGN.md, "Decision rules added": a rule's source may match
another rule's target; one invocation decides one hop; the promotion's own push event starts the next
stage). Each stage needs its own evidence: `integration` to reach staging; `e2e` and an approval signed by
the release board's KMS key to reach prod. The ECR push event of each promotion is delivered as ECR would
send it (the function's own PutImage into the target).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devtools.demo.builds import push_build
from devtools.demo.report import human_bytes, say, short
from devtools.demo.scenario import CI_URL
from devtools.eventfactory import ci_result_event, push_event

if TYPE_CHECKING:
    from devtools.demo.builds import Build
    from devtools.demo.story import Demo

APP = "checkout"
DEV, STAGING, PROD = f"dev-{APP}", f"staging-{APP}", f"prod-{APP}"
TO_STAGING, TO_PROD = f"{APP}-to-staging", f"{APP}-to-prod"
TAG = "v3.0.0"


def chain_rules(approver_key: str) -> list[dict[str, Any]]:
    """The chained rules the demo adds to cdk.json's policy."""
    return [
        {"name": TO_STAGING, "source": DEV, "target": STAGING, "tags": ["v*"], "require": {"tests": ["integration"]}},
        {
            "name": TO_PROD,
            "source": STAGING,
            "target": PROD,
            "tags": ["v*"],
            "require": {"tests": ["e2e"], "approval": {"signed_by": [approver_key]}},
        },
    ]


def _signed_result(demo: Demo, repository: str, build: Build, suite: str) -> dict[str, Any]:
    url = CI_URL + build.name
    signed = demo.signer.attestation(build.digest, suite, "PASSED", url)
    return ci_result_event(repository, build.digest, suite, "PASSED", url, attestation=signed)


def approval(demo: Demo, key: str, build: Build, decision: str, reason: str) -> dict[str, Any]:
    """The approve/reject request (DESIGN.md, "Signed evidence"), signed by `key` for this digest and rule."""
    from promoter.attest.intoto import build_approval  # noqa: PLC0415 - lambda_src is on sys.path by now

    statement = build_approval(build.digest, decision, reason, TO_PROD, repository=STAGING, tag=TAG)
    return {
        "action": decision,
        "repository": STAGING,
        "tag": TAG,
        "rule": TO_PROD,
        "reason": reason,
        "attestation": demo.signer.sign(key, statement),
    }


def chain(demo: Demo, number: int, approver_key: str) -> dict[str, str]:
    """dev → staging on integration; staging → prod on e2e and the release board's signed approval."""
    demo.section(f"{number}. A three-stage chain: {DEV} -> {STAGING} -> {PROD}, the last stage needs an approval")
    build = push_build(demo.dev.url, DEV, "checkout-301", TAG, demo.shared)
    say(
        f"   docker push {DEV}:{TAG} ({build.name}, {short(build.digest)}, {human_bytes(build.size)}): "
        f"{build.uploaded} blobs uploaded"
    )
    demo.invoke(f"push event {DEV}:{TAG}", push_event(DEV, build.digest, TAG), "pending")
    label = f"CI: integration PASSED for {DEV}:{TAG}"
    hop = demo.promote_step(label, _signed_result(demo, DEV, build, "integration"), build, TAG, STAGING)
    demo.record(f"{DEV}:{TAG} (-> staging)", TAG, build, hop, target=PROD)
    waiting = demo.invoke(
        f"ECR push of the promotion into {STAGING}", push_event(STAGING, build.digest, TAG), "pending"
    )
    reasons = " ".join((waiting or {}).get("reasons") or [])
    demo.expect(
        waiting is not None and waiting.get("rule") == TO_PROD and "approval" in reasons,
        f"the promotion's push should start {TO_PROD}, waiting for e2e and an approval: {reasons}",
    )
    demo.invoke(f"CI: e2e PASSED for {STAGING}:{TAG}", _signed_result(demo, STAGING, build, "e2e"), "pending")
    forged = approval(demo, demo.signer.key_arn, build, "approve", "signed with the CI key, not the board's")
    demo.invoke("approval signed by the CI's key (not an approver)", forged, "ignored")
    approved = approval(demo, approver_key, build, "approve", "release board: go")
    decision = demo.promote_step("approval signed by the release board", approved, build, TAG, PROD)
    demo.record(f"{STAGING}:{TAG} (-> prod, approved)", TAG, build, decision, target=PROD)
    demo.invoke(f"ECR push of the promotion into {PROD}", push_event(PROD, build.digest, TAG), "ignored")
    status = demo.deliver({"action": "status", "repository": STAGING, "tag": TAG}).get("status") or {}
    approvals = status.get("approvals") or []
    shown = "; ".join(f"{a.get('decision')} by {a.get('key_id')}: {a.get('reason')}" for a in approvals)
    say(f"   {'status ' + STAGING + ':' + TAG:<50} -> approvals: {shown or 'none'}")
    demo.expect(
        [(a.get("decision"), a.get("key_id"), a.get("reason")) for a in approvals]
        == [("approve", approver_key, "release board: go")],
        f"status of {STAGING}:{TAG} should show the board's approval only, shows {approvals}",
    )
    return {TAG: build.digest}
