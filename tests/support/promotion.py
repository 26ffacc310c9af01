"""Drive the function's one entry point (build_services + handle) against moto DynamoDB and a real local registry.

The environment is set as the stack sets it (so `--local` CLI commands in the same test see the
same function); the services are built from it once per policy, like a cold start."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from devtools import images
from devtools.lambda_local import LEDGER_TABLE as TABLE
from devtools.lambda_local import FakeContext, create_ledger_table
from devtools.localregistry import LocalRegistry
from promoter.config import Settings
from promoter.contract import Env
from promoter.entry import handle
from promoter.promotion import Services
from promoter.wiring import build_services

ACCOUNT_ID = "111122223333"
__all__ = ["TABLE", "FakeContext", "Promoter", "create_ledger_table", "only", "promoter", "rule"]


@dataclass
class Promoter:
    """One deployed-function stand-in: a policy, a ledger table, a registry."""

    registry: LocalRegistry
    dynamodb: Any
    monkeypatch: pytest.MonkeyPatch

    services: Services | None = None

    def configure(self, policy: dict[str, Any]) -> None:
        self.monkeypatch.setenv(Env.PROMOTION_POLICY, json.dumps(policy))
        self.services = None

    def invoke(self, event: Any, request_id: str | None = None) -> dict[str, Any]:
        if self.services is None:
            self.services = build_services(Settings.from_environ(os.environ), ACCOUNT_ID)
        return handle(event, self.services, request_id=request_id or str(uuid.uuid4()))

    def ledger_items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=TABLE)["Items"]

    def push(self, repository: str, tag: str | None, *, layers: int = 3, **kwargs: Any) -> images.PushedImage:
        return images.push_image(self.registry.url, repository, tag, images.random_layers(layers, 2048), **kwargs)

    def target_digest(self, repository: str, tag: str) -> str | None:
        status, _, body = images.get_manifest(self.registry.url, repository, tag)
        return images.sha256_digest(body) if status == 200 else None


@pytest.fixture
def promoter(registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch) -> Iterator[Promoter]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv(Env.LEDGER_TABLE, TABLE)
    monkeypatch.setenv(Env.REGISTRY_ENDPOINT, registry.url)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "EcrPromoterTest")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "ecr-promoter")
    from moto import mock_aws  # loaded as a plugin by every tier; only this fixture needs moto

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-west-2")
        create_ledger_table(dynamodb)
        yield Promoter(registry, dynamodb, monkeypatch)


def rule(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"name": extra.pop("name", "r"), "source": source, "target": target, **extra}


def only(response: dict[str, Any]) -> dict[str, Any]:
    """The single decision of a response (fails loudly if there are several)."""
    assert "error" not in response, response
    assert len(response["decisions"]) == 1, response
    return response["decisions"][0]  # type: ignore[no-any-return]
