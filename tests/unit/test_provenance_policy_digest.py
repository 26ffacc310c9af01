"""The VSA's policy digest: one value for one policy, whatever its key order or whitespace, and one that
anyone holding the policy file can recompute without this product (`jq -cjS . policy.json | sha256sum`)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from promoter.attest.evidence import attestation_digest
from promoter.provenance import evidence_descriptor, policy_digest

_ROOT = Path(__file__).resolve().parents[2]


def _policy() -> dict[str, object]:
    name = f"rule-{uuid.uuid4().hex[:6]}"
    return {
        "rules": [{"name": name, "source": "dev-*", "target": "prod-{name}", "tags": ["v*"], "note": "é"}],
        "allow_override": False,
    }


def test_key_order_and_whitespace_do_not_change_the_digest() -> None:
    # Given one policy written two ways
    policy = _policy()
    reordered = json.dumps(dict(reversed(list(policy.items()))), indent=4, ensure_ascii=True)

    # When both are digested
    # Then they agree, and the digest is sha256 over sorted, compact UTF-8 JSON
    assert policy_digest(policy) == policy_digest(reordered) == policy_digest(reordered.encode())
    compact = json.dumps(policy, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert policy_digest(policy) == "sha256:" + hashlib.sha256(compact).hexdigest()


def test_another_policy_has_another_digest() -> None:
    assert policy_digest(_policy()) != policy_digest(_policy())


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_jq_recomputes_the_same_digest(tmp_path: Path) -> None:
    # Given the policy as a file, as production holds it
    policy = _policy()
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy, indent=2), encoding="utf-8")

    # When jq prints it sorted and compact without a newline
    printed = subprocess.run(["jq", "-cjS", ".", str(path)], capture_output=True, check=True).stdout

    # Then its sha256 is the VSA's policy digest
    assert "sha256:" + hashlib.sha256(printed).hexdigest() == policy_digest(policy)


def test_an_input_attestation_digest_is_the_envelope_digest_or_the_canonical_record_digest() -> None:
    # Given a signed envelope as stored and a scan record
    envelope = json.dumps({"payloadType": "application/vnd.in-toto+json", "payload": uuid.uuid4().hex}).encode()
    scan = {"repository": "dev-app", "counts": {"CRITICAL": 0}, "id": uuid.uuid4().hex}

    # When each becomes an inputAttestations entry
    signed = evidence_descriptor(envelope, uri="ecr-promoter:test-result/integration")
    record = evidence_descriptor(dict(reversed(list(scan.items()))))

    # Then the envelope keeps its attestation digest and the record is digested as canonical JSON
    assert signed.to_dict() == {
        "digest": {"sha256": attestation_digest(envelope).removeprefix("sha256:")},
        "uri": "ecr-promoter:test-result/integration",
    }
    assert record.digest["sha256"] == policy_digest(scan).removeprefix("sha256:")


def test_the_publisher_imports_nothing_the_lambda_runtime_lacks() -> None:
    """Lambda has boto3 but not `cryptography`: publishing must not need it (verifying offline may)."""
    code = (
        "import sys, promoter.provenance; "
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'cryptography', 'boto3', 'moto'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=_ROOT,
        env={"PYTHONPATH": "lambda_src"},
    ).stdout
    assert out.strip() == "[]"
