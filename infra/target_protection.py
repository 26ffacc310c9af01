"""Write protection of every target repository, whoever creates it.

- Targets the stack creates get the protection statements (the stack passes `statements` to
  infra.repositories).
- Named targets that exist already are protected in place (infra.repository_adoption).
- Targets of `{name}` rules do not exist before their first promotion: the function creates them, so
  it may create, protect, scan-configure and tag repositories of the target patterns only, and it
  finds the policy document to apply in its environment (Env.TARGET_REPOSITORY_POLICY).
"""

from __future__ import annotations

from aws_cdk import Stack, aws_iam
from constructs import Construct

from infra.config import DeployConfig
from infra.promoter_function import PromoterFunction
from infra.repository_adoption import AdoptedTargets
from infra.write_protection import cloudformation_execution_role_arn, protection_document, protection_statements
from promoter.contract import Env

# What creating a protected target takes: CreateRepository (with its tags: TagResource), then the policy
# and scan-on-push; tag immutability is a CreateRepository parameter.
TARGET_CREATION_ACTIONS = (
    "ecr:CreateRepository",
    "ecr:SetRepositoryPolicy",
    "ecr:PutImageScanningConfiguration",
    "ecr:TagResource",
)


class TargetWriteProtection(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        promoter: PromoterFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        deployer = cloudformation_execution_role_arn(stack, config.source.partition)
        self.deployer_role_arns: tuple[str, ...] = (deployer,) if deployer else ()
        self.writer_role_arn = promoter.role.role_arn
        self.statements = protection_statements(self.writer_role_arn, self.deployer_role_arns)

        if config.existing_target_repositories:
            AdoptedTargets(
                self,
                "Adopted",
                registry=config.source,
                names=config.existing_target_repositories,
                writer_role_arn=self.writer_role_arn,
                deployer_role_arns=self.deployer_role_arns,
            )
        if config.wildcard_targets:
            promoter.role.add_to_principal_policy(
                aws_iam.PolicyStatement(
                    sid="CreateProtectedTargets",
                    actions=list(TARGET_CREATION_ACTIONS),
                    resources=[config.source.repository_arn(pattern) for pattern in config.wildcard_targets],
                )
            )
            promoter.add_environment(
                Env.TARGET_REPOSITORY_POLICY,
                stack.to_json_string(protection_document(self.writer_role_arn, self.deployer_role_arns)),
            )
