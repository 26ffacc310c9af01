"""Targets of `{name}` rules created by the function, against moto's ECR control plane: the created
repository is immutable, scanned on push, tagged and carries TARGET_REPOSITORY_POLICY; a second target
check in the same environment asks ECR nothing. (Which calls are made and in which order is pinned with
Stubber in tests/unit/test_ecr_targets.py; moto shows the arguments are ones ECR accepts.)"""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from promoter.adapters.ecr_targets import EcrTargetRepositories

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OnlyThePromoterWrites",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["ecr:PutImage", "ecr:BatchDeleteImage"],
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/promoter"}},
        }
    ],
}


@mock_aws
def test_a_missing_wildcard_target_is_created_protected() -> None:
    ecr = boto3.client("ecr", region_name="us-west-2")
    targets = EcrTargetRepositories(ecr, json.dumps(POLICY))

    refusal = targets.prepare("prod-newservice")

    assert refusal is None
    (created,) = ecr.describe_repositories(repositoryNames=["prod-newservice"])["repositories"]
    assert created["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert created["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "sha256-*"}]
    assert created["imageScanningConfiguration"] == {"scanOnPush": True}
    assert json.loads(ecr.get_repository_policy(repositoryName="prod-newservice")["policyText"]) == POLICY
    tags = ecr.list_tags_for_resource(resourceArn=created["repositoryArn"])["tags"]
    assert {"Key": "created-by", "Value": "ecr-promoter"} in tags


@mock_aws
def test_a_pushed_into_existence_mutable_target_is_refused() -> None:
    ecr = boto3.client("ecr", region_name="us-west-2")
    ecr.create_repository(repositoryName="prod-sneaky")  # MUTABLE by default, no policy

    refusal = EcrTargetRepositories(ecr, json.dumps(POLICY)).prepare("prod-sneaky")

    assert refusal == "target prod-sneaky exists with MUTABLE tags: refusing to promote into it (make it IMMUTABLE)"
    assert ecr.describe_repositories(repositoryNames=["prod-sneaky"])["repositories"][0]["imageTagMutability"] == (
        "MUTABLE"
    )
