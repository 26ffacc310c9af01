"""Does this image carry a promotion attestation that verifies? The logic behind `promoter verify`.

Why separate from the command: the check is the product's promise to production ("this digest went
through the gate"), so it is one function that tests, the demo and the CLI share. It trusts nothing it
reads from the registry: each candidate envelope must pass `attest.evidence.verify_vsa` (signature by
the given key, subject = the image's digest, verificationResult PASSED, optional policy digest).
"""

from __future__ import annotations

from dataclasses import dataclass

from promoter.attest.dsse import EnvelopeVerifier
from promoter.attest.errors import UntrustedEvidence
from promoter.attest.evidence import VerifiedSummary, verify_vsa
from promoter.attest.layout import attestation_tag, referrers_tag
from promoter.registry import RegistryClient

from .discovery import vsa_candidates


class NotVerified(Exception):
    """No attestation proves the image; `str(error)` is the one-line reason."""


@dataclass(frozen=True)
class Verified:
    """The VSA that verified, and where it was found."""

    summary: VerifiedSummary
    where: str
    attestation: str  # digest of the manifest that holds it

    def line(self, image: str) -> str:
        summary = self.summary
        return (
            f"verified {image}: rule {summary.policy_uri}, verified at {summary.time_verified or 'unknown time'} "
            f"by {summary.verifier_id}, signed by {summary.key_id} ({self.where}, {self.attestation})"
        )


def verify_image(
    client: RegistryClient,
    repository: str,
    digest: str,
    verifier: EnvelopeVerifier,
    *,
    policy_digest: str | None = None,
) -> Verified:
    """The first VSA about `digest` that verifies; else `NotVerified` with the reasons the candidates failed
    (or "no attestation" when none was found). Registry faults propagate as `RegistryError`."""
    reasons: list[str] = []
    for candidate in vsa_candidates(client, repository, digest):
        try:
            summary = verify_vsa(candidate.envelope, digest, verifier, expected_policy_digest=policy_digest)
        except UntrustedEvidence as error:
            reasons.append(str(error))
            continue
        return Verified(summary, candidate.where, candidate.referrer)
    if not reasons:
        raise NotVerified(
            f"no attestation: nothing refers to {digest} with a DSSE envelope (looked in the referrers API, "
            f"tag {referrers_tag(digest)} and tag {attestation_tag(digest)})"
        )
    unique = list(dict.fromkeys(reasons))
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 and len(unique) == 1 else ""
    raise NotVerified("; ".join(unique[:3]) + more)
