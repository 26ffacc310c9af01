"""Signed CI results for the demo: the CI's KMS key in the local moto server and the envelopes it signs.

The policy the demo runs with trusts test results only when signed by the CI key (DESIGN.md, second-wave
contracts: `"trust": {"test_results": {"signed_by": [KEY]}}`). The key is an ECC_NIST_P256 SIGN_VERIFY key
created in the moto server that also holds the ledger; the function verifies through that server's KMS
(AWS_ENDPOINT_URL), as a deployed function verifies through AWS KMS. The envelopes are made by the
function's own `promoter.attest` (KmsSigner + build_test_result), exactly what `promoter record-result
--sign-with KEY` attaches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from devtools.demo.scenario import DUMMY_CREDENTIALS


def kms_client(endpoint: str, region: str) -> Any:
    import boto3  # noqa: PLC0415 - boto3 is imported only once the demo runs

    return boto3.client(
        "kms",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def create_signing_key(client: Any, description: str) -> str:
    """An ECC_NIST_P256 SIGN_VERIFY key (the kind the policy's trust section names); its ARN."""
    from promoter.attest.kms import KEY_SPEC, KEY_USAGE  # noqa: PLC0415 - lambda_src is on sys.path by now

    metadata = client.create_key(KeySpec=KEY_SPEC, KeyUsage=KEY_USAGE, Description=description)["KeyMetadata"]
    return str(metadata["Arn"])


def with_trust(policy_json: str, key_arn: str, extra_rules: list[dict[str, Any]] | None = None) -> str:
    """The cdk.json policy plus a trust section (only results signed by `key_arn` count) and `extra_rules`."""
    policy = json.loads(policy_json)
    policy["trust"] = {"test_results": {"signed_by": [key_arn]}}
    policy["rules"] = [*policy["rules"], *(extra_rules or [])]
    return json.dumps(policy)


@dataclass(frozen=True)
class CiSigner:
    """Signs test results with one KMS key, as CI does with `promoter record-result --sign-with KEY`."""

    client: Any
    key_arn: str

    def attestation(self, digest: str, suite: str, result: str, url: str | None = None) -> dict[str, Any]:
        from promoter.attest.intoto import build_test_result  # noqa: PLC0415

        return self.sign(self.key_arn, build_test_result(digest, suite, result, url=url))

    def sign(self, key_arn: str, statement: Any) -> dict[str, Any]:
        """The DSSE envelope (a JSON object) of an in-toto statement, signed by `key_arn` in the same KMS."""
        from promoter.attest.kms import KmsSigner  # noqa: PLC0415

        signed: dict[str, Any] = KmsSigner(self.client, key_arn).sign_statement(statement).to_dict()
        return signed
