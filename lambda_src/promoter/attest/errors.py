"""Why a piece of signed evidence does not count.

One small hierarchy so callers catch one class: every reason a test result, approval or attestation
is refused is an `UntrustedEvidence` whose message is the human reason the decision records
(`ignored` with that reason). Messages name key ids, digests and predicate types, never key
material, credentials or the raw payload.
"""

from __future__ import annotations


class UntrustedEvidence(Exception):
    """The evidence does not count; `str(error)` is the reason to record."""


class InvalidEnvelope(UntrustedEvidence, ValueError):
    """The DSSE envelope is not well formed (bad JSON, wrong types, bad base64, too large)."""


class InvalidStatement(UntrustedEvidence, ValueError):
    """The signed payload is not the in-toto Statement v1 / predicate this product expects."""
