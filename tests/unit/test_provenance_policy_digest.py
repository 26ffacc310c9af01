"""The VSA's policy digest: one value for one policy, whatever its key order or whitespace, and one that
anyone holding the policy file can recompute without this product (`jq -cjS . policy.json | sha256sum`)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from promoter.provenance import policy_digest


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
