"""`teamsim.__all__` is exactly the public surface, and every name in it is importable."""

from __future__ import annotations

import teamsim


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in dir(teamsim) if not name.startswith("_")}
    subpackages = {"agents", "assembly", "cli", "graph", "llm", "model", "notebook", "reports",
                   "runner", "scenario", "sim", "store", "web", "workspace"}
    assert set(teamsim.__all__) == public - subpackages


def test_every_exported_name_has_a_docstring() -> None:
    for name in teamsim.__all__:
        member = getattr(teamsim, name)
        assert (member.__doc__ or "").strip(), f"teamsim.{name} has no docstring"


def test_subpackages_export_explicit_lists() -> None:
    from teamsim import agents, graph, llm, model, sim, store

    for package in (agents, graph, llm, model, sim, store):
        assert len(package.__all__) == len(set(package.__all__)), package.__name__
        for name in package.__all__:
            assert hasattr(package, name), f"{package.__name__}.{name} is listed but missing"


def test_importing_the_package_imports_none_of_its_layers() -> None:
    import subprocess
    import sys

    code = ("import sys, teamsim\n"
            "print(sorted(m for m in sys.modules if m.startswith('teamsim.')"
            " or m.split('.')[0] in {'langgraph', 'scipy', 'simpy', 'sqlalchemy'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_a_public_name_resolves_on_first_use_and_unknown_names_fail() -> None:
    import pytest

    from teamsim.store import Store

    assert teamsim.Store is Store
    assert "Store" in vars(teamsim)  # cached after the first use
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = teamsim.nope  # type: ignore[attr-defined]
