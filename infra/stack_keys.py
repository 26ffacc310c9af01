"""The source stack's own signing keys, when cdk.json asks for them.

- `signed_test_results`: the key CI signs `Image Test Result` attestations with. Only `ci_principals`
  may sign; the function may verify. Name it in the policy (`trust.test_results.signed_by`) by its
  alias ARN, which is fixed (infra.signing_keys.CI_KEY_ALIAS) and so known before the first deploy.
- `attestation`: the key the function signs its verification summary (one per promotion) with. Only
  the function may sign; the source and destination accounts may verify and read the public key, so
  production checks an image without access to the dev account's ledger. Env.ATTESTATION_KEY names it.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack, aws_iam
from constructs import Construct

from infra.config import DeployConfig
from infra.promoter_function import PromoterFunction
from infra.public_key import PublicKeyPem
from infra.signing_keys import ATTESTATION_KEY_ALIAS, CI_KEY_ALIAS, SigningKey
from promoter.contract import Env, StackOutput


class PromotionKeys(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, promoter: PromoterFunction
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        account = aws_iam.AccountRootPrincipal()
        self.ci_key: SigningKey | None = None
        self.attestation_key: SigningKey | None = None
        if config.signed_test_results:
            self.ci_key = SigningKey(
                self,
                "CiTestResults",
                description="ecr-promoter: CI signs test results with this key; the promoter verifies them",
                alias=CI_KEY_ALIAS,
                administrators=account,
                signers=[aws_iam.ArnPrincipal(arn) for arn in config.ci_principals],
                verifiers=[promoter.role],
            )
            CfnOutput(stack, StackOutput.CI_SIGNING_KEY_ARN, value=self.ci_key.key_arn)
            CfnOutput(stack, StackOutput.CI_SIGNING_KEY_ALIAS, value=self.ci_key.alias_name)
        if config.attestation:
            self.attestation_key = SigningKey(
                self,
                "Attestation",
                description="ecr-promoter: only the promoter signs promotion attestations with this key",
                alias=ATTESTATION_KEY_ALIAS,
                administrators=account,
                signers=[promoter.role],
                # Production verifies at deploy time: the destination account may read the public key and verify.
                verifiers=[account, aws_iam.AccountPrincipal(config.destination.account), promoter.role],
            )
            promoter.add_environment(Env.ATTESTATION_KEY, self.attestation_key.key_arn)
            CfnOutput(stack, StackOutput.ATTESTATION_KEY_ARN, value=self.attestation_key.key_arn)
            pem = PublicKeyPem(self, "PublicKey", key_arn=self.attestation_key.key_arn)
            CfnOutput(stack, StackOutput.ATTESTATION_PUBLIC_KEY, value=pem.pem)
