"""The destination (prod account) stack: who may replicate in (merged, not replaced), retained target repos."""

from __future__ import annotations

import json

from infra.application import DESTINATION_STACK
from infra.registry_settings import HANDLER
from tests.support.cdk import Synthesized, as_list, function_named, only, ref_of, resources, role_statements

CUSTOM_RESOURCE = "Custom::EcrRegistryPolicyStatement"


def test_stack_targets_the_destination_account(scenario: Synthesized) -> None:
    assert scenario.manifest["artifacts"][DESTINATION_STACK]["environment"] == "aws://444455556666/us-west-2"


def test_registry_policy_is_merged_by_a_custom_resource_not_replaced(scenario: Synthesized) -> None:
    """AWS::ECR::RegistryPolicy replaces the registry's one policy; the custom resource adds one statement."""
    assert not resources(scenario.destination, "AWS::ECR::RegistryPolicy")
    _, props = only(scenario.destination, CUSTOM_RESOURCE)
    assert props["Setting"] == "RegistryPolicyStatement"
    statement = json.loads(props["Statement"])
    assert statement["Sid"] == "EcrPromoterReplicationFrom111122223333"
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert sorted(statement["Action"]) == ["ecr:CreateRepository", "ecr:ReplicateImage"]
    assert statement["Resource"] == "arn:aws:ecr:us-west-2:444455556666:repository/prod-*"


def test_merge_handler_may_only_read_write_and_delete_the_registry_policy(scenario: Synthesized) -> None:
    template = scenario.destination
    _, handler = function_named(template, HANDLER)
    assert handler["Runtime"] == "python3.14"
    role = ref_of(handler["Role"])
    assert role is not None
    assert "ManagedPolicyArns" not in template["Resources"][role]["Properties"]
    statements = role_statements(template, role)
    actions = {action for s in statements for action in as_list(s["Action"])}
    assert actions == {
        "ecr:GetRegistryPolicy",
        "ecr:PutRegistryPolicy",
        "ecr:DeleteRegistryPolicy",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_named_targets_are_pre_created_immutable_scanned_and_retained(scenario: Synthesized) -> None:
    bodies = list(resources(scenario.destination, "AWS::ECR::Repository").values())
    assert [body["Properties"]["RepositoryName"] for body in bodies] == ["prod-microservice"]
    (body,) = bodies
    assert body["Properties"]["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    # Only the tag-schema tags that carry referrers may move (replication extends a `sha256-<hex>.att`).
    assert body["Properties"]["ImageTagMutabilityExclusionFilters"] == [
        {"ImageTagMutabilityExclusionFilterType": "WILDCARD", "ImageTagMutabilityExclusionFilterValue": "sha256-*"}
    ]
    assert body["Properties"]["ImageScanningConfiguration"] == {"ScanOnPush": True}
    # Production images survive `make destroy`; Retain is also what `cdk import` needs to adopt an existing one.
    assert body["DeletionPolicy"] == body["UpdateReplacePolicy"] == "Retain"
    assert "EmptyOnDelete" not in body["Properties"]


def test_production_holds_ecr_settings_their_merge_function_and_replication_alarms_only(
    scenario: Synthesized,
) -> None:
    kinds = {body["Type"] for body in scenario.destination["Resources"].values()}
    assert kinds == {
        CUSTOM_RESOURCE,
        "AWS::ECR::Repository",
        # the merge function and the Provider framework in front of it
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::Logs::LogGroup",
        "AWS::Lambda::Function",
        # replication failures: rule, alarm, encrypted topic
        "AWS::Events::Rule",
        "AWS::CloudWatch::Alarm",
        "AWS::SNS::Topic",
        "AWS::SNS::TopicPolicy",
        "AWS::KMS::Key",
    }
