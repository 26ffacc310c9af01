"""`record-result --sign-with KEY` and `approve … --sign-with KEY`: KMS-signed evidence the function can verify.

moto's KMS makes real ECDSA P-256 signatures (NOTES.md, "moto 5.2.5 KMS"), so each envelope the CLI sends is
checked with the same `promoter.attest.evidence` functions the function uses. Deployed: PutEvents on the CI
bus (moto delivers the event to an SQS target, which is how we read what was put) and Lambda Invoke (a
recording Lambda client: moto's Lambda would need Docker). --local: the request the local invoker receives,
and for test results the whole path through the function (the function's side of `approve` is tested in
tests/integration/test_approval.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devtools import images
from devtools.localregistry import LocalRegistry
from promoter.attest.errors import UntrustedEvidence
from promoter.attest.evidence import verify_approval, verify_test_result
from promoter.attest.kms import KmsVerifier
from promoter.cli import EXIT_FAILURE, EXIT_IGNORED, EXIT_OK, EXIT_PENDING, deployed, main
from promoter.cli.local import LocalInvoker
from tests.support.promotion import Promoter, rule

REGION = "us-west-2"
BUS = "ci-results"
APPROVAL_KEYS = {"action", "repository", "tag", "rule", "reason", "attestation"}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "PROMOTION_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def signing_key(aws: None) -> str:
    kms = boto3.client("kms", region_name=REGION)
    return str(kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"])


def verifier(key: str) -> KmsVerifier:
    return KmsVerifier(boto3.client("kms", region_name=REGION), [key])


def random_digest() -> str:
    return "sha256:" + hashlib.sha256(os.urandom(16)).hexdigest()


class RecordingLambda:
    """A Lambda client that records each synchronous invoke and answers `response`."""

    def __init__(self, response: dict[str, Any]) -> None:
        self.response = response
        self.requests: list[dict[str, Any]] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        self.requests.append(json.loads(Payload))
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.response).encode())}


def deployed_function(monkeypatch: pytest.MonkeyPatch, function: RecordingLambda) -> None:
    """The deployed invoker's Lambda client is `function`; every other service stays moto's."""
    real_client = deployed.aws_client
    monkeypatch.setattr(
        deployed,
        "aws_client",
        lambda service, region: function if service == "lambda" else real_client(service, region),
    )


def decided(outcome: str) -> dict[str, Any]:
    return {"decisions": [{"rule": "prod", "outcome": outcome, "source_repository": "dev-app", "reasons": []}]}


def test_record_result_signed_on_the_ci_bus_verifies_for_its_digest_suite_and_result(
    signing_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the CI bus, with a rule that forwards its events to a queue we can read
    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name=BUS)
    queue = sqs.create_queue(QueueName="seen")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": ["ecr-promoter"]}))
    events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
    digest = random_digest()

    # When a CI records a signed PASSED result
    argv = ["record-result", f"dev-app@{digest}", "--suite", "e2e", "--result", "PASSED", "--run-url", "https://ci/1"]
    code = main([*argv, "--sign-with", signing_key, "--bus", BUS, "--region", REGION])

    # Then the bus got one Image Test Result whose attestation verifies for exactly that digest, suite and result
    assert code == EXIT_OK and f"signed by {signing_key}" in capsys.readouterr().out
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(messages[0]["Body"])
    assert len(messages) == 1 and event["detail-type"] == "Image Test Result"
    detail = event["detail"]
    assert {k: detail[k] for k in ("image-digest", "suite", "result")} == {
        "image-digest": digest,
        "suite": "e2e",
        "result": "PASSED",
    }
    verified = verify_test_result(detail["attestation"], digest, "e2e", "PASSED", verifier(signing_key))
    assert verified.key_id == signing_key and verified.url == "https://ci/1"
    assert detail["attestation"]["signatures"][0]["keyid"] == signing_key
    # And the same envelope does not count for another suite or result (the event must agree with it)
    for suite, result in (("unit", "PASSED"), ("e2e", "FAILED")):
        with pytest.raises(UntrustedEvidence):
            verify_test_result(detail["attestation"], digest, suite, result, verifier(signing_key))


def test_record_result_local_sends_the_signed_event_through_the_entry_point(
    signing_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a local function that records what it receives and answers pending
    received: list[dict[str, Any]] = []
    monkeypatch.setattr(LocalInvoker, "invoke", lambda self, event: received.append(event) or decided("pending"))
    digest = random_digest()

    # When a FAILED result is recorded --local with --sign-with
    code = main(["record-result", "--local", f"dev-app@{digest}", "--suite", "it", "--result", "FAILED"])
    unsigned = received.pop()
    signed_code = main(
        [
            "record-result",
            "--local",
            f"dev-app@{digest}",
            "--suite",
            "it",
            "--result",
            "FAILED",
            "--sign-with",
            signing_key,
        ]
    )

    # Then the event is the Image Test Result; only the signed one carries an attestation, and it verifies
    assert code == signed_code == EXIT_PENDING
    assert "attestation" not in unsigned["detail"]
    event = received.pop()
    assert (event["source"], event["detail-type"]) == ("ecr-promoter", "Image Test Result")
    verify_test_result(event["detail"]["attestation"], digest, "it", "FAILED", verifier(signing_key))


def test_approve_deployed_resolves_the_tag_through_ecr_and_sends_designs_shape(
    signing_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an ECR image tagged v1.2.0 and a deployed function (named) that answers promoted
    ecr = boto3.client("ecr", region_name=REGION)
    ecr.create_repository(repositoryName="dev-microservice")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": images.OCI_MANIFEST, "layers": [], "config": {}})
    ecr.put_image(repositoryName="dev-microservice", imageManifest=manifest, imageTag="v1.2.0")
    (detail,) = ecr.describe_images(repositoryName="dev-microservice")["imageDetails"]
    function = RecordingLambda(decided("promoted"))
    deployed_function(monkeypatch, function)

    # When an approver approves the tag for the prod rule
    argv = ["approve", "dev-microservice:v1.2.0", "--rule", "prod", "--reason", "CAB-42 ok", "--sign-with", signing_key]
    code = main([*argv, "--function", "promoter", "--region", REGION])

    # Then the function got the documented approve request, naming the tag, signed for the tag's digest and the rule
    assert code == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith(f"approve dev-microservice@{detail['imageDigest']} for rule prod, signed by {signing_key}\n")
    (request,) = function.requests
    assert set(request) == APPROVAL_KEYS
    assert {k: request[k] for k in APPROVAL_KEYS - {"attestation"}} == {
        "action": "approve",
        "repository": "dev-microservice",
        "tag": "v1.2.0",
        "rule": "prod",
        "reason": "CAB-42 ok",
    }
    approval = verify_approval(
        request["attestation"],
        detail["imageDigest"],
        "approve",
        "prod",
        verifier(signing_key),
        expected_repository="dev-microservice",
    )
    assert (approval.reason, approval.tag, approval.key_id) == ("CAB-42 ok", "v1.2.0", signing_key)
    with pytest.raises(UntrustedEvidence):  # not replayable for another stage
        verify_approval(request["attestation"], detail["imageDigest"], "approve", "staging", verifier(signing_key))


def test_approve_local_resolves_the_tag_in_the_registry(
    signing_key: str,
    registry: LocalRegistry,
    repo_name: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a local registry image and local settings; a function that answers pending
    dev = repo_name("dev-app")
    pushed = images.push_image(registry.url, dev, "v3", images.random_layers(1, 100))
    monkeypatch.setenv("REGISTRY_ENDPOINT", registry.url)
    monkeypatch.setenv("LEDGER_TABLE", "ledger")
    monkeypatch.setenv("PROMOTION_POLICY", json.dumps({"rules": [{"name": "prod", "source": dev, "target": "prod-x"}]}))
    received: list[dict[str, Any]] = []
    monkeypatch.setattr(LocalInvoker, "invoke", lambda self, request: received.append(request) or decided("pending"))

    # When the approval is sent --local
    code = main(["approve", "--local", f"{dev}:v3", "--rule", "prod", "--reason", "ok", "--sign-with", signing_key])

    # Then it is signed for the digest the registry resolves v3 to; pending maps to exit 4
    assert code == EXIT_PENDING
    (request,) = received
    assert request["tag"] == "v3" and "digest" not in request
    verify_approval(request["attestation"], pushed.digest, "approve", "prod", verifier(signing_key))


@pytest.mark.parametrize(
    ("outcome", "expected"), [("rejected", EXIT_OK), ("ignored", EXIT_IGNORED), ("pending", EXIT_PENDING)]
)
def test_reject_by_digest_signs_reject_and_succeeds_when_the_image_is_rejected(
    outcome: str, expected: int, signing_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a function that answers `outcome`
    function = RecordingLambda(decided(outcome))
    deployed_function(monkeypatch, function)
    digest = random_digest()

    # When an approver rejects a digest
    argv = ["approve", f"dev-app@{digest}", "--rule", "prod", "--reason", "CVE-1", "--sign-with", signing_key]
    code = main([*argv, "--reject", "--function", "promoter", "--region", REGION, "--json"])

    # Then the request names the digest and action reject; exit 0 only when the answer is `rejected`
    assert code == expected
    (request,) = function.requests
    assert (request["action"], request["digest"]) == ("reject", digest) and "tag" not in request
    verify_approval(request["attestation"], digest, "reject", "prod", verifier(signing_key))
    assert json.loads(capsys.readouterr().out) == decided(outcome)


@pytest.mark.parametrize("problem", ["missing key", "symmetric key"])
def test_a_key_kms_cannot_sign_with_is_one_line_exit_1_and_nothing_is_sent(
    problem: str, aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a key that does not exist, or one that cannot sign
    kms = boto3.client("kms", region_name=REGION)
    key = "arn:aws:kms:us-west-2:123456789012:key/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12
    if problem == "symmetric key":
        key = kms.create_key()["KeyMetadata"]["Arn"]
    function = RecordingLambda(decided("promoted"))
    deployed_function(monkeypatch, function)

    # When it is used to sign an approval
    code = main(["approve", f"dev-app@{random_digest()}", "--rule", "prod", "--reason", "r", "--sign-with", key])

    # Then one error line names the key and KMS's code; the function was not invoked
    err = capsys.readouterr().err
    assert code == EXIT_FAILURE and err.count("\n") == 1 and err.startswith(f"error: cannot sign with {key}: ")
    assert function.requests == []


def test_an_unknown_ecr_tag_is_one_line_exit_1(signing_key: str, capsys: pytest.CaptureFixture[str]) -> None:
    boto3.client("ecr", region_name=REGION).create_repository(repositoryName="dev-app")

    code = main(
        ["approve", "dev-app:nope", "--rule", "prod", "--reason", "r", "--sign-with", signing_key, "--region", REGION]
    )

    err = capsys.readouterr().err
    assert code == EXIT_FAILURE and err.count("\n") == 1
    assert err.startswith("error: cannot resolve dev-app:nope in ECR (ImageNotFoundException")


def test_local_signed_result_counts_only_when_signed_by_the_trusted_key(
    promoter: Promoter, repo_name: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a policy that trusts one CI key, and an image waiting for its e2e result
    kms = boto3.client("kms", region_name=REGION)
    trusted, other = (
        kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"] for _ in range(2)
    )
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(
        {"rules": [rule(dev, prod, require={"tests": ["e2e"]})], "trust": {"test_results": {"signed_by": [trusted]}}}
    )
    image = promoter.push(dev, "v1")
    argv = ["record-result", "--local", f"{dev}@{image.digest}", "--suite", "e2e", "--result", "PASSED"]

    # When the result is recorded unsigned, signed by another key, then signed by the trusted key
    unsigned, by_other = main(argv), main([*argv, "--sign-with", other])
    ignored_output = capsys.readouterr().out
    signed = main([*argv, "--sign-with", trusted])

    # Then only the trusted signature promotes; the others are ignored with their reason (exit 6)
    assert (unsigned, by_other, signed) == (EXIT_IGNORED, EXIT_IGNORED, EXIT_OK)
    assert "unsigned" in ignored_output and f"key {other!r} is not trusted" in ignored_output
    assert promoter.target_digest(prod, "v1") == image.digest
