"""Signing keys (CI test results, promotion attestation), verify grants for policy keys, events out, the audit alarm."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import boto3
import moto
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from infra.config import NO_TRUST_WARNING, UNUSED_CI_KEY_WARNING, ConfigError, DeployConfig
from infra.custom_resources import public_key_pem
from infra.custom_resources.public_key_pem import pem_from_der
from infra.promoter_function import HANDLER
from infra.signing_keys import CI_KEY_ALIAS, KEY_ADMIN_ACTIONS, verification_statements
from promoter.contract import METRICS_NAMESPACE, Env, Metric, StackOutput
from tests.support.cdk import (
    KEYS_APPROVER,
    Synthesized,
    Template,
    as_list,
    function_named,
    only,
    ref_of,
    resources,
    role_statements,
    scenario_context,
)

ROOT = "arn:${AWS::Partition}:iam::ACCOUNT:root"
CRYPTO = {"kms:Sign", "kms:Verify", "kms:Encrypt", "kms:Decrypt", "kms:CreateGrant", "kms:GenerateDataKey"}


def key_named(template: Template, alias: str) -> tuple[str, dict[str, Any]]:
    (alias_body,) = [
        body["Properties"]
        for body in resources(template, "AWS::KMS::Alias").values()
        if body["Properties"]["AliasName"] == alias
    ]
    key_id = ref_of(alias_body["TargetKeyId"])
    assert key_id is not None
    return key_id, template["Resources"][key_id]


def statement(key: dict[str, Any], sid: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == sid]
    assert len(found) == 1, sid
    return found[0]


def principals(found: dict[str, Any]) -> list[Any]:
    return as_list(found["Principal"]["AWS"])


def root_of(principal: Any) -> str:
    return "".join(
        str(part) if not isinstance(part, dict) else "${AWS::Partition}" for part in principal["Fn::Join"][1]
    )


@pytest.fixture(scope="module")
def source(keys_scenario: Synthesized) -> Template:
    return keys_scenario.source


@pytest.fixture(scope="module")
def promoter_role(source: Template) -> str:
    role = ref_of(function_named(source, HANDLER)[1]["Role"])
    assert role is not None
    return role


def test_the_reference_scenario_has_no_signing_key_and_warns_it_trusts_every_event_writer(
    scenario: Synthesized,
) -> None:
    assert not [
        body for body in resources(scenario.source, "AWS::KMS::Key").values() if "KeySpec" in body["Properties"]
    ]
    env = function_named(scenario.source, HANDLER)[1]["Environment"]["Variables"]
    assert Env.ATTESTATION_KEY not in env
    assert NO_TRUST_WARNING in DeployConfig.from_context(scenario_context()).warnings
    assert "the test gate then trusts everyone who can put events in the account" in NO_TRUST_WARNING


def test_a_trust_section_silences_the_warning(keys_scenario: Synthesized) -> None:
    assert NO_TRUST_WARNING not in DeployConfig.from_context(keys_scenario.context).warnings


@pytest.mark.parametrize("value", ["yes", 1, "maybe"])
def test_the_key_switches_are_strict_booleans(value: Any) -> None:
    context = scenario_context()
    context["attestation"] = value
    with pytest.raises(ConfigError, match="'attestation'"):
        DeployConfig.from_context(context)


def test_the_key_switches_read_json_text_from_cdk_c_flags() -> None:
    context = scenario_context()
    context["signed_test_results"] = "true"
    assert DeployConfig.from_context(context).signed_test_results is True


def test_only_ci_principals_sign_with_the_ci_key_and_the_function_verifies(
    keys_scenario: Synthesized, source: Template, promoter_role: str
) -> None:
    key_id, key = key_named(source, CI_KEY_ALIAS)
    props = key["Properties"]
    assert (props["KeySpec"], props["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    sign = statement(key, "OnlyTheseSign")
    assert principals(sign) == keys_scenario.context["ci_principals"]
    assert sign["Condition"] == {"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}}
    verify = statement(key, "TheseVerify")
    assert [ref_of(p) for p in principals(verify)] == [promoter_role]
    assert set(as_list(verify["Action"])) == {"kms:Verify", "kms:GetPublicKey", "kms:DescribeKey"}
    outputs = source["Outputs"]
    assert ref_of(outputs[StackOutput.CI_SIGNING_KEY_ARN]["Value"]) == key_id
    assert outputs[StackOutput.CI_SIGNING_KEY_ALIAS]["Value"] == CI_KEY_ALIAS


def test_no_statement_of_either_key_lets_anyone_else_sign_or_grant(source: Template) -> None:
    keys = [b for b in resources(source, "AWS::KMS::Key").values() if b["Properties"].get("KeyUsage") == "SIGN_VERIFY"]
    assert len(keys) == 2
    for key in keys:
        admin = statement(key, "AccountAdministersTheKeyButCannotUseIt")
        assert root_of(principals(admin)[0]) == ROOT.replace("ACCOUNT", "111122223333")
        assert set(as_list(admin["Action"])) == set(KEY_ADMIN_ACTIONS)
        assert not CRYPTO & set(KEY_ADMIN_ACTIONS)
        for found in key["Properties"]["KeyPolicy"]["Statement"]:
            assert all("*" not in action for action in as_list(found["Action"])), found
            if "kms:Sign" in as_list(found["Action"]):
                assert found["Sid"] == "OnlyTheseSign"


def test_only_the_function_signs_attestations_and_both_accounts_verify(source: Template, promoter_role: str) -> None:
    key_id, key = key_named(source, "alias/ecr-promoter/attestation")
    assert (key["DeletionPolicy"], key["Properties"]["KeySpec"]) == ("Retain", "ECC_NIST_P256")
    assert [ref_of(p) for p in principals(statement(key, "OnlyTheseSign"))] == [promoter_role]
    verifiers = principals(statement(key, "TheseVerify"))
    roots = {root_of(p) for p in verifiers if isinstance(p, dict) and "Fn::Join" in p}
    assert roots == {ROOT.replace("ACCOUNT", "111122223333"), ROOT.replace("ACCOUNT", "444455556666")}
    env = function_named(source, HANDLER)[1]["Environment"]["Variables"]
    assert ref_of(env[Env.ATTESTATION_KEY]) == key_id
    outputs = source["Outputs"]
    assert ref_of(outputs[StackOutput.ATTESTATION_KEY_ARN]["Value"]) == key_id
    pem_resource = ref_of(outputs[StackOutput.ATTESTATION_PUBLIC_KEY]["Value"])
    assert outputs[StackOutput.ATTESTATION_PUBLIC_KEY]["Value"]["Fn::GetAtt"][1] == "Pem"
    custom = source["Resources"][str(pem_resource)]
    assert custom["Type"] == "Custom::KmsPublicKeyPem" and ref_of(custom["Properties"]["KeyArn"]) == key_id
    # The PEM reader may read that one key's public key, nothing else.
    _, function = only(
        source, "AWS::Lambda::Function", lambda b: b["Properties"].get("Handler") == "public_key_pem.on_event"
    )
    kms = [s for s in role_statements(source, str(ref_of(function["Role"]))) if "kms:" in json.dumps(s["Action"])]
    assert [(s["Action"], ref_of(s["Resource"])) for s in kms] == [("kms:GetPublicKey", key_id)]


def test_the_function_may_verify_with_every_policy_key_and_no_other(source: Template, promoter_role: str) -> None:
    kms = [s for s in role_statements(source, promoter_role) if "kms:" in json.dumps(s["Action"])]
    assert all(set(as_list(s["Action"])) == {"kms:Verify", "kms:GetPublicKey", "kms:DescribeKey"} for s in kms)
    direct = [s for s in kms if "Condition" not in s]
    assert [sorted(as_list(s["Resource"])) for s in direct] == [
        [
            "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321",
            "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ]
    ]
    by_alias = {s["Resource"]: s["Condition"] for s in kms if "Condition" in s}
    assert by_alias == {
        "arn:aws:kms:us-west-2:111122223333:key/*": {
            "ForAnyValue:StringEquals": {"kms:ResourceAliases": [CI_KEY_ALIAS]}
        },
        "arn:aws:kms:eu-west-1:777788889999:key/*": {
            "ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/release-approvers"]}
        },
    }
    assert KEYS_APPROVER.endswith("alias/release-approvers")


def test_without_policy_keys_no_verify_grant() -> None:
    from infra.config import AccountRegion

    assert verification_statements([], AccountRegion(account="111122223333", region="us-west-2")) == []


def test_decisions_go_out_on_the_default_bus_only(source: Template, promoter_role: str) -> None:
    env = function_named(source, HANDLER)[1]["Environment"]["Variables"]
    assert env[Env.EVENT_BUS] == "default"
    puts = [s for s in role_statements(source, promoter_role) if "events:PutEvents" in as_list(s["Action"])]
    assert [(as_list(s["Action"]), s["Resource"]) for s in puts] == [
        (["events:PutEvents"], "arn:aws:events:us-west-2:111122223333:event-bus/default")
    ]


def test_an_unrecorded_image_alarms_at_once_and_notifies_the_topic(source: Template) -> None:
    topic, _ = only(source, "AWS::SNS::Topic")
    _, alarm = only(
        source,
        "AWS::CloudWatch::Alarm",
        lambda b: b["Properties"].get("MetricName") == Metric.UNRECORDED_IMAGE,
    )
    assert alarm["Namespace"] == METRICS_NAMESPACE
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (1, 1)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Statistic"] == "Sum"
    assert [ref_of(action) for action in alarm["AlarmActions"]] == [topic]


def test_targets_keep_release_tags_immutable_but_let_sha256_tags_move(source: Template) -> None:
    _, target = only(source, "AWS::ECR::Repository", lambda b: b["Properties"]["RepositoryName"] == "prod-microservice")
    assert target["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert target["ImageTagMutabilityExclusionFilters"] == [
        {"ImageTagMutabilityExclusionFilterType": "WILDCARD", "ImageTagMutabilityExclusionFilterValue": "sha256-*"}
    ]


def test_the_pem_is_the_der_public_key_armoured() -> None:
    # Given a P-256 public key as KMS GetPublicKey returns it (DER SubjectPublicKeyInfo)
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # When it is armoured
    pem = pem_from_der(der)
    # Then any PEM reader loads the same key, and the body is base64 of the DER in 64-character lines
    loaded = serialization.load_pem_public_key(pem.encode())
    assert isinstance(loaded, ec.EllipticCurvePublicKey) and loaded.public_numbers() == public.public_numbers()
    lines = pem.splitlines()
    assert lines[0] == "-----BEGIN PUBLIC KEY-----" and lines[-1] == "-----END PUBLIC KEY-----"
    assert all(len(line) <= 64 for line in lines[1:-1])
    assert base64.b64decode("".join(lines[1:-1])) == der


def test_a_ci_key_the_policy_does_not_trust_is_a_warning(keys_scenario: Synthesized) -> None:
    assert UNUSED_CI_KEY_WARNING not in DeployConfig.from_context(keys_scenario.context).warnings
    context = scenario_context()
    context["signed_test_results"] = True
    assert UNUSED_CI_KEY_WARNING in DeployConfig.from_context(context).warnings


class _Answer:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: Any, timeout: float) -> Any:
        assert request.get_method() == "PUT" and request.full_url.startswith("https://")
        self.bodies.append(json.loads(request.data))
        return contextlib.nullcontext()


def _event(request_type: str, key: str) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/presigned",
        "StackId": "stack",
        "RequestId": "request",
        "LogicalResourceId": "PublicKey",
        "ResourceProperties": {"KeyArn": key},
    }


def test_the_pem_custom_resource_answers_with_the_keys_public_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a P-256 signing key in (moto's) KMS, whose GetPublicKey returns real DER (NOTES: moto 5.2.5 KMS)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    answer = _Answer()
    monkeypatch.setattr(public_key_pem.urllib.request, "urlopen", answer)
    with moto.mock_aws():
        kms = boto3.client("kms", region_name="us-west-2")
        key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
        der = bytes(kms.get_public_key(KeyId=key)["PublicKey"])
        # When CloudFormation creates the resource, and then asks for one of a missing key
        public_key_pem.on_event(_event("Create", key), None)
        public_key_pem.on_event(_event("Update", key.replace(key[-12:], "000000000000")), None)
    # Then the first answer carries the PEM of that DER, the second fails with a reason (no hour-long wait)
    created, failed = answer.bodies
    assert created["Status"] == "SUCCESS" and created["PhysicalResourceId"] == key
    assert created["Data"]["Pem"] == pem_from_der(der)
    assert failed["Status"] == "FAILED" and "NotFoundException" in failed["Reason"] and failed["Data"] == {}
