"""A scenario's checks against a finished run: ``expect``, ``diagnose`` and ``compare``.

:func:`check_expectation_names` refuses unknown metrics and bad variant paths before anything
runs; after the run, :func:`evaluate_expectations` checks the metrics, :func:`check_diagnoses`
asks the troubleshooting checklist, and :func:`compare_variants` runs each ``compare:``
variant on the same seed and checks it. Every check is one :class:`ExpectationResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from teamsim.assembly import simulation
from teamsim.llm import MODEL_METRICS, model_metrics
from teamsim.model import ScenarioError
from teamsim.reports.diagnose import diagnose
from teamsim.scenario.schema import Expectation, Scenario, with_values
from teamsim.sim import METRICS
from teamsim.store import Store

__all__ = [
    "EXPECTABLE",
    "ExpectationResult",
    "VariantRunner",
    "check_diagnoses",
    "check_expectation_names",
    "compare_variants",
    "evaluate_expectations",
]


EXPECTABLE: Mapping[str, str] = {**METRICS, **MODEL_METRICS}
"""Every metric an expectation may name: the simulator's and the model metrics."""

VariantRunner = Callable[[Scenario], tuple[Mapping[str, Any], tuple[str, ...]]]
"""Runs a ``compare:`` variant on the run's seed and days: its metrics and broken invariants
(the runner's, which builds the variant's model-backed teammates too)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectationResult:
    """One expectation of a scenario checked against a run.

    Attributes:
        metric: what was checked: a metric's name (a key of :data:`teamsim.sim.METRICS`),
            ``VARIANT: metric`` or ``VARIANT: change in metric`` for a ``compare:`` variant,
            or ``diagnose SEQUENCE [CONTACT]`` for a troubleshooting answer.
        expected: the expectation in words, like ``between 40 and 60``.
        actual: the value in the run (the checklist's answer for ``diagnose``).
        passed: whether the value meets the expectation.
    """

    metric: str
    expected: str
    actual: float | str
    passed: bool


def check_expectation_names(scenario: Scenario, source: str | None = None) -> None:
    """Refuse expectations on metrics that do not exist, before anything runs.

    Raises:
        ScenarioError: one ``FILE: expect.NAME: ...`` line per unknown metric.
    """
    where = f"{source}: " if source else ""
    blocks = [("expect", scenario.expect)]
    for variant, comparison in scenario.compare.items():
        blocks += [(f"compare.{variant}.expect", comparison.expect),
                   (f"compare.{variant}.expect_change", comparison.expect_change)]
    problems = [
        f"{where}{block}.{name}: no metric {name!r}; use one of "
        f"{', '.join(sorted(EXPECTABLE))}"
        for block, expect in blocks for name in expect if name not in EXPECTABLE
    ]
    if problems:
        raise ScenarioError("\n".join(problems))
    for variant, comparison in scenario.compare.items():
        with_values(scenario, comparison.set, variant=f"{where}compare.{variant}")


def evaluate_expectations(
    scenario: Scenario, metrics: Mapping[str, Any]
) -> tuple[ExpectationResult, ...]:
    """Check the scenario's ``expect:`` against a run's metrics (a bare number means equals)."""
    return _evaluate(scenario.expect, metrics)


def _evaluate(
    expect: Mapping[str, Expectation | float], metrics: Mapping[str, Any], prefix: str = ""
) -> tuple[ExpectationResult, ...]:
    results = []
    for name, spec in expect.items():
        expectation = spec if isinstance(spec, Expectation) else Expectation(equals=spec)
        actual = float(metrics[name])
        results.append(ExpectationResult(metric=f"{prefix}{name}",
                                         expected=expectation.describe(), actual=actual,
                                         passed=expectation.check(actual)))
    return tuple(results)


def check_diagnoses(scenario: Scenario, store: Store) -> tuple[ExpectationResult, ...]:
    """Check the scenario's ``diagnose:`` answers against the troubleshooting checklist run on
    the finished run's store (at its last event)."""
    results = []
    with store.unit_of_work() as uow:
        for check in scenario.diagnose:
            answer = diagnose(uow, check.sequence, check.contact).answer.check.value
            what = f"diagnose {check.sequence}" + (f" {check.contact}" if check.contact else "")
            results.append(ExpectationResult(metric=what, expected=f"answer {check.answer}",
                                             actual=answer, passed=answer == check.answer))
    return tuple(results)


def compare_variants(
    scenario: Scenario, seed: int, days: float, metrics: Mapping[str, Any],
    run_variant: VariantRunner | None = None,
) -> tuple[tuple[ExpectationResult, ...], tuple[str, ...]]:
    """Run each ``compare:`` variant on the same seed and check its expectations.

    Args:
        scenario: the scenario that ran.
        seed: the seed it ran with (the variants share its random numbers).
        days: how many simulated days it ran.
        metrics: its metrics, the base of each ``expect_change``.
        run_variant: runs a variant (default: the template team, no models: the model
            metrics are 0).

    Returns:
        The checks (``VARIANT: metric`` on the variant's metrics, ``VARIANT: change in
        metric`` on the variant minus the scenario) and the variants' broken invariants.
    """
    results: list[ExpectationResult] = []
    violations: list[str] = []
    for name, comparison in scenario.compare.items():
        variant = with_values(scenario, comparison.set, variant=f"compare.{name}")
        if run_variant is not None:
            measured, broken = run_variant(variant)
        else:
            with Store.open("sqlite://") as store:
                outcome = simulation(variant, seed=seed, store=store, until_days=days).run(
                    check=False)
            measured, broken = {**outcome.metrics, **model_metrics({})}, outcome.violations
        results += _evaluate(comparison.expect, measured, f"{name}: ")
        change = {m: float(measured[m]) - float(metrics[m]) for m in comparison.expect_change}
        results += _evaluate(comparison.expect_change, change, f"{name}: change in ")
        violations += [f"{name}: {line}" for line in broken]
    return tuple(results), tuple(violations)
