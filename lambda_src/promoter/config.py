"""Runtime settings, read once from the environment into a typed object and passed down.

The only reader of the function's environment (variable names from promoter.contract.Env); the
logic below it gets a Settings and never looks at os.environ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from promoter.contract import Env
from promoter.policy import Policy, load_policy


class ConfigError(ValueError):
    """The function's environment is incomplete or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    policy: Policy
    ledger_table: str
    registry_endpoint: str | None = None
    region: str | None = None

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
            ledger_table=table,
            registry_endpoint=endpoint,
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
        )
