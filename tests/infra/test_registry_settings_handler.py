"""The registry-settings custom resource merges ours into the account's settings and removes only ours.

moto implements neither account settings nor a faithful registry policy, so the ECR calls are pinned with
botocore's Stubber, which validates every request and response against ECR's service model (botocore
1.44.8). The shapes follow the ECR API Reference:
- DescribeRegistry: "Describes the settings for a registry. The replication configuration for a repository
  can be created or updated with the PutReplicationConfiguration API action." → `registryId`,
  `replicationConfiguration.rules[].destinations[].{region, registryId}`, `.repositoryFilters[].{filter, filterType}`.
- PutReplicationConfiguration: "Creates or updates the replication configuration for a registry" — the
  whole configuration: the request carries every rule, so omitting one deletes it.
- GetRegistryPolicy → `{registryId, policyText}`; RegistryPolicyNotFoundException: "The registry doesn't
  have an associated registry policy." PutRegistryPolicy: "Creates or updates the permissions policy for
  your registry" (`policyText`, one document). DeleteRegistryPolicy: "Deletes the registry permissions policy."
- GetAccountSetting / PutAccountSetting (`name`, `value`): "Valid values for blob mounting: ENABLED or DISABLED."
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra.custom_resources.registry_settings import (
    SettingsError,
    handle,
    replication_rule,
    with_rule,
    without_rule,
)

REGISTRY = "111122223333"
PROD = "444455556666"
OURS = replication_rule("prod-", PROD, "us-west-2")
THEIRS = {
    "destinations": [{"region": "eu-west-1", "registryId": REGISTRY}],
    "repositoryFilters": [{"filter": "team-b/", "filterType": "PREFIX_MATCH"}],
}
THEIRS_ALL_REPOS = {"destinations": [{"region": "us-east-1", "registryId": "999988887777"}]}
REPLICATION = {
    "Setting": "ReplicationRule",
    "Prefix": "prod-",
    "DestinationRegistryId": PROD,
    "DestinationRegion": "us-west-2",
}
OUR_STATEMENT = {
    "Sid": "EcrPromoterReplication",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{REGISTRY}:root"},
    "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
    "Resource": f"arn:aws:ecr:us-west-2:{PROD}:repository/prod-*",
}
THEIR_STATEMENT = {
    "Sid": "ReplicationAccessCrossAccount",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::777766665555:root"},
    "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
    "Resource": f"arn:aws:ecr:us-west-2:{PROD}:repository/*",
}
POLICY = {"Setting": "RegistryPolicyStatement", "Statement": json.dumps(OUR_STATEMENT)}
BLOB = {"Setting": "BlobMounting", "Value": "ENABLED"}


@pytest.fixture
def ecr() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("ecr", region_name="us-west-2", aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def event(request: str, properties: dict[str, Any], physical_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"RequestType": request, "ResourceProperties": {"ServiceToken": "arn", **properties}}
    if physical_id is not None:
        body["PhysicalResourceId"] = physical_id
    return body


def registry_with(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"registryId": REGISTRY, "replicationConfiguration": {"rules": list(rules)}}


def expect_put_rules(stubber: Stubber, *rules: dict[str, Any]) -> None:
    configuration = {"rules": list(rules)}
    stubber.add_response(
        "put_replication_configuration",
        {"replicationConfiguration": configuration},
        {"replicationConfiguration": configuration},
    )


# ---- replication rule ----------------------------------------------------------------------------


def test_create_appends_our_rule_after_the_accounts_rules(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_response("describe_registry", registry_with(THEIRS, THEIRS_ALL_REPOS))
    expect_put_rules(stubber, THEIRS, THEIRS_ALL_REPOS, OURS)
    answer = handle(event("Create", REPLICATION), client)
    assert answer == {"PhysicalResourceId": f"replication:prod-->{PROD}/us-west-2"}


def test_create_in_a_registry_without_replication(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_response("describe_registry", {"registryId": REGISTRY})
    expect_put_rules(stubber, OURS)
    handle(event("Create", REPLICATION), client)


def test_an_identical_rule_already_there_is_adopted_and_never_removed(ecr: tuple[Any, Stubber]) -> None:
    """Given the account already replicates prod- to the destination, create writes nothing, delete removes nothing."""
    client, stubber = ecr
    existing = {**OURS, "deleteReplication": {"enabled": False}}
    stubber.add_response("describe_registry", registry_with(THEIRS, existing))
    physical_id = handle(event("Create", REPLICATION), client)["PhysicalResourceId"]
    assert physical_id.endswith(":adopted")
    handle(event("Delete", REPLICATION, physical_id), client)  # no ECR call stubbed: any call would fail


def test_delete_removes_only_our_rule(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_response("describe_registry", registry_with(THEIRS, OURS, THEIRS_ALL_REPOS))
    expect_put_rules(stubber, THEIRS, THEIRS_ALL_REPOS)
    handle(event("Delete", REPLICATION, f"replication:prod-->{PROD}/us-west-2"), client)


def test_delete_of_the_last_rule_writes_an_empty_configuration(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_response("describe_registry", registry_with(OURS))
    expect_put_rules(stubber)  # rules: min 0 in the ECR model
    handle(event("Delete", REPLICATION, f"replication:prod-->{PROD}/us-west-2"), client)


def test_delete_when_our_rule_is_already_gone_writes_nothing(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_response("describe_registry", registry_with(THEIRS))
    handle(event("Delete", REPLICATION, f"replication:prod-->{PROD}/us-west-2"), client)


def test_update_with_the_same_rule_keeps_its_id_and_restores_a_rule_removed_by_hand(
    ecr: tuple[Any, Stubber],
) -> None:
    client, stubber = ecr
    physical_id = f"replication:prod-->{PROD}/us-west-2"
    stubber.add_response("describe_registry", registry_with(THEIRS))
    expect_put_rules(stubber, THEIRS, OURS)
    assert handle(event("Update", REPLICATION, physical_id), client)["PhysicalResourceId"] == physical_id


def test_update_to_another_prefix_adds_the_new_rule_under_a_new_id(ecr: tuple[Any, Stubber]) -> None:
    """CloudFormation then deletes the old id with the old properties, which removes the old rule only."""
    client, stubber = ecr
    new = {**REPLICATION, "Prefix": "release-"}
    new_rule = replication_rule("release-", PROD, "us-west-2")
    stubber.add_response("describe_registry", registry_with(THEIRS, OURS))
    expect_put_rules(stubber, THEIRS, OURS, new_rule)
    stubber.add_response("describe_registry", registry_with(THEIRS, OURS, new_rule))
    expect_put_rules(stubber, THEIRS, new_rule)
    old_id = f"replication:prod-->{PROD}/us-west-2"
    new_id = handle(event("Update", new, old_id), client)["PhysicalResourceId"]
    assert new_id == f"replication:release-->{PROD}/us-west-2"
    handle(event("Delete", REPLICATION, old_id), client)


def test_merge_functions_keep_every_other_rule_in_order() -> None:
    merged = with_rule({"rules": [THEIRS, THEIRS_ALL_REPOS]}, OURS)
    assert merged == {"rules": [THEIRS, THEIRS_ALL_REPOS, OURS]}
    assert with_rule(merged, OURS) == merged
    assert without_rule(merged, OURS) == {"rules": [THEIRS, THEIRS_ALL_REPOS]}
    assert without_rule(None, OURS) == {"rules": []}


# ---- registry policy -----------------------------------------------------------------------------


def policy_response(*statements: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    body = statements[0] if len(statements) == 1 else list(statements)
    return {"registryId": PROD, "policyText": json.dumps({"Version": "2012-10-17", "Statement": body})}


def expect_put_policy(stubber: Stubber, *statements: dict[str, Any]) -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    stubber.add_response("put_registry_policy", {"registryId": PROD, "policyText": text}, {"policyText": text})


def test_policy_is_created_when_the_registry_has_none(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_client_error("get_registry_policy", "RegistryPolicyNotFoundException", http_status_code=400)
    expect_put_policy(stubber, OUR_STATEMENT)
    answer = handle(event("Create", POLICY), client)
    assert answer == {"PhysicalResourceId": "registry-policy-statement:EcrPromoterReplication"}


def test_our_statement_joins_the_existing_policy(ecr: tuple[Any, Stubber]) -> None:
    """A policy whose Statement is a single object (valid IAM JSON) keeps that statement."""
    client, stubber = ecr
    stubber.add_response("get_registry_policy", policy_response(THEIR_STATEMENT))
    expect_put_policy(stubber, THEIR_STATEMENT, OUR_STATEMENT)
    handle(event("Create", POLICY), client)


def test_a_stale_statement_with_our_sid_is_replaced(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stale = {**OUR_STATEMENT, "Resource": "*"}
    stubber.add_response("get_registry_policy", policy_response(stale, THEIR_STATEMENT))
    expect_put_policy(stubber, THEIR_STATEMENT, OUR_STATEMENT)
    handle(event("Update", POLICY, "registry-policy-statement:EcrPromoterReplication"), client)


def test_an_unchanged_policy_is_not_written(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_response("get_registry_policy", policy_response(THEIR_STATEMENT, OUR_STATEMENT))
    handle(event("Update", POLICY, "registry-policy-statement:EcrPromoterReplication"), client)


def test_delete_keeps_the_other_statements(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_response("get_registry_policy", policy_response(OUR_STATEMENT, THEIR_STATEMENT))
    expect_put_policy(stubber, THEIR_STATEMENT)
    handle(event("Delete", POLICY, "registry-policy-statement:EcrPromoterReplication"), client)


def test_delete_of_the_only_statement_deletes_the_policy(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_response("get_registry_policy", policy_response(OUR_STATEMENT))
    stubber.add_response("delete_registry_policy", policy_response(OUR_STATEMENT))
    handle(event("Delete", POLICY, "registry-policy-statement:EcrPromoterReplication"), client)


def test_delete_when_the_policy_is_already_gone_writes_nothing(ecr: tuple[Any, Stubber]) -> None:
    client, stubber = ecr
    stubber.add_client_error("get_registry_policy", "RegistryPolicyNotFoundException", http_status_code=400)
    handle(event("Delete", POLICY, "registry-policy-statement:EcrPromoterReplication"), client)


def test_a_statement_without_sid_is_refused_before_any_call(ecr: tuple[Any, Stubber]) -> None:
    client, _ = ecr
    with pytest.raises(SettingsError, match="Sid"):
        handle(event("Create", {**POLICY, "Statement": json.dumps({"Effect": "Allow"})}), client)


# ---- BLOB_MOUNTING -------------------------------------------------------------------------------


def expect_setting(stubber: Stubber, operation: str, value: str) -> None:
    params = {"name": "BLOB_MOUNTING", "value": value} if operation == "put_account_setting" else None
    stubber.add_response(operation, {"name": "BLOB_MOUNTING", "value": value}, params)


@pytest.mark.parametrize("prior", ["DISABLED", "ENABLED"])
def test_blob_mounting_is_enabled_then_restored_to_its_prior_value(ecr: tuple[Any, Stubber], prior: str) -> None:
    client, stubber = ecr
    stubber.add_response("get_account_setting", {"name": "BLOB_MOUNTING", "value": prior}, {"name": "BLOB_MOUNTING"})
    expect_setting(stubber, "put_account_setting", "ENABLED")
    expect_setting(stubber, "put_account_setting", prior)
    physical_id = handle(event("Create", BLOB), client)["PhysicalResourceId"]
    assert physical_id == f"BLOB_MOUNTING:prior={prior}"
    handle(event("Delete", BLOB, physical_id), client)


def test_update_keeps_the_value_to_restore_from_the_first_create(ecr: tuple[Any, Stubber]) -> None:
    """Given we enabled it over DISABLED, an update (now reading ENABLED) still restores DISABLED."""
    client, stubber = ecr
    expect_setting(stubber, "put_account_setting", "ENABLED")
    answer = handle(event("Update", BLOB, "BLOB_MOUNTING:prior=DISABLED"), client)
    assert answer == {"PhysicalResourceId": "BLOB_MOUNTING:prior=DISABLED"}


def test_unknown_setting_is_refused(ecr: tuple[Any, Stubber]) -> None:
    client, _ = ecr
    with pytest.raises(SettingsError, match="unknown Setting"):
        handle(event("Create", {"Setting": "Everything"}), client)


# ---- the whole lifecycle through the Lambda entry point, against moto's ECR control plane ---------


@pytest.fixture
def moto_ecr(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from moto import mock_aws

    for name, value in {
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("ecr")


def test_deploy_then_destroy_leaves_the_registry_policy_as_it_was(moto_ecr: Any) -> None:
    """Given another team's policy, when the stack comes and goes, then only our statement came and went."""
    from infra.custom_resources.registry_settings import on_event

    theirs_policy = {"Version": "2012-10-17", "Statement": [THEIR_STATEMENT]}
    moto_ecr.put_registry_policy(policyText=json.dumps(theirs_policy))
    statement_id = on_event(event("Create", POLICY), None)["PhysicalResourceId"]
    statements = json.loads(moto_ecr.get_registry_policy()["policyText"])["Statement"]
    assert [s["Sid"] for s in statements] == [THEIR_STATEMENT["Sid"], OUR_STATEMENT["Sid"]]
    on_event(event("Delete", POLICY, statement_id), None)
    assert json.loads(moto_ecr.get_registry_policy()["policyText"]) == theirs_policy


def test_deploy_then_destroy_in_a_registry_without_replication(moto_ecr: Any) -> None:
    """moto accepts one replication rule only ("This feature is disabled" for more, moto/ecr/models.py), while
    ECR's API model allows up to 25 (`rules`: min 0, max 25): the multi-rule merges are pinned with Stubber above."""
    from infra.custom_resources.registry_settings import on_event

    rule_id = on_event(event("Create", REPLICATION), None)["PhysicalResourceId"]
    assert moto_ecr.describe_registry()["replicationConfiguration"]["rules"] == [OURS]
    on_event(event("Delete", REPLICATION, rule_id), None)
    assert moto_ecr.describe_registry()["replicationConfiguration"]["rules"] == []
