"""teamsim.sim: the SimPy campaign simulator.

A :class:`Simulation` runs a :class:`World` (sequences, teammates, contacts and their personas,
the human approver, auto-approve rules and a timeline of actions) on one SimPy clock, records
everything in a store, checks the invariants and reports metrics.
"""

from teamsim.sim._checks import (
    INVARIANT_COUNTERS,
    METRICS,
    audit,
    check_invariants,
    compute_metrics,
)
from teamsim.sim._random import KeyedRandom
from teamsim.sim._rules import RulesEngine, rule_matches
from teamsim.sim._simulation import ProcessGenerator, Simulation, SimulationResult
from teamsim.sim.config import (
    ActivateAction,
    ApproverPolicy,
    ChatAction,
    Comparison,
    ContactSpec,
    Delay,
    DiagnosisCheck,
    DisableRuleAction,
    EditAction,
    EditOp,
    EnableRuleAction,
    EndAction,
    EnrollAction,
    Expectation,
    PauseAction,
    Persona,
    Population,
    ResumeAction,
    SimSettings,
    TeammateSpec,
    TimelineAction,
    World,
)

__all__ = [
    "INVARIANT_COUNTERS",
    "METRICS",
    "ActivateAction",
    "ApproverPolicy",
    "ChatAction",
    "Comparison",
    "ContactSpec",
    "Delay",
    "DiagnosisCheck",
    "DisableRuleAction",
    "EditAction",
    "EditOp",
    "EnableRuleAction",
    "EndAction",
    "EnrollAction",
    "Expectation",
    "KeyedRandom",
    "PauseAction",
    "Persona",
    "Population",
    "ProcessGenerator",
    "ResumeAction",
    "RulesEngine",
    "SimSettings",
    "Simulation",
    "SimulationResult",
    "TeammateSpec",
    "TimelineAction",
    "World",
    "audit",
    "check_invariants",
    "compute_metrics",
    "rule_matches",
]
