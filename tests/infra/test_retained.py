"""`make destroy` keeps production images and the audit trail, and says exactly what it kept and how to remove it."""

from __future__ import annotations

from infra.application import DESTINATION_STACK, SOURCE_STACK
from infra.retained import Kept, kept_resources, main, report
from tests.support.cdk import Synthesized, only


def test_the_ledger_is_retained(scenario: Synthesized) -> None:
    name, _ = only(scenario.source, "AWS::DynamoDB::Table")
    body = scenario.source["Resources"][name]
    assert body["DeletionPolicy"] == body["UpdateReplacePolicy"] == "Retain"


def test_kept_lists_the_ledger_and_the_production_repositories(scenario: Synthesized) -> None:
    kept = {(k.stack, k.kind): k for k in kept_resources(scenario.outdir)}
    assert (SOURCE_STACK, "AWS::DynamoDB::Table") in kept
    repository = kept[(DESTINATION_STACK, "AWS::ECR::Repository")]
    assert (repository.account, repository.region) == ("444455556666", "us-west-2")
    assert repository.name == "prod-microservice"
    assert repository.removal() == (
        "aws ecr delete-repository --repository-name prod-microservice --force --region us-west-2"
    )
    ledger = kept[(SOURCE_STACK, "AWS::DynamoDB::Table")]
    assert ledger.name is None, "CloudFormation names the table; it is looked up while the stack exists"
    assert f"--logical-resource-id {ledger.logical_id}" in ledger.lookup()


def test_names_are_resolved_from_cloudformation_while_the_stacks_exist(scenario: Synthesized) -> None:
    """Given a resolver (CloudFormation with the caller's credentials), the report names the table to delete."""
    asked: list[tuple[str, str]] = []

    def resolve(item: Kept) -> str | None:
        asked.append((item.stack, item.logical_id))
        return "EcrPromoterSource-LedgerTable-ABC123"

    kept = kept_resources(scenario.outdir, resolve)
    text = report(kept)
    assert "aws dynamodb delete-table --table-name EcrPromoterSource-LedgerTable-ABC123 --region us-west-2" in text
    assert all(stack == SOURCE_STACK for stack, _ in asked), "fixed names need no lookup"
    assert "look up:" not in text


def test_report_without_credentials_says_how_to_look_names_up(scenario: Synthesized) -> None:
    text = report(kept_resources(scenario.outdir))
    assert "KEEPS" in text and "look up: aws cloudformation describe-stack-resource" in text
    assert "account 444455556666" in text and "account 111122223333" in text


def test_report_when_nothing_is_kept() -> None:
    assert "keeps nothing" in report([])


def test_usage_error() -> None:
    assert main([]) == 2
