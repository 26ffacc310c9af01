"""Signed test results and approvals checked through AWS KMS (promoter.ports.TestResultVerifier, ApprovalVerifier).

promoter.attest does the DSSE and in-toto work and raises `UntrustedEvidence` with the reason; the
service wants that reason as an answer, so the exception is turned into one here. The KMS client is
created on first use: only a signed result pays for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from promoter.attest.errors import UntrustedEvidence
from promoter.attest.evidence import verify_approval, verify_test_result
from promoter.attest.kms import KmsVerifier
from promoter.ports import SignedApproval


class KmsTestResults:
    """Accepts a test result only when signed by one of `trusted` (KMS key ARNs, ids or alias ARNs)."""

    def __init__(self, kms_client: Callable[[], Any], trusted: tuple[str, ...]) -> None:
        self._kms_client = kms_client
        self._trusted = trusted
        self._verifier: KmsVerifier | None = None

    def verify(self, attestation: Mapping[str, Any] | None, digest: str, suite: str, result: str) -> str | None:
        if self._verifier is None:
            self._verifier = KmsVerifier(self._kms_client(), self._trusted)
        try:
            verify_test_result(attestation, digest, suite, result, self._verifier)
        except UntrustedEvidence as refused:
            return str(refused)
        return None


class KmsApprovals:
    """promoter.ports.ApprovalVerifier through KMS: one verifier per set of approver keys (one per rule)."""

    def __init__(self, kms_client: Callable[[], Any]) -> None:
        self._kms_client = kms_client
        self._client: Any = None
        self._verifiers: dict[tuple[str, ...], KmsVerifier] = {}

    def _verifier(self, trusted: tuple[str, ...]) -> KmsVerifier:
        if trusted not in self._verifiers:
            if self._client is None:
                self._client = self._kms_client()
            self._verifiers[trusted] = KmsVerifier(self._client, trusted)
        return self._verifiers[trusted]

    def verify(
        self,
        attestation: Mapping[str, Any] | None,
        digest: str,
        *,
        rule: str,
        decision: str,
        repository: str,
        trusted: tuple[str, ...],
    ) -> SignedApproval | str:
        try:
            signed = verify_approval(
                attestation, digest, decision, rule, self._verifier(trusted), expected_repository=repository
            )
        except UntrustedEvidence as refused:
            return str(refused)
        return SignedApproval(signed.key_id, signed.reason, signed.attestation_digest)
