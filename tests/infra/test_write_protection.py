"""Gate integrity: only the promoter function writes into a target repository, whoever created the repository."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.promoter_function import HANDLER
from infra.target_protection import TARGET_CREATION_ACTIONS
from infra.write_protection import IMAGE_WRITE_ACTIONS, REPOSITORY_CHANGE_ACTIONS
from promoter.contract import Env
from tests.support.cdk import (
    GLOB_EXISTING_TARGETS,
    Synthesized,
    Template,
    as_list,
    function_named,
    ref_of,
    resources,
    role_statements,
)

CFN_EXEC_ROLE = "arn:aws:iam::111122223333:role/cdk-hnb659fds-cfn-exec-role-111122223333-us-west-2"
# The actions issue 13 names, all of which must be denied to everyone else.
REQUIRED_DENIALS = {
    "ecr:PutImage",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:BatchDeleteImage",
    "ecr:SetRepositoryPolicy",
    "ecr:DeleteRepositoryPolicy",
    "ecr:PutImageTagMutability",
}


def promoter_role(template: Template) -> str:
    role = ref_of(function_named(template, HANDLER)[1]["Role"])
    assert role is not None
    return role


def repository(template: Template, name: str) -> dict[str, Any]:
    (body,) = [
        body
        for body in resources(template, "AWS::ECR::Repository").values()
        if body["Properties"]["RepositoryName"] == name
    ]
    return body


def exempted(statement: dict[str, Any]) -> list[Any]:
    """The principals a Deny statement spares: its only condition is ArnNotLike on aws:PrincipalArn."""
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert list(statement["Condition"]) == ["ArnNotLike"]
    assert list(statement["Condition"]["ArnNotLike"]) == ["aws:PrincipalArn"]
    return as_list(statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"])


def check_protection(document: dict[str, Any], role: str, deployers: list[Any]) -> None:
    """Image writes spare only the function's role; repository changes also spare the deployers."""
    statements = {statement["Sid"]: statement for statement in document["Statement"]}
    assert set(statements) == {"OnlyThePromoterWritesImages", "OnlyThePromoterOrItsDeploymentChangesTheRepository"}
    writes, changes = (
        statements["OnlyThePromoterWritesImages"],
        statements["OnlyThePromoterOrItsDeploymentChangesTheRepository"],
    )
    assert set(writes["Action"]) == set(IMAGE_WRITE_ACTIONS)
    assert [ref_of(arn) or arn for arn in exempted(writes)] == [role]
    assert set(changes["Action"]) == set(REPOSITORY_CHANGE_ACTIONS)
    spared = exempted(changes)
    assert (ref_of(spared[0]) or spared[0]) == role and spared[1:] == deployers
    assert set(writes["Action"]) | set(changes["Action"]) >= REQUIRED_DENIALS
    assert all("Resource" not in statement for statement in statements.values())  # a repository policy names none


def test_a_stack_created_target_denies_writes_to_all_but_the_promoter(scenario: Synthesized) -> None:
    template = scenario.source
    target = repository(template, "prod-microservice")
    assert target["Properties"]["ImageTagMutability"] == "IMMUTABLE"
    assert target["Properties"]["ImageScanningConfiguration"] == {"ScanOnPush": True}
    check_protection(target["Properties"]["RepositoryPolicyText"], promoter_role(template), [CFN_EXEC_ROLE])


def test_the_source_repository_is_not_write_protected(scenario: Synthesized) -> None:
    # CI pushes there; the gate is between it and the target.
    assert "RepositoryPolicyText" not in repository(scenario.source, "dev-microservice")["Properties"]


def test_no_other_role_of_the_stack_may_push_into_a_target(scenario: Synthesized, glob_scenario: Synthesized) -> None:
    for template in (scenario.source, glob_scenario.source):
        role = promoter_role(template)
        pushers = {
            ref_of(r)
            for body in resources(template, "AWS::IAM::Policy").values()
            if any("ecr:PutImage" in as_list(s["Action"]) for s in body["Properties"]["PolicyDocument"]["Statement"])
            for r in body["Properties"].get("Roles", [])
        }
        assert pushers == {role}


def test_the_function_creates_wildcard_targets_with_the_same_policy(
    scenario: Synthesized, glob_scenario: Synthesized
) -> None:
    # Given a `dev-*` → `prod-{name}` rule, whose targets exist only after their first promotion
    template = glob_scenario.source
    role = promoter_role(template)
    # Then the function may create and protect repositories of the target pattern, and nothing wider
    creation = [s for s in role_statements(template, role) if "ecr:CreateRepository" in as_list(s["Action"])]
    assert len(creation) == 1
    assert set(as_list(creation[0]["Action"])) == set(TARGET_CREATION_ACTIONS)
    assert as_list(creation[0]["Resource"]) == ["arn:aws:ecr:us-west-2:111122223333:repository/prod-*"]
    # And its environment carries the policy to apply: the one the stack puts on the targets it creates
    variables = function_named(template, HANDLER)[1]["Environment"]["Variables"]
    document = json.loads(resolved(variables[Env.TARGET_REPOSITORY_POLICY]))
    created = repository(scenario.source, "prod-microservice")["Properties"]["RepositoryPolicyText"]
    assert resolved(created) == document
    check_protection(document, role, [CFN_EXEC_ROLE])


def test_without_wildcard_targets_the_function_creates_no_repository(scenario: Synthesized) -> None:
    template = scenario.source
    actions = {a for s in role_statements(template, promoter_role(template)) for a in as_list(s["Action"])}
    assert not actions & set(TARGET_CREATION_ACTIONS)
    assert Env.TARGET_REPOSITORY_POLICY not in function_named(template, HANDLER)[1]["Environment"]["Variables"]


def resolved(value: Any) -> Any:
    """A template value with `Fn::Join`s joined and each `Fn::GetAtt [X, Arn]` written as `X`."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(str(resolved(part)) for part in parts)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    if isinstance(value, dict):
        return {key: resolved(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved(item) for item in value]
    return value


@pytest.fixture(scope="module")
def adoption(glob_scenario: Synthesized) -> dict[str, dict[str, Any]]:
    """The SDK calls made on create, by ECR action, for the adopted target."""
    calls = {}
    for body in resources(glob_scenario.source, "Custom::AWS").values():
        create = body["Properties"]["Create"]
        call = json.loads(resolved(create))
        if call["parameters"].get("repositoryName") in GLOB_EXISTING_TARGETS:
            assert "Delete" not in body["Properties"], "the protection stays with an adopted repository"
            assert body["Properties"]["Update"] == create, "re-applied on every update"
            calls[call["action"]] = call
    return calls


def test_an_existing_target_is_not_created_but_protected_in_place(
    glob_scenario: Synthesized, adoption: dict[str, dict[str, Any]]
) -> None:
    template = glob_scenario.source
    assert not [
        r
        for r in resources(template, "AWS::ECR::Repository").values()
        if r["Properties"]["RepositoryName"] in GLOB_EXISTING_TARGETS
    ]
    assert adoption["putImageTagMutability"]["parameters"]["imageTagMutability"] == "IMMUTABLE"
    assert adoption["putImageScanningConfiguration"]["parameters"]["imageScanningConfiguration"] == {"scanOnPush": True}
    document = json.loads(adoption["setRepositoryPolicy"]["parameters"]["policyText"])
    role = promoter_role(template)
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert [*exempted(statements["OnlyThePromoterWritesImages"])] == [role]
    # Repository changes also spare the role that re-applies these settings on stack updates.
    spared = exempted(statements["OnlyThePromoterOrItsDeploymentChangesTheRepository"])
    assert spared[:2] == [role, CFN_EXEC_ROLE] and len(spared) == 3
    provider_role = spared[2]
    assert template["Resources"][provider_role]["Type"] == "AWS::IAM::Role"


def test_the_adoption_may_touch_only_the_adopted_repository(glob_scenario: Synthesized) -> None:
    adopted = "arn:aws:ecr:us-west-2:111122223333:repository/prod-legacy-app"
    template = glob_scenario.source
    statements = [
        statement
        for name, body in resources(template, "AWS::IAM::Policy").items()
        if name.startswith("TargetProtectionAdopted")
        for statement in body["Properties"]["PolicyDocument"]["Statement"]
    ]
    ecr = [s for s in statements if all(a.startswith("ecr:") for a in as_list(s["Action"]))]
    assert sorted(action for s in ecr for action in as_list(s["Action"])) == [
        "ecr:PutImageScanningConfiguration",
        "ecr:PutImageTagMutability",
        "ecr:SetRepositoryPolicy",
    ]
    assert all(as_list(statement["Resource"]) == [adopted] for statement in ecr)
    # The provider's own role (no other custom resource in the stack brought one) writes only its own logs.
    (logs,) = [s for s in statements if s not in ecr]
    assert sorted(as_list(logs["Action"])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    log_group = ref_of(logs["Resource"])
    assert log_group is not None and template["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup"
