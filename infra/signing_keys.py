"""KMS signing keys: CI's test-result key, the promotion attestation key, and the right to verify policy keys.

Both keys are ECC_NIST_P256 / SIGN_VERIFY (ECDSA_SHA_256, the DSSE signing scheme the function verifies).
They are plain `AWS::KMS::Key` resources with a key policy written here in full: the CDK `Key` construct
adds an "Enable IAM User Permissions" statement (`kms:*` for the account root), which would let any IAM
principal whose own policy allows `kms:Sign` (AdministratorAccess, PowerUserAccess, ...) sign evidence.
Here the account root gets key *administration* only, never a cryptographic operation or `CreateGrant`
(a grant could hand `kms:Sign` to anyone). Administration has to stay with the account: KMS refuses a
key policy that would lock every principal out of managing the key (the PutKeyPolicy lockout safety
check), and a key nobody can manage cannot be disabled after a leak. An admin who may `PutKeyPolicy` can
still rewrite the policy: only an SCP binds account admins (docs/DEPLOY.md).

Both keys are RETAINed: signatures made with them (in the ledger, on promoted images in production)
must stay verifiable after the stack is gone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import RemovalPolicy, aws_iam, aws_kms
from constructs import Construct

from infra.config import CI_KEY_ALIAS, AccountRegion
from infra.nag import acknowledge

KEY_SPEC = "ECC_NIST_P256"
KEY_USAGE = "SIGN_VERIFY"
SIGNING_ALGORITHM = "ECDSA_SHA_256"
# Fixed alias names, so a policy can name the stack's keys (alias ARN) before the first deploy.
ATTESTATION_KEY_ALIAS = "alias/ecr-promoter/attestation"
__all__ = ["ATTESTATION_KEY_ALIAS", "CI_KEY_ALIAS", "SigningKey", "grant_verification", "verification_statements"]
# What verifying a signature takes: the key's spec/usage (DescribeKey), then Verify or the public key.
VERIFY_ACTIONS = ("kms:DescribeKey", "kms:GetPublicKey", "kms:Verify")
# Key administration (the KMS console's "key administrators" set), spelled out: no Sign/Verify, no CreateGrant.
KEY_ADMIN_ACTIONS = (
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:ListKeyPolicies",
    "kms:ListGrants",
    "kms:RevokeGrant",
    "kms:ListResourceTags",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
_KMS_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[^:]+):(?P<account>\d{12}):(?P<kind>key|alias)/(?P<name>.+)$"
)


class SigningKey(Construct):
    """An ECC P-256 signing key and its alias: `signers` may sign, `verifiers` may verify and read the public key."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        alias: str,
        administrators: aws_iam.IPrincipal,
        signers: Sequence[aws_iam.IPrincipal],
        verifiers: Sequence[aws_iam.IPrincipal],
    ) -> None:
        super().__init__(scope, construct_id)
        policy = aws_iam.PolicyDocument(
            statements=[
                aws_iam.PolicyStatement(
                    sid="AccountAdministersTheKeyButCannotUseIt",
                    principals=[administrators],
                    actions=list(KEY_ADMIN_ACTIONS),
                    resources=["*"],
                ),
                aws_iam.PolicyStatement(
                    sid="OnlyTheseSign",
                    principals=list(signers),
                    actions=["kms:Sign"],
                    resources=["*"],
                    conditions={"StringEquals": {"kms:SigningAlgorithm": SIGNING_ALGORITHM}},
                ),
                aws_iam.PolicyStatement(
                    sid="TheseVerify",
                    principals=list(verifiers),
                    actions=list(VERIFY_ACTIONS),
                    resources=["*"],
                ),
            ]
        )
        self.key = aws_kms.CfnKey(
            self,
            "Key",
            description=description,
            key_spec=KEY_SPEC,
            key_usage=KEY_USAGE,
            key_policy=policy,
            enabled=True,
        )
        self.key.apply_removal_policy(RemovalPolicy.RETAIN)
        self.alias = aws_kms.CfnAlias(self, "Alias", alias_name=alias, target_key_id=self.key.attr_arn)
        self.alias.apply_removal_policy(RemovalPolicy.RETAIN)
        self.key_arn: str = self.key.attr_arn
        self.alias_name = alias


def verification_statements(keys: Sequence[str], registry: AccountRegion) -> list[aws_iam.PolicyStatement]:
    """IAM statements that let the function verify with each policy key (key ARN, key id or alias ARN).

    An alias in `Resource` names the alias, not its key: "When an alias is the value of a resource
    element, the policy applies to the alias resource, not to any KMS key that might be associated with
    it" (AWS KMS developer guide, "Use aliases to control access to KMS keys"). The verifier resolves an
    alias with DescribeKey and then calls Verify with the *key ARN*, so `kms:RequestAlias` (present only
    when the request names the alias) would not cover Verify either. Hence: the keys of the alias's
    account and region, limited by `kms:ResourceAliases` to the key that alias points at.
    kms:ListAliases (resource `*`) is not granted: the verifier already recognises the configured
    spelling, the key ARN and key id, and listing would reveal every alias of the account.
    """
    direct: list[str] = []
    statements: list[aws_iam.PolicyStatement] = []
    for key in keys:
        match = _KMS_ARN.fullmatch(key)
        if match is None:  # a bare key id names a key of the caller's own account and region
            direct.append(registry.arn("kms", f"key/{key}"))
        elif match["kind"] == "key":
            direct.append(key)
        else:
            statements.append(
                aws_iam.PolicyStatement(
                    actions=list(VERIFY_ACTIONS),
                    resources=[alias_key_pattern(key)],
                    conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": [f"alias/{match['name']}"]}},
                )
            )
    if direct:
        statements.insert(0, aws_iam.PolicyStatement(actions=list(VERIFY_ACTIONS), resources=direct))
    return statements


def alias_key_pattern(alias_arn: str) -> str:
    """`arn:…:kms:<region>:<account>:key/*` for an alias ARN: the keys the alias may point at."""
    match = _KMS_ARN.fullmatch(alias_arn)
    if match is None or match["kind"] != "alias":
        raise ValueError(f"{alias_arn!r} is not a KMS alias ARN")
    return f"arn:{match['partition']}:kms:{match['region']}:{match['account']}:key/*"


def grant_verification(role: aws_iam.Role, keys: Sequence[str], registry: AccountRegion) -> None:
    """Let `role` verify signatures by the policy's keys; acknowledge the alias-scoped `key/*` patterns."""
    for statement in verification_statements(keys, registry):
        role.add_to_principal_policy(statement)
    for pattern in sorted({alias_key_pattern(key) for key in keys if _is_alias(key)}):
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{pattern}]",
            "The policy names a signing key by its alias ARN; IAM cannot scope a key operation to an alias ARN "
            "(it would name the alias resource), so the grant covers that account's keys and the "
            "kms:ResourceAliases condition limits it to the one key the alias points at.",
        )


def _is_alias(key: str) -> bool:
    match = _KMS_ARN.fullmatch(key)
    return match is not None and match["kind"] == "alias"
