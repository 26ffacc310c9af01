"""The promotion attestation: publish a signed SLSA VSA with every promoted image, and verify it.

Why a package: publishing (the function, on promotion) and verifying (production, `promoter verify`)
must agree on where the VSA lives and what it says. Modules:
- `discovery`: where referrers and envelopes are found (referrers API, `sha256-<hex>`, `.att`);
- `publisher`: build, sign and push the VSA before the promoted tag (`publish_attestation`);
- `verification`: find and check the VSA of an image (`verify_image`).
The signing primitives and OCI layouts are `promoter.attest`'s; nothing here imports boto3.
"""

from __future__ import annotations

from .publisher import PublishedAttestation, Signer, evidence_descriptor, policy_digest, publish_attestation
from .verification import NotVerified, Verified, verify_image

__all__ = [
    "NotVerified",
    "PublishedAttestation",
    "Signer",
    "Verified",
    "evidence_descriptor",
    "policy_digest",
    "publish_attestation",
    "verify_image",
]
