"""Imports point down only: each package of ``src/perpmargin`` imports only packages of a
lower layer (the brief's architecture), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "perpmargin"

#: Lower layers first; a package may import its own layer's modules only within itself.
LAYERS: list[set[str]] = [
    {"errors", "formulas", "_version", "data"},
    {"numeric"},
    {"display", "limits", "venues"},
    {"engine"},
    {"events", "risk", "interop"},
    {"sim"},
    {"report"},
    {"demo", "web"},
    {"cli"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _package(path: Path) -> str:
    parts = path.relative_to(SRC).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _imported(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "perpmargin":
                names += [f"perpmargin.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {n.split(".")[1] for n in names if n.startswith("perpmargin.")}
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if _package(p) != "__init__")


def test_every_package_has_a_layer() -> None:
    assert {_package(p) for p in MODULES} <= set(RANK)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    own = _package(path)
    upward = sorted(
        name
        for name in _imported(ast.parse(path.read_text(encoding="utf-8")))
        if name != own and RANK.get(name, len(LAYERS)) >= RANK[own]
    )
    assert upward == [], f"{path.relative_to(SRC)} ({own}) imports {upward}, not below it"
