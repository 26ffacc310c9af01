"""The destination (prod account) stack: who may replicate in, and safe pre-created target repositories."""

from __future__ import annotations

from infra.application import DESTINATION_STACK
from tests.support.cdk import Synthesized, only, resources


def test_stack_targets_the_destination_account(scenario: Synthesized) -> None:
    assert scenario.manifest["artifacts"][DESTINATION_STACK]["environment"] == "aws://444455556666/us-west-2"


def test_registry_policy_lets_the_source_account_replicate_prefixed_repositories(scenario: Synthesized) -> None:
    _, props = only(scenario.destination, "AWS::ECR::RegistryPolicy")
    (statement,) = props["PolicyText"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert sorted(statement["Action"]) == ["ecr:CreateRepository", "ecr:ReplicateImage"]
    assert statement["Resource"] == "arn:aws:ecr:us-west-2:444455556666:repository/prod-*"


def test_named_targets_are_pre_created_immutable_and_scanned(scenario: Synthesized) -> None:
    repos = [body["Properties"] for body in resources(scenario.destination, "AWS::ECR::Repository").values()]
    assert [repo["RepositoryName"] for repo in repos] == ["prod-microservice"]
    (repo,) = repos
    assert repo["ImageTagMutability"] == "IMMUTABLE"
    assert repo["ImageScanningConfiguration"] == {"ScanOnPush": True}


def test_nothing_else_is_deployed_into_production(scenario: Synthesized) -> None:
    kinds = {body["Type"] for body in scenario.destination["Resources"].values()}
    assert kinds == {"AWS::ECR::RegistryPolicy", "AWS::ECR::Repository"}
