"""Security properties: the ECR token never leaks (logs, stderr, exception messages) on success, on a 401
refresh, or on failures; an override is refused unless the policy allows it and never skips a failed gate;
test results are accepted only from the dedicated bus; IAM grants are least-privilege."""

from __future__ import annotations

import base64
import json
import logging
import os
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from devtools import images
from devtools.eventfactory import ci_result_event, push_event
from devtools.localregistry import LocalRegistry
from infra.promoter_function import HANDLER
from promoter.registry import (
    AuthenticationFailed,
    EcrAuth,
    RegistryClient,
    RegistryError,
    TransientRegistryError,
    copy_image,
)
from tests.support.cdk import (
    Synthesized,
    Template,
    as_list,
    function_named,
    glob_context,
    only,
    ref_of,
    resources,
    role_statements,
    synth_once,
)
from tests.support.promotion import only as only_decision

from .conftest import fast_policy

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

SECRETS = ("s3cr3t-FIRST-ecr-password-0123456789", "s3cr3t-SECOND-ecr-password-9876543210")


def _token(secret: str) -> str:
    return base64.b64encode(f"AWS:{secret}".encode()).decode()


def _forms(secret: str) -> tuple[str, ...]:
    """Every form in which a token could leak: the secret, its base64, and the raw `AWS:` pair."""
    return secret, _token(secret), f"AWS:{secret}"


def stubbed_ecr(tokens: int = 2, fail_with: str | None = None) -> tuple[Any, Stubber]:
    client = boto3.client("ecr", region_name="us-west-2", aws_access_key_id="t", aws_secret_access_key="t")
    stubber = Stubber(client)
    if fail_with is not None:
        stubber.add_client_error("get_authorization_token", service_error_code=fail_with, http_status_code=400)
    for secret in SECRETS[:tokens]:
        stubber.add_response(
            "get_authorization_token",
            {
                "authorizationData": [
                    {
                        "authorizationToken": _token(secret),
                        "expiresAt": datetime.now(UTC) + timedelta(hours=12),
                        "proxyEndpoint": "https://111122223333.dkr.ecr.us-west-2.amazonaws.com",
                    }
                ]
            },
            {},
        )
    stubber.activate()
    return client, stubber


def _fault_setup(registry: LocalRegistry, repo_name, fault_proxy, fault: str | None, times: int | None):
    dev, prod = repo_name("dev-sec"), repo_name("prod-sec")
    pushed = images.push_image(registry.url, dev, "v1", [os.urandom(50_000)])
    proxy = fault_proxy(registry)
    if fault is not None:
        proxy.inject(fault, path=r"/manifests/", times=times)
    return dev, prod, pushed, proxy


SCENARIOS = {
    # name: (fault, times, tokens fetched, expected error)
    "success": (None, None, 1, None),
    "401-then-refresh": ("401", 1, 2, None),
    "401-forever": ("401", None, 2, AuthenticationFailed),
    "503-forever": ("503", None, 1, TransientRegistryError),
    "403-denied": ("403", None, 1, RegistryError),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_ecr_token_never_appears_in_logs_output_or_errors(
    scenario: str,
    registry: LocalRegistry,
    repo_name,
    fault_proxy,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Given an ECR-authenticated client (tokens from a Stubber-backed GetAuthorizationToken) and a registry
    # that answers `scenario`, with every logger at DEBUG
    fault, times, fetched, expected = SCENARIOS[scenario]
    dev, prod, pushed, proxy = _fault_setup(registry, repo_name, fault_proxy, fault, times)
    ecr, stubber = stubbed_ecr()
    auth = EcrAuth("us-west-2", lambda: ecr)
    client = RegistryClient(proxy.url, auth=auth, retry=fast_policy())
    caplog.set_level(logging.DEBUG)
    logging.getLogger("promoter").setLevel(logging.DEBUG)

    # When it copies the image within the registry
    error: BaseException | None = None
    try:
        copy_image(client, dev, "v1", client, prod, ["v1"])
    except RegistryError as caught:
        error = caught

    # Then the path was the one intended (tokens were fetched, and refreshed after a 401) ...
    assert auth.tokens_fetched == fetched
    if expected is None:
        assert error is None and images.get_manifest(registry.url, prod, "v1")[2] == pushed.manifest
    else:
        assert isinstance(error, expected), error
    # ... and no form of any token shows in logs, stdout/stderr, or the error, its chain and its traceback
    out, err = capfd.readouterr()
    seen = [caplog.text, out, err, *(repr(record.__dict__) for record in caplog.records)]
    if error is not None:
        seen += [str(error), repr(error), repr(error.args), "".join(traceback.format_exception(error))]
        chained = error.__cause__ or error.__context__
        while chained is not None:
            seen += [str(chained), repr(chained)]
            chained = chained.__cause__ or chained.__context__
    for secret in SECRETS:
        for form in _forms(secret):
            assert not any(form in text for text in seen), f"token leaked ({scenario})"
    stubber.deactivate()


def test_token_service_refusal_does_not_leak_and_fails_cleanly(caplog: pytest.LogCaptureFixture) -> None:
    ecr, _ = stubbed_ecr(tokens=1, fail_with="AccessDeniedException")
    auth = EcrAuth("us-west-2", lambda: ecr)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationFailed) as caught:
        auth.header("repository:dev:pull", lambda url, headers: (500, b""))
    assert "AccessDeniedException" in str(caught.value)
    # and the next call, with a token available, returns it only as the header value
    assert auth.header("repository:dev:pull", lambda url, headers: (500, b"")) == "Basic " + _token(SECRETS[0])
    assert not any(form in caplog.text for form in _forms(SECRETS[0]))


def test_ecr_token_never_appears_in_cli_output_even_at_debug(
    registry: LocalRegistry, repo_name, fault_proxy, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the CLI, every client ECR-authenticated with stubbed tokens, a 401 on the first manifest read
    dev, prod, _pushed, proxy = _fault_setup(registry, repo_name, fault_proxy, "401", 1)

    def for_host(cls, host, ecr_client_factory=None, *, retry=None, credentials=None):
        auth = EcrAuth("us-west-2", lambda: stubbed_ecr()[0])  # a fresh stubbed ECR client per CLI client
        return RegistryClient(f"http://{host}", auth=auth, retry=fast_policy())

    monkeypatch.setattr(RegistryClient, "for_host", classmethod(for_host))

    # When it copies with -vv (every request logged), then fails on a tag conflict at -vv
    first = run_cli("-vv", "copy", "--json", f"{proxy.host}/{dev}:v1", f"{proxy.host}/{prod}:v1")
    other = images.push_image(registry.url, dev, "v2", [os.urandom(1000)])
    conflict = run_cli("-vv", "copy", f"{proxy.host}/{dev}@{other.digest}", f"{proxy.host}/{prod}:v1")

    # Then both ran the intended paths, and nothing they printed holds a token
    assert first.code == 0 and conflict.code == 3, (first.err, conflict.err)
    assert proxy.injected["401"] == 1
    printed = first.out + first.err + conflict.out + conflict.err
    assert all(form not in printed for secret in SECRETS for form in _forms(secret))


# ---- override --------------------------------------------------------------------------------


def _gated(dev: str, prod: str, allow_override: bool | None) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "rules": [{"name": "r", "source": dev, "target": prod, "tags": ["v*"], "require": {"tests": ["integration"]}}]
    }
    if allow_override is not None:
        policy["allow_override"] = allow_override
    return policy


@pytest.mark.parametrize("allow_override", [None, False])
def test_override_is_refused_unless_the_policy_allows_it(promoter, repo_name, allow_override: bool | None) -> None:
    # Given a gated rule whose policy does not allow overrides (absent or false) and an untested image
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(_gated(dev, prod, allow_override))
    image = promoter.push(dev, "v1")
    promoter.invoke(push_event(dev, image.digest, "v1"))

    # When an operator asks to promote it with an override
    request = {"action": "promote", "repository": dev, "tag": "v1", "override": {"reason": "please"}}
    decision = only_decision(promoter.invoke(request))

    # Then it stays pending, says why, and nothing reached the target
    assert decision["outcome"] == "pending"
    assert any("override refused" in reason for reason in decision["reasons"])
    assert promoter.target_digest(prod, "v1") is None
    assert not [item for item in promoter.ledger_items() if item["sk"]["S"].startswith("PROMOTED#")]


def test_an_allowed_override_still_never_skips_a_failed_gate(promoter, repo_name) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(_gated(dev, prod, True))
    image = promoter.push(dev, "v1")
    promoter.invoke(ci_result_event(dev, image.digest, "integration", "FAILED"))
    request = {"action": "promote", "repository": dev, "tag": "v1", "override": {"reason": "ship it"}}
    assert only_decision(promoter.invoke(request))["outcome"] == "rejected"
    assert promoter.target_digest(prod, "v1") is None


def test_an_override_cannot_ride_in_on_an_event(promoter, repo_name) -> None:
    # An override smuggled into a test-result event's detail is not an override
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(_gated(dev, prod, True))
    image = promoter.push(dev, "v1")
    event = ci_result_event(dev, image.digest, "other-suite", "PASSED")
    event["detail"]["override"] = {"reason": "sneaky"}
    response = promoter.invoke(event)
    assert all(d["outcome"] != "promoted" for d in response["decisions"])
    assert promoter.target_digest(prod, "v1") is None


# ---- infra: the bus and IAM ------------------------------------------------------------------

# Actions with no resource-level permissions: the only ones that may be granted on "*".
# (inspector2:ListFindings: enhanced-scan findings, "IAM permissions required for enhanced scanning", ECR user
# guide; no resource type in the Service Authorization Reference for Amazon Inspector2.)
UNSCOPABLE = {
    "ecr:GetAuthorizationToken",
    "inspector2:ListFindings",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
FORBIDDEN = (
    "ecr:Delete",
    "ecr:BatchDeleteImage",
    "ecr:SetRepositoryPolicy",
    "ecr:PutLifecyclePolicy",
    "ecr:PutRegistryPolicy",
    "ecr:PutReplicationConfiguration",
    "ecr:PutImageTagMutability",
    "ecr:CreateRepository",
    "iam:",
    "sts:AssumeRole",
    "lambda:",
)
# With `{name}` rules the function creates each target on first promotion, write-protected (gate integrity):
# these, and only these, of FORBIDDEN it may have, and only on the policy's target repositories.
TARGET_CREATION = {"ecr:CreateRepository", "ecr:SetRepositoryPolicy"}
# Events out (Image Promoted, …) go to the account's default bus, and only there.
DEFAULT_BUS_ARN = "arn:aws:events:us-west-2:111122223333:event-bus/default"


@pytest.fixture(scope="module")
def source(scenario: Synthesized) -> Template:
    return scenario.source


def _rules(template: Template) -> list[dict[str, Any]]:
    return [body["Properties"] for body in resources(template, "AWS::Events::Rule").values()]


def test_test_results_are_accepted_only_from_the_dedicated_bus(scenario: Synthesized, source: Template) -> None:
    bus, _ = only(source, "AWS::Events::EventBus")
    results = [r for r in _rules(source) if "Image Test Result" in json.dumps(r.get("EventPattern"))]
    assert len(results) == 1 and ref_of(results[0]["EventBusName"]) == bus
    assert results[0]["EventPattern"]["source"] == ["ecr-promoter"]
    # every rule on the default bus matches only exact aws.* sources: an `ecr-promoter` event there matches none
    for rule in _rules(source):
        if "EventBusName" in rule:
            continue
        if "ScheduleExpression" in rule:
            assert "EventPattern" not in rule
            continue
        sources = rule["EventPattern"]["source"]
        assert all(isinstance(s, str) and s.startswith("aws.") for s in sources), rule["EventPattern"]
        assert "Image Test Result" not in json.dumps(rule["EventPattern"])
    # only the configured CI principals may put events on that bus, and only PutEvents, only on it
    statements = [
        p["Properties"]["Statement"]
        for p in resources(source, "AWS::Events::EventBusPolicy").values()
        if ref_of(p["Properties"]["EventBusName"]) == bus
    ]
    principals = {p for s in statements for p in as_list(s["Principal"]["AWS"])}
    assert statements and principals == set(scenario.context["ci_principals"]) and "*" not in principals
    assert all(as_list(s["Action"]) == ["events:PutEvents"] and s["Effect"] == "Allow" for s in statements)


def _all_statements(template: Template) -> list[dict[str, Any]]:
    found = []
    for body in resources(template, "AWS::IAM::Policy").values():
        found += body["Properties"]["PolicyDocument"]["Statement"]
    for body in resources(template, "AWS::IAM::Role").values():
        for policy in body["Properties"].get("Policies", []):
            found += policy["PolicyDocument"]["Statement"]
    return found


@pytest.mark.parametrize("stack", ["source", "destination"])
def test_no_statement_anywhere_is_a_wildcard_or_an_inversion(scenario: Synthesized, stack: str) -> None:
    from infra.application import DESTINATION_STACK, SOURCE_STACK

    template = scenario.template(SOURCE_STACK if stack == "source" else DESTINATION_STACK)
    statements = _all_statements(template)
    assert statements or stack == "destination"
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement and "NotPrincipal" not in statement
        assert all(a != "*" and not a.endswith(":*") for a in as_list(statement["Action"])), statement


@pytest.fixture(scope="module", params=["scenario", "glob"])
def promoter_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The source stack of cdk.json's policy (named target) and of a `dev-*` → `prod-{name}` policy."""
    if request.param == "scenario":
        synthesized: Synthesized = request.getfixturevalue("scenario")
    else:
        synthesized = synth_once(tmp_path_factory, "glob", glob_context())
    return synthesized.source


def test_the_promoter_role_is_least_privilege(promoter_stack: Template) -> None:
    source = promoter_stack
    _, function = function_named(source, HANDLER)
    role = ref_of(function["Role"])
    assert role is not None and "ManagedPolicyArns" not in source["Resources"][role]["Properties"]
    statements = role_statements(source, role)
    for statement in statements:
        actions = as_list(statement["Action"])
        targets = as_list(statement["Resource"])
        if "*" in targets:
            assert set(actions) <= UNSCOPABLE, statement
        assert not [a for a in actions if a.startswith(FORBIDDEN) and a not in TARGET_CREATION], statement
        if TARGET_CREATION & set(actions):
            # only on the policy's `prod-` target patterns of this account, never a source or another repository
            assert targets and all(t.startswith(f"{TARGET_ARN}prod-") for t in targets), statement
        if "events:PutEvents" in actions:
            assert targets == [DEFAULT_BUS_ARN], statement
        if any(a.startswith("dynamodb:") for a in actions):  # item writes, on the ledger table only
            assert [ref_of(t) for t in targets] == [only(source, "AWS::DynamoDB::Table")[0]], statement
        for action in actions:
            if action in {"ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"}:
                # writes only into the policy's prod- targets of this account, never into a source repository
                assert targets and all(isinstance(t, str) and t.startswith(f"{TARGET_ARN}prod-") for t in targets)
    # the glob policy does make the role create targets: the exception above is exercised, not vacuous
    creates = [s for s in statements if "ecr:CreateRepository" in as_list(s["Action"])]
    assert bool(creates) == any("{name}" in rule["target"] for rule in _policy_of(source)["rules"]), creates


TARGET_ARN = "arn:aws:ecr:us-west-2:111122223333:repository/"


def _policy_of(source: Template) -> dict[str, Any]:
    """The promotion policy the function runs with (its environment)."""
    _, function = function_named(source, HANDLER)
    policy: dict[str, Any] = json.loads(function["Environment"]["Variables"]["PROMOTION_POLICY"])
    return policy


def test_the_destination_trusts_only_the_source_account_for_replication(scenario: Synthesized) -> None:
    destination = scenario.destination
    # The statement the custom resource merges into the registry policy (other statements stay the account's).
    assert not resources(destination, "AWS::ECR::RegistryPolicy")
    _, merged = only(destination, "Custom::EcrRegistryPolicyStatement")
    statement = json.loads(merged["Statement"])
    assert statement["Effect"] == "Allow"
    assert set(as_list(statement["Action"])) == {"ecr:ReplicateImage", "ecr:CreateRepository"}
    assert statement["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert statement["Resource"] == "arn:aws:ecr:us-west-2:444455556666:repository/prod-*"
