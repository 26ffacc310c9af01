"""Targets of `{name}` rules are created by the function, write-protected, before the first write.

Pinned to the ECR API reference with botocore's Stubber (moto does not model repository-policy
enforcement, and what matters here is which calls are made, in which order, with which arguments):
- CreateRepository: `imageTagMutability` "If this parameter is omitted, the default setting of MUTABLE
  will be used"; `imageScanningConfiguration.scanOnPush`; `tags` [{Key, Value}]; an existing name is
  RepositoryAlreadyExistsException (docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html).
- GetRepositoryPolicy: RepositoryPolicyNotFoundException "The specified repository and registry
  combination does not have an associated repository policy" (API_GetRepositoryPolicy.html).
- DescribeRepositories: RepositoryNotFoundException for a missing name (API_DescribeRepositories.html).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from promoter.adapters.ecr_targets import EcrTargetRepositories
from promoter.config import ConfigError, Settings
from promoter.contract import Env
from promoter.entry import handle
from tests.unit.fakes import rule, world

ROLE = "arn:aws:iam::111122223333:role/promoter"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OnlyThePromoterWrites",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": ["ecr:PutImage", "ecr:BatchDeleteImage"],
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": [ROLE]}},
        }
    ],
}
POLICY_TEXT = json.dumps(POLICY)
ARN = "arn:aws:ecr:us-west-2:111122223333:repository/prod-a"


def repository(mutability: str = "IMMUTABLE") -> dict[str, Any]:
    return {
        "repositoryName": "prod-a",
        "repositoryArn": ARN,
        "registryId": "111122223333",
        "imageTagMutability": mutability,
    }


@pytest.fixture
def ecr() -> Iterator[tuple[EcrTargetRepositories, Stubber]]:
    client = boto3.client("ecr", region_name="us-west-2", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(client) as stubber:
        yield EcrTargetRepositories(client, POLICY_TEXT), stubber
        stubber.assert_no_pending_responses()


def missing(stubber: Stubber) -> None:
    stubber.add_client_error(
        "describe_repositories", service_error_code="RepositoryNotFoundException", http_status_code=400
    )


def test_a_missing_target_is_created_immutable_scanned_tagged_then_protected(ecr) -> None:
    targets, stubber = ecr
    # Given prod-a does not exist; Then it is created with the protection settings, then gets the policy
    missing(stubber)
    stubber.add_response(
        "create_repository",
        {"repository": repository()},
        {
            "repositoryName": "prod-a",
            "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
            "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "sha256-*"}],
            "imageScanningConfiguration": {"scanOnPush": True},
            "tags": [{"Key": "created-by", "Value": "ecr-promoter"}],
        },
    )
    stubber.add_response(
        "set_repository_policy",
        {"repositoryName": "prod-a", "policyText": POLICY_TEXT},
        {"repositoryName": "prod-a", "policyText": POLICY_TEXT},
    )

    assert targets.prepare("prod-a") is None
    # And a second promotion into it in this execution environment asks nothing
    assert targets.prepare("prod-a") is None


def test_an_existing_target_with_our_statements_is_written_into(ecr) -> None:
    targets, stubber = ecr
    # Given ECR returns the policy re-formatted, with an extra statement of the operator's
    theirs = {**POLICY, "Statement": [*POLICY["Statement"], {"Sid": "Pull", "Effect": "Allow", "Action": "ecr:*"}]}
    theirs["Statement"][0] = {**theirs["Statement"][0], "Action": ["ecr:BatchDeleteImage", "ecr:PutImage"]}
    stubber.add_response("describe_repositories", {"repositories": [repository()]})
    stubber.add_response("get_repository_policy", {"policyText": json.dumps(theirs, indent=2)})

    assert targets.prepare("prod-a") is None


def test_an_existing_target_without_a_policy_is_protected_first(ecr) -> None:
    targets, stubber = ecr
    # Given a creation interrupted before SetRepositoryPolicy
    stubber.add_response("describe_repositories", {"repositories": [repository()]})
    stubber.add_client_error(
        "get_repository_policy", service_error_code="RepositoryPolicyNotFoundException", http_status_code=400
    )
    stubber.add_response("set_repository_policy", {}, {"repositoryName": "prod-a", "policyText": POLICY_TEXT})

    assert targets.prepare("prod-a") is None


def test_a_mutable_or_unprotected_existing_target_is_refused(ecr) -> None:
    targets, stubber = ecr
    stubber.add_response("describe_repositories", {"repositories": [repository("MUTABLE")]})
    stubber.add_response("describe_repositories", {"repositories": [repository()]})
    stubber.add_response("get_repository_policy", {"policyText": json.dumps({"Statement": [{"Effect": "Allow"}]})})

    mutable = targets.prepare("prod-a")
    stripped = targets.prepare("prod-a")

    assert mutable == "target prod-a exists with MUTABLE tags: refusing to promote into it (make it IMMUTABLE)"
    assert stripped is not None and "without the promoter's write protection" in stripped


def test_an_exclusion_only_for_referrer_tags_counts_as_protected_a_wider_one_does_not(ecr) -> None:
    targets, stubber = ecr
    # Given a target immutable except for sha256-* (the stack's setting: referrer index and .att tags move)
    referrer_tags = {
        **repository("IMMUTABLE_WITH_EXCLUSION"),
        "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "sha256-*"}],
    }
    stubber.add_response("describe_repositories", {"repositories": [referrer_tags]})
    stubber.add_response("get_repository_policy", {"policyText": POLICY_TEXT})
    # And one whose exclusion also frees release tags (v*)
    release_tags = {
        **repository("IMMUTABLE_WITH_EXCLUSION"),
        "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "v*"}],
    }
    stubber.add_response("describe_repositories", {"repositories": [release_tags]})

    # When each is prepared, Then the first is written into, the second refused
    assert targets.prepare("prod-a") is None
    targets_again = EcrTargetRepositories(stubber.client, POLICY_TEXT)  # type: ignore[attr-defined]
    assert targets_again.prepare("prod-a") == (
        "target prod-a exists with IMMUTABLE_WITH_EXCLUSION tags: refusing to promote into it (make it IMMUTABLE)"
    )


def test_a_target_created_concurrently_is_checked_like_an_existing_one(ecr) -> None:
    targets, stubber = ecr
    missing(stubber)
    stubber.add_client_error(
        "create_repository", service_error_code="RepositoryAlreadyExistsException", http_status_code=400
    )
    stubber.add_response("describe_repositories", {"repositories": [repository()]})
    stubber.add_response("get_repository_policy", {"policyText": POLICY_TEXT})

    assert targets.prepare("prod-a") is None


def test_access_denied_is_raised_so_lambda_retries(ecr) -> None:
    targets, stubber = ecr
    stubber.add_client_error("describe_repositories", service_error_code="AccessDeniedException", http_status_code=400)

    with pytest.raises(Exception, match="AccessDenied"):
        targets.prepare("prod-a")


class Targets:
    def __init__(self, refusal: str | None = None) -> None:
        self.refusal = refusal
        self.prepared: list[str] = []

    def prepare(self, repository: str) -> str | None:
        self.prepared.append(repository)
        return self.refusal


def test_the_service_prepares_only_name_targets_and_a_refusal_rejects_with_nothing_copied() -> None:
    # Given a `{name}` rule and a named rule from the same repository
    w = world({"rules": [rule("dev-*", "prod-{name}", name="glob"), rule("dev-a", "mirror-a", name="named")]})
    w.services = replace(w.services, targets=Targets("target prod-a exists with MUTABLE tags"))
    digest = w.images.add("dev-a", "v1")

    response = handle({"action": "promote", "repository": "dev-a", "digest": digest}, w.services)

    glob, named = response["decisions"]
    assert (glob["outcome"], glob["reasons"]) == ("rejected", ["target prod-a exists with MUTABLE tags"])
    assert named["outcome"] == "promoted"
    assert w.services.targets.prepared == ["prod-a"]  # type: ignore[union-attr]
    assert [copy[2] for copy in w.images.copies] == ["mirror-a"]


def test_a_dry_run_creates_no_target() -> None:
    w = world({"rules": [rule("dev-*", "prod-{name}")]})
    w.services = replace(w.services, targets=Targets())
    digest = w.images.add("dev-a", "v1")

    handle({"action": "promote", "repository": "dev-a", "digest": digest, "dry_run": True}, w.services)

    assert w.services.targets.prepared == []  # type: ignore[union-attr]


def test_settings_read_the_target_policy_once_and_refuse_a_broken_one() -> None:
    base = {Env.PROMOTION_POLICY: json.dumps({"rules": [rule("dev-*", "prod-{name}")]}), Env.LEDGER_TABLE: "t"}

    assert Settings.from_environ(base).target_repository_policy is None
    assert Settings.from_environ({**base, Env.TARGET_REPOSITORY_POLICY: POLICY_TEXT}).target_repository_policy == (
        POLICY_TEXT
    )
    with pytest.raises(ConfigError, match="TARGET_REPOSITORY_POLICY"):
        Settings.from_environ({**base, Env.TARGET_REPOSITORY_POLICY: '{"Statement": []}'})
