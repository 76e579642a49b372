"""teamsim.scenario: the scenario file format, its loader and its checks.

A scenario file is a :class:`Scenario`: the :class:`~teamsim.sim.World` the simulator runs plus
``expect``, ``diagnose`` and ``compare`` and the teammates' drafter and reviewer settings.
:func:`load_scenario` reads one within fixed limits; :mod:`teamsim.scenario.expectations`
checks a finished run against it.
"""

from teamsim.model import public_home as _public_home
from teamsim.scenario._yaml import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, MAX_NUMBER_CHARS
from teamsim.scenario.expectations import (
    EXPECTABLE,
    ExpectationResult,
    VariantRunner,
    check_diagnoses,
    check_expectation_names,
    compare_variants,
    evaluate_expectations,
)
from teamsim.scenario.hashing import scenario_hash
from teamsim.scenario.loader import load_scenario, parse_scenario, scenario_schema
from teamsim.scenario.schema import (
    Comparison,
    DiagnosisCheck,
    Expectation,
    Scenario,
    ScenarioTeammate,
    check_size,
    contact_count,
    with_values,
)

__all__ = [
    "EXPECTABLE",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "MAX_NUMBER_CHARS",
    "Comparison",
    "DiagnosisCheck",
    "Expectation",
    "ExpectationResult",
    "Scenario",
    "ScenarioTeammate",
    "VariantRunner",
    "check_diagnoses",
    "check_expectation_names",
    "check_size",
    "compare_variants",
    "contact_count",
    "evaluate_expectations",
    "load_scenario",
    "parse_scenario",
    "scenario_hash",
    "scenario_schema",
    "with_values",
]

_public_home(__name__, globals())
