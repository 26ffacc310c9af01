"""in-toto Statement v1 and its three predicates: what we build is what we accept; hostile statements are refused."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta, timezone

import pytest

from promoter.attest.errors import InvalidStatement
from promoter.attest.intoto import (
    APPROVAL_PREDICATE,
    STATEMENT_TYPE,
    TEST_RESULT_PREDICATE,
    VSA_PREDICATE,
    ResourceDescriptor,
    build_approval,
    build_test_result,
    build_vsa,
    canonical_json,
    parse_statement,
    read_approval,
    read_test_result,
    read_vsa,
    rfc3339,
    sha256_hex,
)


def _digest() -> str:
    return "sha256:" + hashlib.sha256(secrets.token_bytes(16)).hexdigest()


def test_a_test_result_statement_has_the_contract_shape_and_reads_back() -> None:
    # Given an image digest, a suite and a run URL
    digest, suite = _digest(), f"integration-{secrets.token_hex(3)}"

    # When a test-result statement is built and serialised
    body = build_test_result(digest, suite, "PASSED", url="https://ci.example/run/1").to_json()

    # Then the JSON has the documented shape, and parsing it gives the same facts
    obj = json.loads(body)
    assert obj["_type"] == STATEMENT_TYPE == "https://in-toto.io/Statement/v1"
    assert obj["subject"][0]["digest"]["sha256"] == digest.removeprefix("sha256:")
    assert obj["predicateType"] == TEST_RESULT_PREDICATE == "https://in-toto.io/attestation/test-result/v0.1"
    assert obj["predicate"] == {
        "result": "PASSED",
        "configuration": [{"name": suite}],
        "url": "https://ci.example/run/1",
    }
    result = read_test_result(parse_statement(body))
    assert (result.result, result.suite, result.url) == ("PASSED", suite, "https://ci.example/run/1")
    assert parse_statement(body).names_digest(digest)
    assert not parse_statement(body).names_digest(_digest())


def test_an_approval_binds_decision_reason_and_rule() -> None:
    digest = _digest()
    statement = build_approval(digest, "reject", "CVE-2026-1 not triaged", "prod", repository="dev-x", tag="v1")
    approval = read_approval(parse_statement(statement.to_json()))
    assert statement.predicate_type == APPROVAL_PREDICATE == "https://ecr-promoter.dev/approval/v1"
    assert (approval.decision, approval.reason, approval.rule) == ("reject", "CVE-2026-1 not triaged", "prod")
    assert (approval.repository, approval.tag) == ("dev-x", "v1")


def test_a_vsa_has_every_required_slsa_field() -> None:
    # Given the facts of one promotion
    digest, policy_digest = _digest(), hashlib.sha256(canonical_json({"rules": []})).hexdigest()
    evidence = ResourceDescriptor({"sha256": "a" * 64}, "ledger://test-result/integration")
    moment = datetime(2026, 11, 29, 8, 30, 5, tzinfo=timezone(timedelta(hours=2)))

    # When the VSA is built
    obj = json.loads(
        build_vsa(
            digest,
            verifier_id="arn:aws:lambda:us-west-2:111122223333:function:promoter",
            verifier_version={"ecr-promoter": "0.1.0"},
            time_verified=moment,
            resource_uri="111122223333.dkr.ecr.us-west-2.amazonaws.com/prod-x@" + digest,
            policy_uri="microservice",
            policy_digest=policy_digest,
            input_attestations=[evidence],
        ).to_json()
    )

    # Then it carries the SLSA VSA v1 fields with a PASSED result, in UTC
    predicate = obj["predicate"]
    assert obj["predicateType"] == VSA_PREDICATE == "https://slsa.dev/verification_summary/v1"
    assert obj["subject"][0]["digest"] == {"sha256": digest.removeprefix("sha256:")}
    assert predicate["verifier"] == {
        "id": "arn:aws:lambda:us-west-2:111122223333:function:promoter",
        "version": {"ecr-promoter": "0.1.0"},
    }
    assert predicate["timeVerified"] == "2026-11-29T06:30:05Z"
    assert predicate["policy"] == {"uri": "microservice", "digest": {"sha256": policy_digest}}
    assert predicate["inputAttestations"] == [
        {"digest": {"sha256": "a" * 64}, "uri": "ledger://test-result/integration"}
    ]
    assert predicate["verificationResult"] == "PASSED"
    assert predicate["verifiedLevels"] == ["SLSA_BUILD_LEVEL_UNEVALUATED"]
    summary = read_vsa(parse_statement(canonical_json(obj)))
    assert summary.result == "PASSED" and summary.input_attestations == (evidence,)


def _statement(**overrides: object) -> bytes:
    obj: dict[str, object] = {
        "_type": STATEMENT_TYPE,
        "subject": [{"digest": {"sha256": "b" * 64}}],
        "predicateType": TEST_RESULT_PREDICATE,
        "predicate": {"result": "PASSED", "configuration": [{"name": "unit"}]},
    }
    obj.update(overrides)
    return json.dumps(obj).encode()


BAD_STATEMENTS = [
    (b"\xff\xfe", "not valid JSON"),
    (b"[1]", "not a JSON object"),
    (b'{"_type": "a", "_type": "b"}', "duplicate JSON key"),
    (_statement(_type="https://in-toto.io/Statement/v0.1"), "_type is not"),
    (_statement(subject=[]), "1 to 256 subjects"),
    (_statement(subject=[{"digest": {}}] * 300), "1 to 256 subjects"),
    (_statement(subject=["x"]), "subject[0] is not an object"),
    (_statement(subject=[{"digest": {"sha256": 5}}]), "must be an object of strings"),
    (_statement(subject=[{"digest": {}}]), "digest is empty"),
    (_statement(subject=[{"digest": {"sha256": "B" * 64}}]), "64 lowercase hex"),
    (_statement(subject=[{"digest": {"sha256": "b" * 64}, "name": 3}]), "name must be a non-empty string"),
    (_statement(predicateType=""), "predicateType must be"),
    (_statement(predicate=[]), "predicate must be an object"),
]


@pytest.mark.parametrize(("body", "reason"), BAD_STATEMENTS)
def test_malformed_statements_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidStatement) as refused:
        parse_statement(body)
    assert reason in str(refused.value)


BAD_TEST_RESULTS = [
    ({"predicateType": VSA_PREDICATE}, "expected https://in-toto.io/attestation/test-result/v0.1"),
    ({"predicate": {"result": "WARNED", "configuration": [{"name": "u"}]}}, "is not PASSED or FAILED"),
    ({"predicate": {"result": "passed", "configuration": [{"name": "u"}]}}, "is not PASSED or FAILED"),
    ({"predicate": {"result": "PASSED"}}, "configuration[0] must name the suite"),
    ({"predicate": {"result": "PASSED", "configuration": [{}]}}, "configuration[0].name"),
    ({"predicate": {"result": "PASSED", "configuration": [{"name": "u"}], "url": 1}}, "predicate.url"),
]


@pytest.mark.parametrize(("overrides", "reason"), BAD_TEST_RESULTS)
def test_test_results_outside_the_contract_are_refused(overrides: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidStatement) as refused:
        read_test_result(parse_statement(_statement(**overrides)))
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    ("predicate", "reason"),
    [
        ({"decision": "maybe", "reason": "r", "rule": "p"}, "decision 'maybe' is not approve or reject"),
        ({"decision": "approve", "rule": "p"}, "predicate.reason"),
        ({"decision": "approve", "reason": "r"}, "predicate.rule"),
    ],
)
def test_approvals_need_a_decision_a_reason_and_a_rule(predicate: dict[str, object], reason: str) -> None:
    body = _statement(predicateType=APPROVAL_PREDICATE, predicate=predicate)
    with pytest.raises(InvalidStatement, match=reason):
        read_approval(parse_statement(body))


def test_builders_refuse_what_the_readers_would_refuse() -> None:
    with pytest.raises(InvalidStatement):
        build_test_result(_digest(), "unit", "WARNED")
    with pytest.raises(ValueError, match="not a sha256 digest"):
        build_test_result("sha256:abc", "unit", "PASSED")
    with pytest.raises(ValueError, match="timezone-aware"):
        rfc3339(datetime(2026, 1, 1))  # a naive datetime is the point
    assert sha256_hex("c" * 64) == "c" * 64
    assert rfc3339(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"
