"""in-toto Statement v1 and the three predicates this product signs or reads.

Why: the gates must check *what* was signed — which digest, which predicate, which suite and
result, which decision for which rule — not just *that* something was signed. Builders give the
function, CLI and CI one serialisation; parsers read untrusted statements strictly and say
exactly what is wrong. Specs followed (read with the search tool, 2026-11-29):
- Statement v1: `_type` https://in-toto.io/Statement/v1, `subject[{name?, digest}]`, `predicateType`, `predicate`;
- test result, in-toto/attestation spec/predicates/test-result.md: `result` PASSED|WARNED|FAILED,
  `configuration` [ResourceDescriptor] (required), `url` (optional) — WARNED is refused here, the
  gate contract knows only PASSED and FAILED;
- SLSA VSA v1, slsa-framework/slsa docs/spec/draft/verification_summary.md (v1.2): `verifier{id,
  version: map}`, `timeVerified`, `resourceUri`, `policy{uri, digest}`, `inputAttestations[{uri?,
  digest}]`, `verificationResult` PASSED|FAILED, `verifiedLevels` (SLSA_BUILD_LEVEL_UNEVALUATED
  when no build-track claim is made);
- approval: this product's own `https://ecr-promoter.dev/approval/v1` (`decision`, `reason`, `rule`
  required, so an approval for one stage cannot be replayed for another; `repository`, `tag` optional).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidStatement

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
TEST_RESULT_PREDICATE = "https://in-toto.io/attestation/test-result/v0.1"
APPROVAL_PREDICATE = "https://ecr-promoter.dev/approval/v1"
VSA_PREDICATE = "https://slsa.dev/verification_summary/v1"

PASSED = "PASSED"
FAILED = "FAILED"
APPROVE = "approve"
REJECT = "reject"
UNEVALUATED_BUILD_LEVEL = "SLSA_BUILD_LEVEL_UNEVALUATED"

MAX_SUBJECTS = 256
MAX_TEXT = 4096
_SHA256_HEX = re.compile(r"[a-f0-9]{64}")


def canonical_json(value: Any) -> bytes:
    """Key-sorted, compact UTF-8 JSON: one byte form for statements and for the policy digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(digest: str) -> str:
    """The hex of an OCI digest `sha256:<hex>` (or of bare hex), validated."""
    hex_part = digest.removeprefix("sha256:")
    if not _SHA256_HEX.fullmatch(hex_part):
        raise ValueError(f"not a sha256 digest: {digest[:80]!r}")
    return hex_part


def rfc3339(moment: datetime) -> str:
    """UTC timestamp with a `Z`, as in-toto's Timestamp field type asks."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Subject:
    digest: Mapping[str, str]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"digest": dict(self.digest)}
        if self.name is not None:
            body["name"] = self.name
        return body


@dataclass(frozen=True)
class Statement:
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "_type": STATEMENT_TYPE,
            "subject": [s.to_dict() for s in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": dict(self.predicate),
        }

    def to_json(self) -> bytes:
        return canonical_json(self.to_dict())

    def names_digest(self, digest: str) -> bool:
        """True if a subject's sha256 is this image digest (`sha256:<hex>`)."""
        wanted = sha256_hex(digest)
        return any(s.digest.get("sha256") == wanted for s in self.subjects)


@dataclass(frozen=True)
class ResourceDescriptor:
    """in-toto ResourceDescriptor as used by the VSA's `inputAttestations`: a digest and an optional URI."""

    digest: Mapping[str, str]
    uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"digest": dict(self.digest)}
        if self.uri is not None:
            body["uri"] = self.uri
        return body


@dataclass(frozen=True)
class SuiteResult:
    result: str
    suite: str
    url: str | None = None


@dataclass(frozen=True)
class Approval:
    decision: str
    reason: str
    rule: str
    repository: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class VerificationSummary:
    verifier_id: str
    verifier_version: Mapping[str, str]
    time_verified: str | None
    resource_uri: str
    policy_uri: str
    policy_digest: Mapping[str, str]
    input_attestations: tuple[ResourceDescriptor, ...]
    result: str
    verified_levels: tuple[str, ...]


def _subject(digest: str, name: str | None) -> tuple[Subject, ...]:
    return (Subject({"sha256": sha256_hex(digest)}, name),)


def build_test_result(
    digest: str, suite: str, result: str, *, url: str | None = None, name: str | None = None
) -> Statement:
    """A test-result statement: `configuration[0].name` carries the suite name the policy requires."""
    predicate: dict[str, Any] = {"result": result, "configuration": [{"name": suite}]}
    if url is not None:
        predicate["url"] = url
    statement = Statement(_subject(digest, name), TEST_RESULT_PREDICATE, predicate)
    read_test_result(statement)  # one set of rules for what we write and what we accept
    return statement


def build_approval(
    digest: str,
    decision: str,
    reason: str,
    rule: str,
    *,
    repository: str | None = None,
    tag: str | None = None,
    name: str | None = None,
) -> Statement:
    predicate: dict[str, Any] = {"decision": decision, "reason": reason, "rule": rule}
    if repository is not None:
        predicate["repository"] = repository
    if tag is not None:
        predicate["tag"] = tag
    statement = Statement(_subject(digest, name), APPROVAL_PREDICATE, predicate)
    read_approval(statement)
    return statement


def build_vsa(
    digest: str,
    *,
    verifier_id: str,
    verifier_version: Mapping[str, str],
    time_verified: datetime,
    resource_uri: str,
    policy_uri: str,
    policy_digest: str,
    input_attestations: Sequence[ResourceDescriptor] = (),
    verified_levels: Sequence[str] = (UNEVALUATED_BUILD_LEVEL,),
    name: str | None = None,
) -> Statement:
    """A PASSED verification summary about the promoted digest (only promotions get one)."""
    predicate: dict[str, Any] = {
        "verifier": {"id": verifier_id, "version": dict(verifier_version)},
        "timeVerified": rfc3339(time_verified),
        "resourceUri": resource_uri,
        "policy": {"uri": policy_uri, "digest": {"sha256": sha256_hex(policy_digest)}},
        "inputAttestations": [a.to_dict() for a in input_attestations],
        "verificationResult": PASSED,
        "verifiedLevels": list(verified_levels),
    }
    statement = Statement(_subject(digest, name), VSA_PREDICATE, predicate)
    read_vsa(statement)
    return statement


# --- parsing untrusted statements -------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidStatement(f"duplicate JSON key {key!r} in statement")
        result[key] = value
    return result


def _text(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise InvalidStatement(f"{where}.{key} must be a non-empty string of at most {MAX_TEXT} characters")
    return value


def _string_map(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidStatement(f"{where} must be an object of strings")
    return dict(value)


def parse_statement(body: bytes) -> Statement:
    """Parse a DSSE payload as an in-toto Statement v1 (call only after the signature verified)."""
    try:
        obj = json.loads(body, object_pairs_hook=_no_duplicates)
    except InvalidStatement:
        raise
    except (ValueError, RecursionError) as error:
        raise InvalidStatement("payload is not valid JSON") from error
    if not isinstance(obj, dict):
        raise InvalidStatement("payload is not a JSON object")
    if obj.get("_type") != STATEMENT_TYPE:
        raise InvalidStatement(f"statement _type is not {STATEMENT_TYPE}")
    raw_subjects = obj.get("subject")
    if not isinstance(raw_subjects, list) or not raw_subjects or len(raw_subjects) > MAX_SUBJECTS:
        raise InvalidStatement(f"statement needs 1 to {MAX_SUBJECTS} subjects")
    subjects = []
    for index, item in enumerate(raw_subjects):
        if not isinstance(item, dict):
            raise InvalidStatement(f"subject[{index}] is not an object")
        digest = _string_map(item.get("digest"), f"subject[{index}].digest")
        if not digest:
            raise InvalidStatement(f"subject[{index}].digest is empty")
        if "sha256" in digest and not _SHA256_HEX.fullmatch(digest["sha256"]):
            raise InvalidStatement(f"subject[{index}].digest.sha256 is not 64 lowercase hex characters")
        subjects.append(Subject(digest, _text(item, "name", f"subject[{index}]", required=False)))
    predicate_type = _text(obj, "predicateType", "statement")
    predicate = obj.get("predicate")
    if not isinstance(predicate, dict):
        raise InvalidStatement("statement.predicate must be an object")
    return Statement(tuple(subjects), str(predicate_type), predicate)


def _expect_type(statement: Statement, predicate_type: str) -> Mapping[str, Any]:
    if statement.predicate_type != predicate_type:
        raise InvalidStatement(f"predicateType is {statement.predicate_type[:200]!r}, expected {predicate_type}")
    return statement.predicate


def read_test_result(statement: Statement) -> SuiteResult:
    predicate = _expect_type(statement, TEST_RESULT_PREDICATE)
    result = predicate.get("result")
    if result not in (PASSED, FAILED):
        raise InvalidStatement(f"predicate.result {str(result)[:40]!r} is not {PASSED} or {FAILED}")
    configuration = predicate.get("configuration")
    if not isinstance(configuration, list) or not configuration or not isinstance(configuration[0], dict):
        raise InvalidStatement("predicate.configuration[0] must name the suite")
    suite = _text(configuration[0], "name", "predicate.configuration[0]")
    url = _text(predicate, "url", "predicate", required=False)
    return SuiteResult(result=str(result), suite=str(suite), url=url)


def read_approval(statement: Statement) -> Approval:
    predicate = _expect_type(statement, APPROVAL_PREDICATE)
    decision = predicate.get("decision")
    if decision not in (APPROVE, REJECT):
        raise InvalidStatement(f"predicate.decision {str(decision)[:40]!r} is not {APPROVE} or {REJECT}")
    return Approval(
        decision=str(decision),
        reason=str(_text(predicate, "reason", "predicate")),
        rule=str(_text(predicate, "rule", "predicate")),
        repository=_text(predicate, "repository", "predicate", required=False),
        tag=_text(predicate, "tag", "predicate", required=False),
    )


def read_vsa(statement: Statement) -> VerificationSummary:
    predicate = _expect_type(statement, VSA_PREDICATE)
    verifier = predicate.get("verifier")
    policy = predicate.get("policy")
    if not isinstance(verifier, dict) or not isinstance(policy, dict):
        raise InvalidStatement("predicate.verifier and predicate.policy must be objects")
    raw_inputs = predicate.get("inputAttestations", [])
    if not isinstance(raw_inputs, list):
        raise InvalidStatement("predicate.inputAttestations must be a list")
    inputs = []
    for index, item in enumerate(raw_inputs):
        if not isinstance(item, dict):
            raise InvalidStatement(f"predicate.inputAttestations[{index}] is not an object")
        where = f"predicate.inputAttestations[{index}]"
        inputs.append(
            ResourceDescriptor(
                _string_map(item.get("digest"), f"{where}.digest"), _text(item, "uri", where, required=False)
            )
        )
    result = predicate.get("verificationResult")
    if result not in (PASSED, FAILED):
        raise InvalidStatement("predicate.verificationResult is not PASSED or FAILED")
    levels = predicate.get("verifiedLevels")
    if not isinstance(levels, list) or not all(isinstance(level, str) for level in levels):
        raise InvalidStatement("predicate.verifiedLevels must be a list of strings")
    return VerificationSummary(
        verifier_id=str(_text(verifier, "id", "predicate.verifier")),
        verifier_version=_string_map(verifier.get("version", {}), "predicate.verifier.version"),
        time_verified=_text(predicate, "timeVerified", "predicate", required=False),
        resource_uri=str(_text(predicate, "resourceUri", "predicate")),
        policy_uri=str(_text(policy, "uri", "predicate.policy")),
        policy_digest=_string_map(policy.get("digest", {}), "predicate.policy.digest"),
        input_attestations=tuple(inputs),
        result=str(result),
        verified_levels=tuple(levels),
    )
