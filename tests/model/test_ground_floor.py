"""The ground floor imports nothing else of teamsim, and the agents only the ground floor."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent


def teamsim_imports(folder: Path) -> dict[str, set[str]]:
    """Each module file under ``folder`` -> the teamsim modules it imports (any level)."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = {n for n in names if n.split(".")[0] == "teamsim"}
    return found


@pytest.mark.parametrize(("folder", "allowed"), [
    ("src/teamsim/model", ("teamsim.model",)),
    ("agents", ("teamsim.model", "teamsim.agents")),
])
def test_a_layer_imports_only_what_is_below_it(folder: str, allowed: tuple[str, ...]) -> None:
    for module, names in teamsim_imports(ROOT / folder).items():
        wrong = sorted(n for n in names
                       if not any(n == a or n.startswith(f"{a}.") for a in allowed))
        assert wrong == [], f"{module} imports {wrong}"


def test_the_agents_import_the_ground_floor_from_its_package() -> None:
    for module, names in teamsim_imports(ROOT / "agents").items():
        private = sorted(n for n in names if n.startswith("teamsim.model."))
        assert private == [], f"{module} imports {private}"


def test_the_lazy_name_table_matches_the_modules() -> None:
    """``teamsim.model`` resolves names lazily from a table; it must list exactly what its
    modules export, each from the module that holds it."""
    import importlib
    import pkgutil

    import teamsim.model as model

    table: dict[str, str] = model._ORIGIN
    exported: dict[str, str] = {}
    for info in pkgutil.iter_modules(model.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"teamsim.model.{info.name}")
        for name in getattr(module, "__all__", ()):
            exported.setdefault(name, info.name)
    assert set(table) == set(exported) == set(model.__all__)
    for name, where in table.items():
        module = importlib.import_module(f"teamsim.model.{where}")
        assert getattr(model, name) is getattr(module, name), name
