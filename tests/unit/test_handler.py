"""The Lambda handler only wires Powertools around `promoter.entry.run`: metrics named by the contract."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from devtools.eventfactory import push_event
from devtools.lambda_local import FakeContext
from promoter import handler
from promoter.config import Settings
from promoter.contract import OUTCOME_METRIC, Metric, Outcome
from promoter.promotion import Services
from tests.unit.fakes import World, rule, world


def _context() -> FakeContext:
    # A fresh account per test: the handler builds its services once per (cold start, account).
    account = f"{random.randrange(10**11, 10**12)}"
    return FakeContext(invoked_function_arn=f"arn:aws:lambda:us-west-2:{account}:function:ecr-promoter")


@pytest.fixture
def in_memory(monkeypatch: pytest.MonkeyPatch) -> World:
    w = world({"rules": [rule("dev-svc", "prod-svc")]})
    built: list[str | None] = []

    def build(settings: Settings, account_id: str | None) -> Services:
        built.append(account_id)
        return w.services

    monkeypatch.setenv("PROMOTION_POLICY", json.dumps({"rules": [rule("dev-svc", "prod-svc")]}))
    monkeypatch.setenv("LEDGER_TABLE", "unused")
    monkeypatch.setattr(handler.metrics, "namespace", "EcrPromoterTest")  # read from the env at import
    monkeypatch.setattr(handler, "build_services", build)
    return w


def _emitted(out: str) -> set[str]:
    names: set[str] = set()
    for line in out.splitlines():
        try:
            blob: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            names |= {metric["Name"] for metric in directive["Metrics"]}
    return names


def test_a_promotion_emits_the_outcome_and_copy_metrics(in_memory: World, capsys: pytest.CaptureFixture[str]) -> None:
    digest = in_memory.images.add("dev-svc", "v1")

    response = handler.lambda_handler(push_event("dev-svc", digest, "v1"), _context())

    assert response["decisions"][0]["outcome"] == "promoted"
    assert {OUTCOME_METRIC[Outcome.PROMOTED], Metric.BLOBS_MOUNTED, Metric.BYTES_COPIED} <= _emitted(
        capsys.readouterr().out
    )


def test_unreadable_input_is_answered_and_counted_as_invalid(
    in_memory: World, capsys: pytest.CaptureFixture[str]
) -> None:
    response = handler.lambda_handler({"action": "explode"}, _context())

    assert response["decisions"] == [] and "unknown action" in response["error"]
    assert Metric.INVALID_INPUT in _emitted(capsys.readouterr().out)
    assert in_memory.ledger.writes == 0


def test_every_outcome_has_a_metric_name() -> None:
    assert set(OUTCOME_METRIC) == set(Outcome)
