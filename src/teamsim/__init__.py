"""teamsim: a deterministic simulator of AI teammates running outreach sequences.

The public surface, re-exported here:

- scenarios and runs: :func:`load_scenario` (a :class:`Scenario`), :func:`run` (one run,
  :class:`RunResult`), :func:`sweep` (variants x seeds, :class:`SweepResult`); the runs a
  database keeps: :func:`runs` (one :class:`RunRecord` each) and :func:`open_run`;
- the simulator itself: :class:`Simulation` over a :class:`World`, built with its team by
  :func:`simulation`;
- sequences as the product's toolbar: :class:`Workspace` over a :class:`Store`, and the domain
  model (:class:`Sequence`, :class:`Contact`, :class:`AutoApproveRule`...);
- plug points for researchers: :class:`Drafter` / :class:`Reviewer` protocols with
  :class:`FakeDrafter` / :class:`FakeReviewer`; chat models behind teammates, named by a
  :class:`ModelSpec` (a factory and its arguments) with their :class:`ModelSettings`;
- errors: :class:`TeamsimError` and its tree (:mod:`teamsim.model.errors`).

Names resolve lazily (PEP 562): ``import teamsim`` imports nothing else, and
``teamsim.run`` loads the runner (LangGraph, SciPy) only when first used.

The layers live in their own subpackages: ``teamsim.agents``, ``teamsim.graph``,
``teamsim.sim``, ``teamsim.store``; model specs in ``teamsim.llm``.
"""

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from teamsim.agents import (
        Draft,
        Drafter,
        DraftRequest,
        FakeDrafter,
        FakeReviewer,
        ModelSettings,
        Review,
        Reviewer,
        ReviewRequest,
        Verdict,
    )
    from teamsim.assembly import simulation
    from teamsim.llm import ModelSpec
    from teamsim.model import (
        ActivationError,
        AutoApproveRule,
        ConflictError,
        Contact,
        DuplicateEnrollmentError,
        Enrollment,
        EnrollmentStatus,
        InvariantError,
        NotFoundError,
        PipelineError,
        ScenarioError,
        SchemaVersionError,
        Sequence,
        SequenceStatus,
        StoreError,
        Teammate,
        TeamsimError,
        ValidationError,
    )
    from teamsim.runner import (
        ExpectationResult,
        RunRecord,
        RunResult,
        SweepResult,
        open_run,
        run,
        runs,
        sweep,
    )
    from teamsim.scenario import Scenario, load_scenario
    from teamsim.sim import Simulation, SimulationResult, World
    from teamsim.store import Store
    from teamsim.workspace import Workspace

__all__ = [
    "ActivationError",
    "AutoApproveRule",
    "ConflictError",
    "Contact",
    "Draft",
    "DraftRequest",
    "Drafter",
    "DuplicateEnrollmentError",
    "Enrollment",
    "EnrollmentStatus",
    "ExpectationResult",
    "FakeDrafter",
    "FakeReviewer",
    "InvariantError",
    "ModelSettings",
    "ModelSpec",
    "NotFoundError",
    "PipelineError",
    "Review",
    "ReviewRequest",
    "Reviewer",
    "RunRecord",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SchemaVersionError",
    "Sequence",
    "SequenceStatus",
    "Simulation",
    "SimulationResult",
    "Store",
    "StoreError",
    "SweepResult",
    "Teammate",
    "TeamsimError",
    "ValidationError",
    "Verdict",
    "Workspace",
    "World",
    "load_scenario",
    "open_run",
    "run",
    "runs",
    "simulation",
    "sweep",
]

_ORIGIN: dict[str, str] = {
    "ActivationError": "teamsim.model",
    "AutoApproveRule": "teamsim.model",
    "ConflictError": "teamsim.model",
    "Contact": "teamsim.model",
    "Draft": "teamsim.agents",
    "DraftRequest": "teamsim.agents",
    "Drafter": "teamsim.agents",
    "DuplicateEnrollmentError": "teamsim.model",
    "Enrollment": "teamsim.model",
    "EnrollmentStatus": "teamsim.model",
    "ExpectationResult": "teamsim.runner",
    "FakeDrafter": "teamsim.agents",
    "FakeReviewer": "teamsim.agents",
    "InvariantError": "teamsim.model",
    "ModelSettings": "teamsim.agents",
    "ModelSpec": "teamsim.llm",
    "NotFoundError": "teamsim.model",
    "PipelineError": "teamsim.model",
    "Review": "teamsim.agents",
    "ReviewRequest": "teamsim.agents",
    "Reviewer": "teamsim.agents",
    "RunRecord": "teamsim.runner",
    "RunResult": "teamsim.runner",
    "Scenario": "teamsim.scenario",
    "ScenarioError": "teamsim.model",
    "SchemaVersionError": "teamsim.model",
    "Sequence": "teamsim.model",
    "SequenceStatus": "teamsim.model",
    "Simulation": "teamsim.sim",
    "SimulationResult": "teamsim.sim",
    "Store": "teamsim.store",
    "StoreError": "teamsim.model",
    "SweepResult": "teamsim.runner",
    "Teammate": "teamsim.model",
    "TeamsimError": "teamsim.model",
    "ValidationError": "teamsim.model",
    "Verdict": "teamsim.agents",
    "Workspace": "teamsim.workspace",
    "World": "teamsim.sim",
    "load_scenario": "teamsim.scenario",
    "open_run": "teamsim.runner",
    "run": "teamsim.runner",
    "runs": "teamsim.runner",
    "simulation": "teamsim.assembly",
    "sweep": "teamsim.runner",
}
"""The module each public name lives in, imported when the name is first used."""


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use and cache the name here (PEP 562)."""
    try:
        module = _ORIGIN[name]
    except KeyError:
        raise AttributeError(f"module 'teamsim' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names and the subpackages imported so far, as ``dir(teamsim)`` shows them."""
    loaded = [name for name, value in globals().items()
              if isinstance(value, ModuleType) and value.__name__ == f"{__name__}.{name}"]
    dunder = [name for name in globals() if name.startswith("__")]
    return sorted({*__all__, *loaded, *dunder})
