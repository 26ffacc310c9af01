"""Promotion attestation as wired by build_services: ATTESTATION_KEY set (moto KMS), the real registry.

The VSA must be in the target before the promoted tag (docs/ATTESTATION.md: "pushed before
the promoted tag"): the registry's own access log gives the order of the manifest PUTs. distribution
2.8 has no referrers API, so the VSA is found through the `sha256-<hex>` tag schema by `promoter verify`."""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devtools.eventfactory import ci_result_event, push_event
from promoter.attest.pubkey import public_key_pem
from promoter.cli import verify as verify_command
from promoter.contract import DetailType, Env, Source
from promoter.provenance import policy_digest
from tests.support.promotion import Promoter, only, rule

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
REGION = "us-west-2"


def verify(argv: list[str], home: Path) -> int:
    parser = argparse.ArgumentParser(prog="python -m promoter")
    verify_command.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["verify", *argv])
    code: int = args.run(args, {"HOME": str(home), "PATH": ""})
    return code


def attestation_key(promoter: Promoter) -> str:
    kms = boto3.client("kms", region_name=REGION)
    key = str(kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"])
    promoter.monkeypatch.setenv(Env.ATTESTATION_KEY, key)
    return key


def consumer_queue(promoter: Promoter) -> tuple[Any, str]:
    promoter.monkeypatch.setenv(Env.EVENT_BUS, "default")
    sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
    url = sqs.create_queue(QueueName="attested-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="attested", EventPattern=json.dumps({"source": [Source.PROMOTER.value]}))
    events.put_targets(Rule="attested", Targets=[{"Id": "q", "Arn": arn}])
    return sqs, url


def manifest_puts(promoter: Promoter, mark: int, repository: str) -> list[str]:
    """The references manifests were PUT under in `repository`, in the order the registry saw them."""
    prefix = f"/v2/{repository}/manifests/"
    return [
        entry.path.removeprefix(prefix)
        for entry in promoter.registry.access_log(mark)
        if entry.method == "PUT" and entry.path.startswith(prefix)
    ]


def test_a_promotion_publishes_its_vsa_before_the_tag(promoter: Promoter, repo_name: Any, tmp_path: Path) -> None:
    # Given an attestation key, a consumer of the events and a gated rule
    key = attestation_key(promoter)
    sqs, url = consumer_queue(promoter)
    dev, prod = repo_name("dev"), repo_name("prod")
    policy = {"rules": [rule(dev, prod, tags=["v*"], require={"tests": ["integration"]})]}
    promoter.configure(policy)
    image = promoter.push(dev, "v1.0.0")
    promoter.invoke(push_event(dev, image.digest, "v1.0.0", at=T0))

    # When the suite passes (twice: a redelivery)
    mark = promoter.registry.log_mark()
    event = ci_result_event(dev, image.digest, "integration", "PASSED", at=T0)
    promoted = only(promoter.invoke(event))
    again = only(promoter.invoke(event))

    # Then the image is promoted with its attestation digest, and the VSA manifest went in before the tag
    assert promoted["outcome"] == "promoted" and promoted["attestation_digest"].startswith("sha256:")
    assert again["outcome"] == "already-promoted" and "attestation_digest" not in again
    puts = manifest_puts(promoter, mark, prod)
    assert "v1.0.0" in puts
    tag_at = puts.index("v1.0.0")
    assert promoted["attestation_digest"] in puts[:tag_at], puts
    assert puts.index(image.digest) < tag_at
    assert puts.count("v1.0.0") == 1

    # And `promoter verify` finds and verifies it with the public key, for the deployed policy
    pem = tmp_path / "attestation.pem"
    pem.write_text(public_key_pem(boto3.client("kms", region_name=REGION), key))
    ref = f"{promoter.registry.host}/{prod}:v1.0.0"
    assert verify([ref, "--public-key", str(pem), "--policy-digest", policy_digest(policy)], tmp_path) == 0

    # And the one Image Promoted event carries the attestation digest
    messages = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert [m["detail-type"] for m in messages] == [DetailType.IMAGE_PROMOTED.value]
    assert messages[0]["detail"]["attestation-digest"] == promoted["attestation_digest"]


def test_an_attestation_failure_leaves_no_tag(promoter: Promoter, repo_name: Any) -> None:
    # Given an attestation key KMS does not know (deleted, or a typo in the stack)
    missing = f"arn:aws:kms:{REGION}:123456789012:key/{uuid.uuid4()}"
    promoter.monkeypatch.setenv(Env.ATTESTATION_KEY, missing)
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod, tags=["v*"])]})
    image = promoter.push(dev, "v2")

    # When the push arrives, Then the promotion fails (Lambda retries the event) and no tag was written
    with pytest.raises(ClientError, match="NotFoundException"):
        promoter.invoke(push_event(dev, image.digest, "v2", at=T0))
    assert promoter.target_digest(prod, "v2") is None
    assert not [item for item in promoter.ledger_items() if item["sk"]["S"].startswith("PROMOTED#")]
