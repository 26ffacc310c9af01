"""`python -m promoter … --help` stays small: only the CLI's own modules and the stdlib they need."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("boto3", "botocore", "pydantic", "aws_lambda_powertools", "urllib3", "promoter.registry", "infra")
# stdlib modules that cost tens of milliseconds (`dataclasses` pulls in `inspect` and `ast`: 23 ms measured here)
SLOW_STDLIB = ("dataclasses", "inspect", "ast")


def imported_modules(*args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "promoter", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'lambda_src'}:{ROOT}"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]


@pytest.mark.parametrize(
    "command", ["copy", "promote", "invoke", "record-scan", "record-result", "approve", "reconcile", "verify"]
)
def test_help_imports_none_of_the_heavy_dependencies(command: str) -> None:
    modules = imported_modules(command, "--help")

    assert "promoter.cli" in modules
    assert not [name for name in modules if name.startswith(HEAVY)]
    assert not [name for name in modules if name in SLOW_STDLIB]
