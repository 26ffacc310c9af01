"""Signed test results checked through AWS KMS, as promoter.ports.TestResultVerifier.

promoter.attest does the DSSE and in-toto work and raises `UntrustedEvidence` with the reason; the
service wants that reason as an answer, so the exception is turned into one here. The KMS client is
created on first use: only a signed result pays for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from promoter.attest.errors import UntrustedEvidence
from promoter.attest.evidence import verify_test_result
from promoter.attest.kms import KmsVerifier


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
