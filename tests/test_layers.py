"""The layers import one way: this test reads every module's imports (AST) and fails on an arrow
the layering forbids.

The rules (bottom to top; "->" is "may import"):

1. ``teamsim.model`` (the ground floor: domain, errors, ranges, validation, event vocabulary,
   the fold) imports nothing else of teamsim.
2. ``teamsim.store`` -> model.
3. ``teamsim.agents`` -> model.
4. ``teamsim.graph`` -> model, store, agents.
5. ``teamsim.sim`` -> model, store, graph (not agents: the roof assembles the team).
6. The roof (everything else: ``teamsim`` itself, ``scenario``, ``runner``, ``reports``,
   ``assembly``, ``workspace``, ``cli``) -> anything. Nothing below the roof imports the roof.
7. No module imports another package's private module or private name (``teamsim.x._y`` or
   ``from teamsim.x import _y`` from outside ``teamsim.x``).
8. Imports between teamsim's modules form no circle, whether at module level or inside a
   function (a package's ``__init__`` importing its own submodules is the one allowed direction;
   imports under ``TYPE_CHECKING`` do not run and do not count for circles).

Every import counts for rules 1-7: module level, inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Where each package's source lives (the design card's folders are mapped into one namespace).
SOURCES: dict[str, Path] = {
    "teamsim": ROOT / "src" / "teamsim",
    "teamsim.agents": ROOT / "agents",
    "teamsim.graph": ROOT / "graph",
    "teamsim.sim": ROOT / "sim",
    "teamsim.store": ROOT / "store",
}

LAYERS = ("model", "store", "agents", "graph", "sim", "roof")

ALLOWED: dict[str, frozenset[str]] = {
    "model": frozenset({"model"}),
    "store": frozenset({"model", "store"}),
    "agents": frozenset({"model", "agents"}),
    "graph": frozenset({"model", "store", "agents", "graph"}),
    "sim": frozenset({"model", "store", "graph", "sim"}),
    "roof": frozenset(LAYERS),
}


@dataclass(frozen=True)
class Import:
    """One import in one module: ``target`` is a module name, ``names`` what it takes."""

    module: str
    file: Path
    line: int
    target: str
    names: tuple[str, ...]
    runs: bool  # False: under ``if TYPE_CHECKING:`` only

    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def _modules() -> Iterator[tuple[str, Path]]:
    for package, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if package == "teamsim" and parts[0] in {"agents", "graph", "sim", "store"}:
                continue  # not there, but never count a folder twice
            name = ".".join((package, *parts))
            yield name.removesuffix(".__init__"), path


def layer(module: str) -> str:
    """The layer of a teamsim module."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in {"model", "store", "agents", "graph", "sim"}:
        return parts[1]
    return "roof"


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """ids of import nodes under ``if TYPE_CHECKING:`` (they never run)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Name)
                and node.test.id == "TYPE_CHECKING"):
            found.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return found


def imports() -> list[Import]:
    """Every import of a teamsim module in every teamsim module."""
    found: list[Import] = []
    for module, path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        typing_only = _type_checking_nodes(tree)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "teamsim":
                        found.append(Import(module, path, node.lineno, alias.name, (),
                                            id(node) not in typing_only))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                if target.split(".")[0] == "teamsim":
                    names = tuple(a.name for a in node.names)
                    found.append(Import(module, path, node.lineno, target, names,
                                        id(node) not in typing_only))
    return found


def _owner_of_private(target: str) -> str | None:
    """The package that owns a private module named in ``target`` (None: nothing private)."""
    parts = target.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def forbidden_arrows(found: list[Import]) -> list[str]:
    """Every import that breaks rules 1-7, as ``file:line: module -> target (rule)``."""
    problems: list[str] = []
    for imp in found:
        source, target = layer(imp.module), layer(imp.target)
        if target not in ALLOWED[source]:
            problems.append(f"{imp.where()}: {imp.module} -> {imp.target} "
                            f"({source} may not import {target})")
        owner = _owner_of_private(imp.target)
        if owner is not None and not _inside(imp.module, owner):
            problems.append(f"{imp.where()}: {imp.module} -> {imp.target} "
                            f"(private module of {owner})")
        private_names = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
        if private_names and not _inside(imp.module, imp.target):
            problems.append(f"{imp.where()}: {imp.module} imports {', '.join(private_names)} "
                            f"from {imp.target} (private names of another package)")
    return problems


def import_cycles(found: list[Import], known: set[str] | None = None) -> list[list[str]]:
    """Circles among imports that run (at module level or in a function: an import moved into
    a function to dodge a circle is still a circle; a package importing its own submodules
    excepted, ``TYPE_CHECKING`` imports ignored);
    ``known`` is the set of modules (default: every teamsim module)."""
    if known is None:
        known = {module for module, _ in _modules()}
    graph: dict[str, set[str]] = {module: set() for module in known}
    for imp in found:
        if not imp.runs:
            continue
        targets = {imp.target} | {f"{imp.target}.{n}" for n in imp.names}
        for target in targets & known:
            if target != imp.module and not _inside(target, imp.module):
                graph[imp.module].add(target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_the_source_folders_are_all_read() -> None:
    names = {module for module, _ in _modules()}
    for package in ("teamsim.model", "teamsim.store", "teamsim.agents", "teamsim.graph",
                    "teamsim.sim", "teamsim.cli"):
        assert package in names, f"{package} not found: the layering test reads nothing of it"
    assert len(imports()) > 100


def test_no_import_crosses_the_layers_the_wrong_way() -> None:
    problems = forbidden_arrows(imports())
    assert not problems, "forbidden imports:\n" + "\n".join(problems)


def test_imports_form_no_circle() -> None:
    cycles = import_cycles(imports())
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    ("module", "target", "names", "expected"),
    [
        ("teamsim.model.domain", "teamsim.store", ("Store",), "model may not import store"),
        ("teamsim.sim.world", "teamsim.agents", ("DraftStyle",), "sim may not import agents"),
        ("teamsim.graph._nodes", "teamsim.sim", ("Simulation",), "graph may not import sim"),
        ("teamsim.store._x", "teamsim.runner", ("run",), "store may not import roof"),
        ("teamsim.cli._run", "teamsim.sim._rules", ("preview",), "private module of teamsim.sim"),
        ("teamsim.cli._run", "teamsim.store", ("_urls",), "private names of another package"),
    ],
)
def test_the_checker_catches_each_kind_of_forbidden_arrow(
        module: str, target: str, names: tuple[str, ...], expected: str) -> None:
    imp = Import(module, ROOT / "x.py", 1, target, names, True)
    problems = forbidden_arrows([imp])
    assert len(problems) == 1, problems
    assert expected in problems[0]


def test_allowed_arrows_pass_the_checker() -> None:
    fine = [Import("teamsim.sim.simulation", ROOT / "x.py", 1, "teamsim.graph", ("Team",), True),
            Import("teamsim.store._store", ROOT / "x.py", 1, "teamsim.store._events", ("E",), True),
            Import("teamsim.cli", ROOT / "x.py", 1, "teamsim.runner", ("run",), True)]
    assert forbidden_arrows(fine) == []


def test_the_cycle_finder_finds_a_circle_but_not_a_package_importing_its_own_parts() -> None:
    a, b, pkg = "teamsim.model.a", "teamsim.model.b", "teamsim.model"
    circle = [Import(a, ROOT / "x.py", 1, "teamsim.model", ("b",), True),
              Import(b, ROOT / "x.py", 1, "teamsim.model.a", ("f",), True)]
    assert import_cycles(circle, {a, b, pkg}) == [[a, b, a]]
    typing_only = [circle[0], Import(b, ROOT / "x.py", 1, "teamsim.model.a", ("f",), False)]
    assert import_cycles(typing_only, {a, b, pkg}) == []
    own = [Import(pkg, ROOT / "x.py", 1, "teamsim.model.a", ("f",), True),
           Import(a, ROOT / "x.py", 1, "teamsim.model.b", ("g",), True)]
    assert import_cycles(own, {a, b, pkg}) == []
