"""Named targets that already exist (cdk.json `existing_target_repositories`): protect them in place.

Creating them would fail the first deploy with AlreadyExists, and leaving them as they are would leave a
door into production open. So the stack references them by name and, through ECR API calls on create
and update, sets what it would have created them with: scan on push, immutable tags and the write
protection policy (which *replaces* any repository policy they had: grants that other principals need,
e.g. cross-account pulls, belong in `infra.write_protection` then). Nothing is undone on delete: the
protection stays with the repository, like the RETAIN policy of the targets the stack creates.
(The other way in is `cdk import` of the stack's own repository resource.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import RemovalPolicy, Stack, aws_iam, aws_logs, custom_resources
from constructs import Construct

from infra.config import AccountRegion
from infra.write_protection import protection_document
from promoter.contract import TARGET_MUTABLE_TAG_FILTERS, TARGET_TAG_MUTABILITY

SCAN_ON_PUSH: dict[str, Any] = {"imageScanningConfiguration": {"scanOnPush": True}}
IMMUTABLE_TAGS: dict[str, Any] = {
    "imageTagMutability": TARGET_TAG_MUTABILITY,
    "imageTagMutabilityExclusionFilters": [
        {"filterType": "WILDCARD", "filter": pattern} for pattern in TARGET_MUTABLE_TAG_FILTERS
    ],
}


def _call(repository: str, action: str, parameters: dict[str, Any]) -> custom_resources.AwsSdkCall:
    return custom_resources.AwsSdkCall(
        service="ECR",
        action=action,
        parameters={"repositoryName": repository, **parameters},
        physical_resource_id=custom_resources.PhysicalResourceId.of(f"{repository}:{action}"),
    )


class AdoptedTargets(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        registry: AccountRegion,
        names: Sequence[str],
        writer_role_arn: str,
        deployer_role_arns: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        # All AwsCustomResources of a stack share one provider function, and with it the role and log group
        # of the first one. Bring an own role (the default one carries the AWSLambdaBasicExecutionRole
        # managed policy) only when no provider exists yet, so no unused role is left in the template.
        provider_id = "AWS" + custom_resources.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", "")
        self._role: aws_iam.IRole | None = None
        self._logs: aws_logs.ILogGroup | None = None
        if Stack.of(self).node.try_find_child(provider_id) is None:
            role = aws_iam.Role(self, "Role", assumed_by=aws_iam.ServicePrincipal("lambda.amazonaws.com"))
            logs = aws_logs.LogGroup(
                self, "Logs", retention=aws_logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
            )
            logs.grant_write(role)
            self._role, self._logs = role, logs
        self._registry = registry
        stack = Stack.of(self)
        for name in names:
            applied = [
                self._apply(name, "ScanOnPush", "putImageScanningConfiguration", SCAN_ON_PUSH),
                self._apply(name, "ImmutableTags", "putImageTagMutability", IMMUTABLE_TAGS),
            ]
            provider_role = applied[0].grant_principal
            if not isinstance(provider_role, aws_iam.Role):
                raise TypeError("the custom resource provider has no IAM role to exempt from the write protection")
            # The provider re-applies the policy on every update, so it must be exempt from its own Deny.
            policy = protection_document(writer_role_arn, [*deployer_role_arns, provider_role.role_arn])
            protected = self._apply(name, "Policy", "setRepositoryPolicy", {"policyText": stack.to_json_string(policy)})
            for earlier in applied:
                protected.node.add_dependency(earlier)

    def _apply(
        self, repository: str, construct_id: str, action: str, parameters: dict[str, Any]
    ) -> custom_resources.AwsCustomResource:
        call = _call(repository, action, parameters)
        return custom_resources.AwsCustomResource(
            self,
            f"{repository}{construct_id}",
            on_create=call,
            on_update=call,
            policy=custom_resources.AwsCustomResourcePolicy.from_statements(
                [
                    aws_iam.PolicyStatement(
                        actions=[f"ecr:{action[0].upper()}{action[1:]}"],
                        resources=[self._registry.repository_arn(repository)],
                    )
                ]
            ),
            role=self._role,
            log_group=self._logs,
            # The SDK in the Lambda runtime has these ECR calls; nothing is downloaded at deploy time.
            install_latest_aws_sdk=False,
        )
