"""The registry package stays in layers: each module imports only from layers below it, says why it
exists in its docstring, and stays under 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lambda_src" / "promoter" / "registry"

# Lowest first. A module may import only from modules of a strictly lower layer.
LAYERS: list[set[str]] = [
    {"errors", "capabilities", "_http"},
    {"reference", "manifest"},
    {"credentials", "auth"},
    {"transport"},
    {"client"},
    {"session", "labels"},
    {"blobs"},
    {"writer"},
    {"referrers"},
    {"copy"},
    {"__init__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _modules() -> list[Path]:
    return sorted(PACKAGE.glob("*.py"))


def test_every_module_has_a_layer() -> None:
    assert {path.stem for path in _modules()} == set(RANK)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.stem)
def test_imports_only_reach_down(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported = {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 1
    }
    upward = {name for name in imported if RANK[name] >= RANK[path.stem]}
    assert not upward or path.stem == "__init__", f"{path.stem} imports from its own or a higher layer: {upward}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.stem)
def test_modules_are_small_and_say_why(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= 400
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring and len(docstring) > 40
