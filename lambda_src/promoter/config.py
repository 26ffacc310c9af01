"""Runtime settings, read once from the environment into a typed object and passed down.

The only reader of the function's environment (variable names from promoter.contract.Env); the
logic below it gets a Settings and never looks at os.environ.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from promoter.contract import Env
from promoter.policy import Policy, load_policy


class ConfigError(ValueError):
    """The function's environment is incomplete or invalid; the message names the variable."""


def _repository_policy(raw: str) -> str | None:
    """The repository policy text, checked once: a JSON object with a Statement list."""
    if not raw.strip():
        return None
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{Env.TARGET_REPOSITORY_POLICY} is not valid JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), list) or not document["Statement"]:
        raise ConfigError(f"{Env.TARGET_REPOSITORY_POLICY} must be a policy document with a non-empty Statement list")
    return raw


@dataclass(frozen=True)
class Settings:
    policy: Policy
    ledger_table: str
    registry_endpoint: str | None = None
    region: str | None = None
    # The write protection (repository policy JSON) for targets the function creates; None: it creates none.
    target_repository_policy: str | None = None
    # The bus decisions are announced on (the stack sets the account's default bus); None: no events.
    event_bus: str | None = None
    # The KMS key promotions are attested with (a VSA pushed before the tag); None: no attestation.
    attestation_key: str | None = None
    # The policy as configured (JSON text): the attestation records the sha256 of its canonical JSON.
    policy_json: str | None = None
    # Names the verifier in promotion attestations: the function's ARN, set by the handler from its context.
    verifier_id: str | None = None

    @property
    def events_are_evidence(self) -> bool:
        """Local mode (a plain registry) has no scanner or pipeline API: event payloads are the evidence."""
        return self.registry_endpoint is not None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        raw_policy = environ.get(Env.PROMOTION_POLICY)
        if not raw_policy:
            raise ConfigError(f"{Env.PROMOTION_POLICY} is not set: it must hold the promotion policy JSON")
        table = environ.get(Env.LEDGER_TABLE, "").strip()
        if not table:
            raise ConfigError(f"{Env.LEDGER_TABLE} is not set: it must name the ledger DynamoDB table")
        endpoint = environ.get(Env.REGISTRY_ENDPOINT, "").strip().rstrip("/") or None
        if endpoint is not None:
            parts = urlsplit(endpoint)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
                raise ConfigError(f"{Env.REGISTRY_ENDPOINT} must look like http://127.0.0.1:5000, got {endpoint!r}")
        return cls(
            policy=load_policy(raw_policy),
            target_repository_policy=_repository_policy(environ.get(Env.TARGET_REPOSITORY_POLICY, "")),
            ledger_table=table,
            registry_endpoint=endpoint,
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
            event_bus=environ.get(Env.EVENT_BUS, "").strip() or None,
            attestation_key=environ.get(Env.ATTESTATION_KEY, "").strip() or None,
            policy_json=raw_policy,
        )
