"""teamsim.store exports exactly its public surface, and imports no upper layer."""

from __future__ import annotations

import ast
from pathlib import Path

import teamsim.store

STORE_DIR = Path(teamsim.store.__file__).resolve().parent


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(teamsim.store) if not name.startswith("_")}
    assert set(teamsim.store.__all__) == public


def test_store_imports_no_upper_layer() -> None:
    imported: set[str] = set()
    for path in STORE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    upper = {m for m in imported if m.split(".")[:2] in (
        ["teamsim", "graph"], ["teamsim", "sim"], ["teamsim", "agents"])}
    assert upper == set()
