"""Whether signed evidence counts: an approve/reject (the rule it names, its approver keys, the
signature) and, under a trust section, a test result.

Kept out of the service so the checks read in one place, in the order a refusal is reported: the
rule exists, reads from the named repository, requires an approval, and the envelope is signed for
this digest, rule and decision by one of that rule's keys. A refusal is the reason the decision
records as `ignored`; nothing is written for it.
"""

from __future__ import annotations

from promoter.commands import ApprovalDecision, ImageTestResult
from promoter.decision import RuleMatch
from promoter.gates import ApprovalRecord
from promoter.policy import Policy
from promoter.ports import ApprovalVerifier, TestResultVerifier


def approval_stage(policy: Policy, repository: str, rule_name: str) -> str:
    """The repository the named rule reads from, for an approval that names `repository`.

    An approver may name the image where it was built (`approve dev-app:v1 --rule to-prod`) while the
    rule reads a later stage of the chain (`staging-*` → `prod-{name}`): the approval is about the
    digest and the rule, so it is kept with the stage the rule decides. Without such a stage: `repository`.
    """
    if any(rule.name == rule_name for rule, _ in policy.rules_for(repository)):
        return repository
    for stage in policy.chain_repositories(repository):
        if any(rule.name == rule_name for rule, _ in policy.rules_for(stage)):
            return stage
    return repository


def verified_approval(
    event: ApprovalDecision, digest: str, matches: list[RuleMatch], policy: Policy, verifier: ApprovalVerifier | None
) -> ApprovalRecord | str:
    """The approval to record, or why it does not count."""
    named = event.rule
    if not any(rule.name == named for rule in policy.rules):
        return f"approval not counted: the policy has no rule {named!r}"
    rule = next((rule for rule, _ in matches if rule.name == named), None)
    if rule is None:
        return f"approval not counted: rule {named!r} does not promote from {event.repository}"
    required = rule.require.approval
    if required is None:
        return f"approval not counted: rule {named!r} requires no approval"
    if event.attestation is None:
        keys = ", ".join(required.signed_by)
        return f"approval not trusted: unsigned, and rule {named!r} accepts only approvals signed by {keys}"
    if verifier is None:
        return "approval not trusted: this function has no verifier for signed approvals wired in"
    signed = verifier.verify(
        event.attestation,
        digest,
        rule=named,
        decision=event.decision,
        repository=event.repository,
        trusted=required.signed_by,
    )
    if isinstance(signed, str):
        return f"approval not trusted: {signed}"
    return ApprovalRecord(
        rule=named,
        decision=event.decision,
        key_id=signed.key_id,
        reason=signed.reason,
        at=event.time,
        attestation_digest=signed.attestation_digest,
    )


def untrusted_result(event: ImageTestResult, policy: Policy, verifier: TestResultVerifier | None) -> str | None:
    """With a trust section, why this test result does not count (None: it does); without one, all count."""
    trust = policy.trust.test_results
    if trust is None:
        return None
    if event.attestation is None:
        return f"unsigned, and the policy trusts only results signed by {', '.join(trust.signed_by)}"
    if verifier is None:
        return "this function has no verifier for signed results wired in"
    return verifier.verify(event.attestation, event.digest, event.suite, event.result)
