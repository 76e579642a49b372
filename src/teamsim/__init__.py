"""teamsim: a deterministic simulator of AI teammates running outreach sequences.

The public surface, re-exported here:

- scenarios and runs: :func:`load_scenario`, :func:`run` (one run, :class:`RunResult`),
  :func:`sweep` (variants x seeds, :class:`SweepResult`);
- the simulator itself: :class:`Simulation` over a :class:`World`;
- sequences as the product's toolbar: :class:`Workspace` over a :class:`Store`, and the domain
  model (:class:`Sequence`, :class:`Contact`, :class:`AutoApproveRule`...);
- plug points for researchers: :class:`Drafter` / :class:`Reviewer` protocols with
  :class:`FakeDrafter` / :class:`FakeReviewer`;
- errors: :class:`TeamsimError` and its tree (:mod:`teamsim.errors`).

The layers live in their own subpackages: ``teamsim.agents``, ``teamsim.graph``,
``teamsim.sim``, ``teamsim.store``.
"""

from teamsim.agents import (
    Draft,
    Drafter,
    DraftRequest,
    FakeDrafter,
    FakeReviewer,
    Review,
    Reviewer,
    ReviewRequest,
    Verdict,
)
from teamsim.domain import (
    AutoApproveRule,
    Contact,
    Enrollment,
    EnrollmentStatus,
    Sequence,
    SequenceStatus,
    Teammate,
)
from teamsim.errors import (
    ActivationError,
    ConflictError,
    DuplicateEnrollmentError,
    InvariantError,
    NotFoundError,
    PipelineError,
    ScenarioError,
    SchemaVersionError,
    StoreError,
    TeamsimError,
    ValidationError,
)
from teamsim.runner import ExpectationResult, RunResult, SweepResult, run, sweep
from teamsim.scenario import load_scenario
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
    "NotFoundError",
    "PipelineError",
    "Review",
    "ReviewRequest",
    "Reviewer",
    "RunResult",
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
    "run",
    "sweep",
]
