"""Scenario files: a :class:`~teamsim.scenario.Scenario` written as YAML.

A scenario file is one YAML mapping whose keys are the fields of
:class:`teamsim.scenario.Scenario` (``name``, ``description``, ``start``, ``timezone``, ``days``,
``seed``, ``settings``, ``teammates``, ``sequences``, ``personas``, ``contacts``,
``populations``, ``approver``, ``rules``, ``timeline``, ``expect``, ``diagnose``,
``compare``, ``llm``); unknown keys are errors. A teammate may name its chat model
(``model:``, see :class:`~teamsim.llm.ModelSpec`).
:func:`scenario_schema` gives its JSON Schema for editors.

Conveniences applied before validation, so files stay short:

- **Step ids may be omitted.** A step without ``id`` gets ``s1``, ``s2``, ... in document order,
  depth first (a branch, then its ``then_steps``, then its ``else_steps``), skipping any id
  already written in that sequence. Ids only need writing when something refers to them (an
  engagement condition's ``step_id``, a timeline edit).
- **Sequences are active.** A sequence without ``status`` is ``active``, not ``draft`` as in
  the workspace: a sequence shipped in a scenario is meant to run. Write ``status: draft`` or
  ``status: paused`` to hold it back (a timeline ``activate`` action can start it later).

Every problem is reported in one :class:`~teamsim.model.errors.ScenarioError` with one line per
problem, ``FILE: path: message``, where FILE is the path as the caller gave it::

    scenarios/x.yaml: sequences[0].steps[2].days: must be >= 0, got -1
    scenarios/x.yaml: timeline[0].sequence: no sequence 'Welcom'; use one of Welcome

A YAML syntax error is reported as ``FILE:LINE:COLUMN: invalid YAML: ...`` (1-based), a form
editors and terminals turn into a link.

The file is read and parsed within fixed limits (size, values after alias expansion, nesting,
number length, characters; see :mod:`teamsim.scenario._yaml`), so no file can crash or hang
the loader; a limit passed is reported like any other problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pydantic

from teamsim.model import ScenarioError, format_errors, shorten
from teamsim.scenario._yaml import load_yaml, read_text
from teamsim.scenario.schema import Scenario

__all__ = ["load_scenario", "parse_scenario", "scenario_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_STEP_ARMS = ("then_steps", "else_steps")
_STEP_DEFS = ("MessageStep", "WaitStep", "BranchStep")
_CONDITION_DEFS = ("AttributeCondition", "EngagementCondition")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate the scenario file at ``path``.

    Args:
        path: the file; errors name it exactly as given here.

    Returns:
        The validated scenario; its ``llm.cassette``, written relative to the file, is made
        absolute (a run from another folder, or a sweep's workers, find the same file).

    Raises:
        ScenarioError: the file is missing, unreadable, not YAML or not a valid scenario; the
            message has one ``FILE: path: message`` line per problem.
    """
    source = str(path)
    scenario = parse_scenario(read_text(path, source), source)
    cassette = scenario.llm.cassette
    if cassette is not None and not os.path.isabs(cassette):
        located = os.path.abspath(os.path.join(os.path.dirname(source), cassette))
        scenario = scenario.model_copy(
            update={"llm": scenario.llm.model_copy(update={"cassette": located})})
    return scenario


def parse_scenario(text: str, source: str) -> Scenario:
    """Validate the scenario written in ``text``.

    Args:
        text: the YAML text of a scenario file.
        source: what to call it in error messages (usually the file's path).

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: ``text`` is not YAML or not a valid scenario.
    """
    data = load_yaml(text, source)
    if data is None:
        raise ScenarioError(f"{source}: the file is empty; a scenario needs at least `name:`")
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{source}: the top level must be a mapping of fields (name:, sequences:, ...), "
            f"got {_kind(data)}"
        )
    data = _with_defaults(data)
    try:
        return Scenario.model_validate(data)
    except pydantic.ValidationError as err:
        raise ScenarioError(format_errors(err, source, data=data, model=Scenario)) from None


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file, for editors.

    It is :class:`~teamsim.scenario.Scenario`'s schema adjusted to the file's conveniences: step
    ids are optional and a sequence's status defaults to ``active``. Every step and condition
    names its ``kind`` and every timeline action its ``action``, as the loader requires.
    """
    body = Scenario.model_json_schema(mode="validation")
    defs: dict[str, Any] = body.get("$defs", {})
    for name in _STEP_DEFS:
        spec = defs[name]
        required = [f for f in spec.get("required", []) if f != "id"]
        spec["required"] = sorted({*required, "kind"})
        spec["properties"]["id"]["description"] = (
            "Step id; omitted ids are assigned s1, s2... in document order.")
    for name in _CONDITION_DEFS:
        spec = defs[name]
        spec["required"] = sorted({*spec.get("required", []), "kind"})
    defs["Sequence"]["properties"]["status"]["default"] = "active"
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "teamsim scenario",
        **{k: v for k, v in body.items() if k not in {"title", "$id"}},
    }


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {shorten(value, 40)}"
    return f"{type(value).__name__} {shorten(value, 60)}"


def _with_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the file's conveniences applied (see the module docstring)."""
    data = _unshared(data)
    sequences = data.get("sequences")
    if not isinstance(sequences, list):
        return data
    for seq in sequences:
        if not isinstance(seq, dict):
            continue
        seq.setdefault("status", "active")
        steps = seq.get("steps")
        if isinstance(steps, list):
            _assign_ids(steps)
    return data


def _unshared(value: Any) -> Any:
    """A copy of ``value`` in which no mapping or list appears twice.

    A YAML alias makes the loader share one object between places; a step written once and
    used twice (``- *hello``) must still get two ids. The loader has bounded the size and depth,
    so the copy and the recursion are bounded too.
    """
    if isinstance(value, dict):
        return {key: _unshared(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unshared(item) for item in value]
    return value


def _step_dicts(steps: list[Any]) -> list[dict[str, Any]]:
    """Every step mapping in ``steps``, depth first in document order."""
    found: list[dict[str, Any]] = []
    for step in steps:
        if not isinstance(step, dict):
            continue
        found.append(step)
        for arm in _STEP_ARMS:
            if isinstance(step.get(arm), list):
                found.extend(_step_dicts(step[arm]))
    return found


def _assign_ids(steps: list[Any]) -> None:
    every = _step_dicts(steps)
    used = {str(step["id"]) for step in every if step.get("id") is not None}
    number = 0
    for step in every:
        if step.get("id") is not None:
            continue
        number += 1
        while f"s{number}" in used:
            number += 1
        step["id"] = f"s{number}"
        used.add(step["id"])
