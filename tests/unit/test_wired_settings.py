"""EVENT_BUS and ATTESTATION_KEY as wiring reads them: unset means exactly today's behaviour (no events,
plain copies); set, the service announces on that bus and attests with that key. No AWS call is made."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from promoter.adapters.event_bus import EventBridgePublisher, NoEvents
from promoter.attested_copy import AttestedCopies
from promoter.config import Settings
from promoter.contract import SERVICE_NAME, Env
from promoter.handler import _function_of
from promoter.wiring import build_services

POLICY = json.dumps({"rules": [{"name": "r", "source": "dev-a", "target": "prod-a"}]})
KEY = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def settings(**extra: str) -> Settings:
    return Settings.from_environ(
        {Env.PROMOTION_POLICY: POLICY, Env.LEDGER_TABLE: "ledger", "AWS_REGION": "us-west-2", **extra}
    )


def test_unset_means_no_events_and_no_attestation() -> None:
    services = build_services(settings(), "111122223333")

    assert isinstance(services.publisher, NoEvents)
    assert services.attested is None


def test_blank_values_count_as_unset() -> None:
    plain = settings(**{Env.EVENT_BUS: "  ", Env.ATTESTATION_KEY: ""})

    assert (plain.event_bus, plain.attestation_key) == (None, None)


def test_set_the_bus_is_used_and_the_key_attests_naming_the_verifier() -> None:
    read = settings(**{Env.EVENT_BUS: "default", Env.ATTESTATION_KEY: KEY})
    services = build_services(read, "111122223333")

    assert read.policy_json == POLICY
    assert isinstance(services.publisher, EventBridgePublisher)
    assert isinstance(services.attested, AttestedCopies)
    assert services.attested._verifier_id == SERVICE_NAME  # no Lambda context: the service's name


def test_the_handler_names_the_unqualified_function_arn() -> None:
    qualified = SimpleNamespace(invoked_function_arn="arn:aws:lambda:us-west-2:111122223333:function:promoter:live")

    assert _function_of(qualified) == ("111122223333", "arn:aws:lambda:us-west-2:111122223333:function:promoter")
    assert _function_of(SimpleNamespace(invoked_function_arn="")) == (None, None)
