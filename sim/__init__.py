"""teamsim.sim: the SimPy campaign simulator.

A :class:`Simulation` runs a :class:`World` (sequences, teammates, contacts and their personas,
the human approver, auto-approve rules and a timeline of actions) on one SimPy clock, records
everything in a store, checks the invariants and reports metrics.
"""

from teamsim.model import public_home as _public_home
from teamsim.sim._actions import (
    ActivateAction,
    ChatAction,
    DisableRuleAction,
    EditAction,
    EditOp,
    EnableRuleAction,
    EndAction,
    EnrollAction,
    PauseAction,
    ResumeAction,
    TimelineAction,
)
from teamsim.sim._checks import (
    INVARIANT_COUNTERS,
    METRICS,
    audit,
    audit_and_measure,
    check_invariants,
    compute_metrics,
)
from teamsim.sim._human import (
    DecisionSource,
    HumanAction,
    HumanInput,
    ListDecisions,
    actions_for,
)
from teamsim.sim._random import KeyedRandom
from teamsim.sim._rules import RulesEngine, rule_matches
from teamsim.sim._simulation import (
    ProcessGenerator,
    Simulation,
    SimulationResult,
    TeamBuilder,
)
from teamsim.sim.world import (
    ApproverPolicy,
    ContactSpec,
    Delay,
    KnownContacts,
    Persona,
    Population,
    SimSettings,
    TeammateSpec,
    World,
)

__all__ = [
    "INVARIANT_COUNTERS",
    "METRICS",
    "ActivateAction",
    "ApproverPolicy",
    "ChatAction",
    "ContactSpec",
    "DecisionSource",
    "Delay",
    "DisableRuleAction",
    "EditAction",
    "EditOp",
    "EnableRuleAction",
    "EndAction",
    "EnrollAction",
    "HumanAction",
    "HumanInput",
    "KeyedRandom",
    "KnownContacts",
    "ListDecisions",
    "PauseAction",
    "Persona",
    "Population",
    "ProcessGenerator",
    "ResumeAction",
    "RulesEngine",
    "SimSettings",
    "Simulation",
    "SimulationResult",
    "TeamBuilder",
    "TeammateSpec",
    "TimelineAction",
    "World",
    "actions_for",
    "audit",
    "audit_and_measure",
    "check_invariants",
    "compute_metrics",
    "rule_matches",
]

_public_home(__name__, globals())
