"""Structure a newcomer can see: small modules, public objects that name their public home."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("agents", "graph", "sim", "store", "src")
MAX_LINES = 600

# Every package with a public surface (``__all__``).
PACKAGES = ("teamsim", "teamsim.model", "teamsim.store", "teamsim.agents", "teamsim.graph",
            "teamsim.sim", "teamsim.scenario", "teamsim.runner", "teamsim.reports",
            "teamsim.notebook")


def test_no_module_is_over_600_lines() -> None:
    long = sorted(
        (len(path.read_text(encoding="utf-8").splitlines()), str(path.relative_to(ROOT)))
        for folder in FOLDERS for path in (ROOT / folder).rglob("*.py"))
    over = [f"{name}: {lines} lines" for lines, name in long if lines > MAX_LINES]
    assert not over, "split these modules:\n" + "\n".join(over)


@pytest.mark.parametrize("package", PACKAGES)
def test_public_objects_report_a_public_module(package: str) -> None:
    """``teamsim.Simulation.__module__`` names where users import it from, not a private file
    (as httpx does): tracebacks, reprs and the docs then show the public path."""
    module = importlib.import_module(package)
    private = []
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        home = obj.__module__
        if any(part.startswith("_") for part in home.split(".")):
            private.append(f"{package}.{name}: {home}")
            continue
        # the module it names must really hold it under that name (pickling relies on it)
        assert getattr(importlib.import_module(home), obj.__qualname__, None) is obj, \
            f"{package}.{name} says it lives in {home}, which does not export it"
    assert not private, "public objects that name a private module:\n" + "\n".join(private)


@pytest.mark.parametrize("package", PACKAGES)
def test_type_hints_of_public_classes_still_resolve(package: str) -> None:
    """Renaming ``__module__`` must not break ``typing.get_type_hints`` (which looks names up
    in the module ``__module__`` names): the annotations are resolved where they were
    written first."""
    import typing

    module = importlib.import_module(package)
    broken = []
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj):
            try:
                typing.get_type_hints(obj)
            except NameError as exc:
                broken.append(f"{package}.{name}: {exc}")
    assert not broken, "\n".join(broken)
