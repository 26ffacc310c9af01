"""`python app.py` (what `make synth` runs) reports a cdk.json mistake in one line, like the CLI does."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.cdk import ROOT, scenario_context


def _app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cdk_app", ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_json_syntax_error_names_the_file_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a cdk.json with a missing comma on line 3
    broken = tmp_path / "cdk.json"
    broken.write_text('{\n  "context": {\n    "a": 1\n    "b": 2\n  }\n}\n')
    # When synthesized, Then one line says where, and nothing else is printed
    assert _app().main(broken) == 1
    err = capsys.readouterr().err
    assert err == f"error: {broken}:4:5: Expecting ',' delimiter: fix the JSON\n"


def test_a_setting_error_names_the_key_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a cdk.json whose replication prefix would replicate the source
    context = scenario_context()
    context["replication_prefix"] = "dev-"
    config = tmp_path / "cdk.json"
    config.write_text(json.dumps({"context": context}))
    # When synthesized, Then one line names the key, and no traceback
    assert _app().main(config) == 1
    err = capsys.readouterr().err
    assert "'replication_prefix'" in err.splitlines()[0]
    assert len(err.splitlines()) == 1 and "Traceback" not in err
