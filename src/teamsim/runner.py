"""Run scenarios and sweeps: the engine behind ``teamsim run``, ``test`` and ``sweep``.

:func:`run` runs one scenario with one seed and, given ``out``, leaves a *run directory*::

    events.jsonl   one event a line, canonical JSON (what the digest is computed from)
    metrics.json   every metric at the top level, plus ``expectations`` (one object per
                   expectation: metric, expected, actual, passed) and ``violations`` (broken
                   invariants, one line each); sorted keys, indent 2
    digest.txt     the SHA-256 of the events, hex, and a newline
    store.db       the run's SQLite store (absent when the run went to ``db=``)
    run.json       scenario name, source, seed, until_days, start/end (UTC), digest, teamsim
                   version and the database URL (password masked) when it was not store.db

The directory is written under a temporary sibling name and renamed into place at the end, so
invalid input or a crash leaves nothing half-written. An existing folder is replaced only if it
is provably an earlier run (its run.json validates, it holds only these files) and ``force``
is given, and only once the new one is complete (see :mod:`teamsim._runfolder`). A run
whose expectations fail is still a completed run: it is written, and :attr:`RunResult.passed`
is false.

:func:`sweep` runs every variant x seed in worker processes, streams one CSV row per finished
run (variant, seed, digest, each metric), then reads the file back for the per-variant means
with 95% confidence intervals and, for each variant against the first, the paired difference
over common seeds (common random numbers) beside the unpaired (Welch) one.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Sequence as SequenceOf
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import metadata
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any

import pydantic
import yaml
from scipy import stats

from teamsim import _runfolder
from teamsim.model import (
    DatabaseError,
    ScenarioError,
    TeamsimError,
    ValidationError,
    format_errors,
    shorten,
)
from teamsim.reports import preview_world_rules
from teamsim.reports.diagnose import diagnose
from teamsim.scenario import load_scenario
from teamsim.sim import (
    METRICS,
    Expectation,
    Simulation,
    SimulationResult,
    World,
)
from teamsim.sim.config import check_size
from teamsim.store import EventRecord, Store
from teamsim.store._urls import mask_url, parse_url

__all__ = [
    "DEFAULT_SWEEP_METRICS",
    "MAX_SWEEP_RUNS",
    "RUN_FILES",
    "Comparison",
    "Estimate",
    "ExpectationResult",
    "RunInfo",
    "RunResult",
    "StepFunnel",
    "SweepInterrupted",
    "SweepResult",
    "check_expectation_names",
    "default_out_dir",
    "evaluate_expectations",
    "mean_interval",
    "parse_seeds",
    "parse_sets",
    "read_run_info",
    "run",
    "step_funnel",
    "summarize",
    "sweep",
    "welch_interval",
    "with_values",
]

DEFAULT_SWEEP_METRICS: tuple[str, ...] = (
    "sent", "replies", "reply_rate", "approvals_human", "human_minutes",
    "approval_latency_hours_p50",
)
"""The metrics a sweep reports when none are chosen."""

RUN_FILES = ("events.jsonl", "metrics.json", "digest.txt", "run.json")
"""What every run directory holds (``store.db`` too, unless the run went to another database)."""
_CONFIDENCE = 0.95

ScenarioInput = World | str | Path
"""A scenario: a validated world, or the path of a scenario file."""


# ---------------------------------------------------------------------------------------------
# results


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


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """One completed run.

    Attributes:
        world: the world that ran.
        seed: the seed it ran with.
        until_days: how many simulated days it ran.
        metrics: every metric (see :data:`teamsim.sim.METRICS`).
        expectations: the scenario's expectations, checked, in file order.
        violations: broken invariants, one line each (empty in a correct run).
        digest: SHA-256 of the canonical event lines; equal for equal world and seed.
        events: the event log in canonical order.
        store: the run's store, open (``store.db`` of the run directory, the ``db`` given, or
            an in-memory database); close it, or the result, when done.
        out_dir: the run directory, or ``None`` when none was written.
    """

    world: World
    seed: int
    until_days: float
    metrics: dict[str, Any]
    expectations: tuple[ExpectationResult, ...]
    violations: tuple[str, ...]
    digest: str
    events: tuple[EventRecord, ...]
    store: Store
    out_dir: Path | None

    @property
    def passed(self) -> bool:
        """Every expectation met and no invariant broken."""
        return not self.violations and all(e.passed for e in self.expectations)

    def close(self) -> None:
        """Close the run's store."""
        self.store.close()


class RunInfo(pydantic.BaseModel):
    """``run.json``: what identifies a run directory."""

    model_config = pydantic.ConfigDict(extra="forbid")
    scenario: str
    source: str | None
    seed: int
    until_days: float
    start: datetime
    end: datetime
    digest: str
    events: int
    teamsim_version: str
    db: str | None


# ---------------------------------------------------------------------------------------------
# expectations


def check_expectation_names(world: World, source: str | None = None) -> None:
    """Refuse expectations on metrics that do not exist, before anything runs.

    Raises:
        ScenarioError: one ``FILE: expect.NAME: ...`` line per unknown metric.
    """
    where = f"{source}: " if source else ""
    blocks = [("expect", world.expect)]
    for variant, comparison in world.compare.items():
        blocks += [(f"compare.{variant}.expect", comparison.expect),
                   (f"compare.{variant}.expect_change", comparison.expect_change)]
    problems = [
        f"{where}{block}.{name}: no metric {name!r}; use one of {', '.join(sorted(METRICS))}"
        for block, expect in blocks for name in expect if name not in METRICS
    ]
    if problems:
        raise ScenarioError("\n".join(problems))
    for variant, comparison in world.compare.items():
        with_values(world, comparison.set, variant=f"{where}compare.{variant}")


def evaluate_expectations(
    world: World, metrics: Mapping[str, Any]
) -> tuple[ExpectationResult, ...]:
    """Check the world's ``expect:`` against a run's metrics (a bare number means equals)."""
    return _evaluate(world.expect, metrics)


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


def check_diagnoses(world: World, store: Store) -> tuple[ExpectationResult, ...]:
    """Check the world's ``diagnose:`` answers against the troubleshooting checklist run on
    the finished run's store (at its last event)."""
    results = []
    with store.unit_of_work() as uow:
        for check in world.diagnose:
            answer = diagnose(uow, check.sequence, check.contact).answer.check.value
            what = f"diagnose {check.sequence}" + (f" {check.contact}" if check.contact else "")
            results.append(ExpectationResult(metric=what, expected=f"answer {check.answer}",
                                             actual=answer, passed=answer == check.answer))
    return tuple(results)


def compare_variants(
    world: World, seed: int, days: float, metrics: Mapping[str, Any]
) -> tuple[tuple[ExpectationResult, ...], tuple[str, ...]]:
    """Run each ``compare:`` variant on the same seed and check its expectations.

    Returns:
        The checks (``VARIANT: metric`` on the variant's metrics, ``VARIANT: change in
        metric`` on the variant minus the scenario) and the variants' broken invariants.
    """
    results: list[ExpectationResult] = []
    violations: list[str] = []
    for name, comparison in world.compare.items():
        variant = with_values(world, comparison.set, variant=f"compare.{name}")
        with Store.open("sqlite://") as store:
            outcome = Simulation(variant, seed=seed, store=store, until_days=days).run(
                check=False)
        results += _evaluate(comparison.expect, outcome.metrics, f"{name}: ")
        change = {m: float(outcome.metrics[m]) - float(metrics[m])
                  for m in comparison.expect_change}
        results += _evaluate(comparison.expect_change, change, f"{name}: change in ")
        violations += [f"{name}: {line}" for line in outcome.violations]
    return tuple(results), tuple(violations)


# ---------------------------------------------------------------------------------------------
# one run


def _load(scenario: ScenarioInput) -> tuple[World, str | None]:
    if isinstance(scenario, World):
        return scenario, None
    if isinstance(scenario, str | os.PathLike):
        return load_scenario(scenario), os.fspath(scenario)
    raise TypeError(f"scenario must be a World or a path, got {type(scenario).__name__}")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "scenario"


def default_out_dir(scenario: ScenarioInput, seed: int) -> Path:
    """Where ``teamsim run`` writes by default: ``runs/<file stem>-seed<N>``.

    A world without a file is named by a slug of its name.
    """
    stem = _slug(scenario.name) if isinstance(scenario, World) else Path(scenario).stem
    return Path("runs") / f"{stem}-seed{seed}"


def run(
    scenario: ScenarioInput,
    *,
    seed: int | None = None,
    until_days: float | None = None,
    out: str | Path | None = None,
    db: str | None = None,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    allow_large: bool = False,
    source: str | None = None,
) -> RunResult:
    """Run a scenario once.

    Args:
        scenario: a validated world or the path of a scenario file.
        seed: the seed (default: the scenario's ``seed``).
        until_days: stop after this many simulated days (default: the scenario's ``days``).
        out: write a run directory here (see the module docstring); ``None`` writes nothing.
            A folder that is there already is replaced only if it is an earlier teamsim run
            folder (its run.json validates and it holds only teamsim's files) and ``force``.
        db: record the run in this database (a SQLite path or SQLAlchemy URL) instead of
            ``store.db`` or memory. The run is one transaction: a run that fails or is
            killed leaves the database as it was.
        force: replace an earlier run folder at ``out``.
        progress: called with the simulated day number as each day ends.
        allow_large: run a world of more than 100,000 contacts (refused otherwise).
        source: the file a world given as ``scenario`` was loaded from (named in errors and
            in run.json; a path given as ``scenario`` names itself).

    Returns:
        The completed run; failed expectations and broken invariants are reported in it, not
        raised. Its store is open (read-only when it is the run folder's ``store.db``).

    Raises:
        ScenarioError: the file is invalid, or an expectation names an unknown metric.
        TeamsimError: the output directory or the database cannot be used or written.
        ValueError: ``until_days`` is not positive.
    """
    world, loaded_from = _load(scenario)
    source = loaded_from if loaded_from is not None else source
    check_expectation_names(world, source)
    check_size(world, allow_large, source)
    if until_days is not None and until_days <= 0:
        raise ValueError(f"until_days must be > 0, got {until_days}")
    seed = world.seed if seed is None else seed
    days = world.days if until_days is None else until_days
    target = None if out is None else Path(out)
    if target is not None:
        _runfolder.check_target(target, RUN_FOLDER, force=force)
    created = _new_sqlite_file(db)
    staging: Path | None = None
    recording = False  # the --db store is open: its failures are the run's
    store: Store | None = None
    finished = False
    try:
        if db is not None:
            store = Store.open(db)
            recording = True
        staging = None if target is None else _runfolder.make_staging(target, RUN_FOLDER)
        if store is None:
            # Simulating straight into store.db measured as fast as simulating in memory and
            # copying with SQLite's backup API (200 contacts x 14 days: 2.8-4.2 s against
            # 2.7-6.1 s, on a busy 2-CPU machine), and needs no raw DB-API connection.
            store = Store.open(staging / "store.db" if staging is not None else "sqlite://")
        # --db: the whole run is one transaction (see _one_transaction), and the folder is put
        # in place inside it, so a folder that cannot be put in place (a file that appeared in
        # --out during the run, EXDEV, EBUSY) rolls the run back; and a commit that fails
        # takes the folder out again (the earlier one put back).
        with contextlib.ExitStack() as folder, _one_transaction(store, db is not None):
            outcome = _simulate(world, source, seed, days, store, db, staging, progress)
            if db is not None and target is not None and staging is not None:
                folder.enter_context(
                    _runfolder.placed(staging, target, RUN_FOLDER, force=force))
        if db is not None:
            staging = None  # in place, or never made
        result, expectations, violations = outcome
        if target is not None and staging is not None:
            # SQLite's -wal/-shm files are found by path: close before the rename; and seal
            # the file so read-only readers leave nothing beside it.
            store.close()
            Store.seal(staging / "store.db")
            _runfolder.put_in_place(staging, target, RUN_FOLDER, force=force)
            staging = None
            store = Store.open(target / "store.db", read_only=True)
        created = None
        finished = True
    except DatabaseError as exc:
        if recording and db is not None:
            raise TeamsimError(f"{mask_url(db)}: cannot record the run: {exc.reason}") from None
        if target is not None and db is None:
            raise TeamsimError(f"{target}: cannot write the run: {exc.reason}") from None
        raise
    except OSError as exc:
        if target is None:
            raise
        raise TeamsimError(
            f"{target}: cannot write the run: {exc.strerror or exc}") from None
    finally:
        if store is not None and not finished:
            store.close()  # closed before its file is removed
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if created is not None:
            # The database file was made for this run, which did not finish: remove it,
            # unless another process has committed into it meanwhile.
            Store.remove_if_unused(created)
    return RunResult(world=world, seed=seed, until_days=days, metrics=result.metrics,
                     expectations=expectations, violations=violations,
                     digest=result.digest, events=result.events, store=store, out_dir=target)


@contextlib.contextmanager
def _one_transaction(store: Store, wanted: bool) -> Iterator[None]:
    """A ``--db`` run as one transaction: a run that fails (a template error) or is killed
    leaves the database as it was, and a refusal (a second run into the same database) comes
    before anything is committed.

    Measured against the alternative, simulating into a private SQLite file and copying the
    rows into the target in one transaction at the end (welcome-renovation-leads, 21 days,
    2,670 rows, on this project's busy 2-CPU machine): the run itself took 3.2-5.4 s in one
    transaction against 6.0-6.9 s with daily commits on a SQLite file, and 4.8-5.7 s against
    5.5-7.8 s on PostgreSQL, while the copy would add 1.3 s (into SQLite) or 0.6 s (into
    PostgreSQL) on top and needs a table-by-table copy across backends. The price of the one
    transaction is that the database's write lock (SQLite) is held for the whole run, which
    the store's one-writer rule asks for anyway.
    """
    if not wanted:
        yield
        return
    with store.single_transaction():
        yield


def _new_sqlite_file(db: str | None) -> Path | None:
    """The SQLite file ``db`` names, created empty here, when it did not exist yet."""
    if db is None:
        return None
    try:
        url = parse_url(db)
    except TeamsimError:
        return None
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" \
            or url.query.get("mode") == "memory":
        return None
    path = Path(database).expanduser()
    # Claim the file: only the process whose exclusive create succeeds made it (two runs
    # started at once with the same new --db cannot both think so). SQLite takes the empty
    # file as a new database.
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except OSError:
        return None  # there already, or its folder is missing: Store.open says why
    return path


def _simulate(
    world: World, source: str | None, seed: int, days: float, store: Store, db: str | None,
    staging: Path | None, progress: Callable[[int], None] | None,
) -> tuple[SimulationResult, tuple[ExpectationResult, ...], tuple[str, ...]]:
    """Simulate, check, and write the run's files into ``staging`` (if any)."""
    reported: list[int] = []

    def report(day: int) -> None:
        reported.append(day)
        if progress is not None:
            progress(day)

    sim = Simulation(world, seed=seed, store=store, until_days=days, progress=report)
    try:
        result = sim.run(check=False)
    except ScenarioError:
        raise
    except ValidationError as err:
        # A scenario's template that fails at run time (divide by zero, too much output):
        # the error names the teammate, sequence and step; the file is named here.
        if source is None:
            raise
        raise ScenarioError(f"{source}: {err}") from None
    last = math.ceil(days)
    if progress is not None and (not reported or reported[-1] < last):
        # SimPy stops before the events of the last minute: the last day is not
        # reported by the simulation itself.
        progress(last)
    expectations = (evaluate_expectations(world, result.metrics)
                    + check_diagnoses(world, store))
    compared, variant_violations = compare_variants(world, seed, days, result.metrics)
    expectations += compared
    violations = result.violations + variant_violations
    if staging is not None:
        info = RunInfo(
            scenario=world.name, source=source, seed=seed, until_days=days,
            start=world.start_utc, end=world.start_utc + timedelta(minutes=sim.until),
            digest=result.digest, events=len(result.events),
            teamsim_version=_version(), db=None if db is None else store.url)
        _write_run(staging, info, result.event_lines(), result.metrics, expectations,
                   violations, _previews(store, world))
    return result, expectations, violations


def _version() -> str:
    try:
        return metadata.version("teamsim")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


class _SweepSummary(pydantic.BaseModel):
    """``summary.json`` of a sweep folder, checked before the folder may be replaced."""

    model_config = pydantic.ConfigDict(extra="forbid")
    scenario: str
    source: str | None
    seeds: list[int]
    teamsim_version: str
    confidence: float
    variants: list[dict[str, Any]]
    comparisons: list[dict[str, Any]]


def _validates(model: type[pydantic.BaseModel]) -> Callable[[Path], bool]:
    """A check that a file holds JSON ``model`` accepts (a folder's marker file)."""

    def valid(path: Path) -> bool:
        try:
            model.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return True

    return valid


RUN_FOLDER = _runfolder.FolderKind(
    what="run", marker="run.json", is_valid=_validates(RunInfo),
    files=frozenset({*RUN_FILES, "previews.json", "store.db", "store.db-wal", "store.db-shm",
                     "store.db-journal"}))
SWEEP_FOLDER = _runfolder.FolderKind(
    what="sweep", marker="summary.json", is_valid=_validates(_SweepSummary),
    files=frozenset({"sweep.csv", "summary.json"}))


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _previews(store: Store, world: World) -> dict[str, Any]:
    """Each rule's preview over the whole run, as counts (``previews.json``)."""
    return {
        name: {"enabled": p.rule.enabled, "reached_gate": p.reached_gate,
               "matched": p.matched, "would_approve": p.would_approve, "capped": p.capped,
               "waiting": len(p.waiting), "total_left": p.total_left,
               "per_day": {day.isoformat(): n for day, n in sorted(p.per_day.items())}}
        for name, p in preview_world_rules(store, world).items()
    }


def _write_run(
    folder: Path, info: RunInfo, lines: Iterable[str], metrics: Mapping[str, Any],
    expectations: Iterable[ExpectationResult], violations: Iterable[str],
    previews: Mapping[str, Any],
) -> None:
    with (folder / "events.jsonl").open("w", encoding="utf-8", newline="\n") as stream:
        for line in lines:
            stream.write(line + "\n")
    body = {**metrics,
            "expectations": [{"metric": e.metric, "expected": e.expected, "actual": e.actual,
                              "passed": e.passed} for e in expectations],
            "violations": list(violations)}
    (folder / "metrics.json").write_text(_json(body), encoding="utf-8")
    (folder / "digest.txt").write_text(info.digest + "\n", encoding="utf-8")
    (folder / "previews.json").write_text(_json(previews), encoding="utf-8")
    (folder / "run.json").write_text(_json(info.model_dump(mode="json")), encoding="utf-8")


def read_run_info(run_dir: str | Path) -> RunInfo:
    """Read a run directory's ``run.json``.

    Raises:
        TeamsimError: ``run_dir`` is not a run directory, or its run.json is damaged.
    """
    path = Path(run_dir) / "run.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise TeamsimError(f"{run_dir}: not a teamsim run directory (no run.json); run "
                           "`teamsim run` first") from None
    try:
        return RunInfo.model_validate_json(text)
    except pydantic.ValidationError as err:
        raise TeamsimError(format_errors(err, str(path)) + "\n" +
                           f"{path}: damaged; run `teamsim run` again") from None


# ---------------------------------------------------------------------------------------------
# the funnel per step


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFunnel:
    """How far one message step's work got: due, drafted, approved, sent, and the reactions.

    ``drafted`` counts tasks (a redraft is not a second one); ``approved_human`` and
    ``approved_rule`` split approvals (edits included) by who gave them.
    """

    sequence: str
    step_id: str
    label: str
    channel: str
    due: int
    drafted: int
    approved_human: int
    approved_rule: int
    sent: int
    opened: int
    clicked: int
    replied: int


def step_funnel(events: Iterable[EventRecord], world: World) -> list[StepFunnel]:
    """The funnel per message step, read off the events, in the world's step order.

    The rule column counts rule approvals that stood: one recalled when its rule was disabled
    (its message cancelled before it went out) is taken back, and the step's redraft counts
    again under due and drafted.
    """
    names: dict[int | None, str] = {}
    task_step: dict[int, tuple[str, str]] = {}
    message_step: dict[int, tuple[str, str]] = {}
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for ev in events:
        p = ev.payload
        key = (names.get(ev.sequence_id, ""), str(p.get("step_id")))
        if ev.type == "sequence.created":
            names[ev.sequence_id] = p["name"]
        elif ev.type == "step.due":
            counts[key]["due"] += 1
        elif ev.type == "task.started" and p.get("step_id") is not None \
                and ev.task_id is not None:
            task_step[ev.task_id] = key
            counts[key]["drafted"] += 1
        elif ev.type == "decision.made" and p.get("action") in ("approve", "edit"):
            step = task_step.get(ev.task_id or 0)
            if step is not None:
                counts[step]["approved_rule" if p.get("by") == "rule" else "approved_human"] += 1
        elif ev.type == "message.cancelled" and p.get("recalled_rule_id") is not None:
            step = task_step.get(ev.task_id or 0)
            if step is not None:  # a disabled rule's approval recalled: not the rule's send
                counts[step]["approved_rule"] -= 1
        elif ev.type == "message.sent" and p.get("step_id") is not None:
            message_step[p["message_id"]] = key
            counts[key]["sent"] += 1
        elif ev.type in ("message.opened", "message.clicked") and p.get("step_id") is not None:
            counts[key][ev.type.removeprefix("message.")] += 1
        elif ev.type == "reply.received" and p.get("kind") == "reply":
            step = message_step.get(p.get("message_id") or 0)
            if step is not None:
                counts[step]["replied"] += 1
    rows: list[StepFunnel] = []
    known: set[tuple[str, str]] = set()
    for seq in world.sequences:
        for message in seq.message_steps():
            known.add((seq.name, message.id))
            rows.append(_funnel_row(seq.name, message.id, message.label, message.channel,
                                    counts.get((seq.name, message.id), Counter())))
    for key in sorted(set(counts) - known):  # steps added by a timeline edit
        rows.append(_funnel_row(key[0], key[1], "", "", counts[key]))
    return rows


def _funnel_row(sequence: str, step_id: str, label: str, channel: str,
                count: Counter[str]) -> StepFunnel:
    return StepFunnel(sequence=sequence, step_id=step_id, label=label, channel=channel,
                      due=count["due"], drafted=count["drafted"],
                      approved_human=count["approved_human"],
                      approved_rule=count["approved_rule"], sent=count["sent"],
                      opened=count["opened"], clicked=count["clicked"],
                      replied=count["replied"])


# ---------------------------------------------------------------------------------------------
# sweeps: variants and seeds


MAX_SWEEP_RUNS = 100_000
"""The most runs (seeds x variants) one sweep takes; more is refused before anything runs."""


def _too_many(what: str, count: int) -> ValidationError:
    return ValidationError(
        f"{what}: {count:,} runs; a sweep takes at most {MAX_SWEEP_RUNS:,} (seeds x variants), "
        "so split it into several sweeps")


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds written as ``A:B`` (half-open, ``0:100`` is 0..99) or ``1,5,9``.

    A range is measured before it is expanded: more than :data:`MAX_SWEEP_RUNS` seeds are
    refused without building them.

    Raises:
        ValidationError: the text is neither, or holds more than :data:`MAX_SWEEP_RUNS` seeds.
    """
    text = text.strip()
    shown = repr(text) if len(text) <= 40 else repr(text[:40]) + "..."
    malformed = ValidationError(
        f"--seeds {shown}: write a range A:B (0:100 is seeds 0 to 99) or a list 1,5,9")
    if ":" in text:
        first, _, last = text.partition(":")
        try:
            low, high = int(first), int(last)
        except ValueError:
            raise malformed from None
        if high - low > MAX_SWEEP_RUNS:
            raise _too_many(f"--seeds {shown}", high - low)
        seeds = tuple(range(low, high))
    else:
        parts = [part for part in text.split(",") if part.strip()]
        if len(parts) > MAX_SWEEP_RUNS:
            raise _too_many(f"--seeds {shown}", len(parts))
        try:
            seeds = tuple(int(part) for part in parts)
        except ValueError:
            raise malformed from None
    if not seeds:
        raise ValidationError(f"--seeds {shown}: no seeds in it; 0:20 runs seeds 0 to 19")
    if len(set(seeds)) != len(seeds):
        raise ValidationError(f"--seeds {shown}: a seed is written twice")
    return seeds


def parse_sets(items: SequenceOf[str]) -> dict[str, dict[str, Any]]:
    """The variants of ``--set path=v1,v2`` options: the cartesian product of their values.

    Values are read as YAML scalars (``0.8``, ``true``, ``email``). A variant is named by its
    settings, like ``approver.approve=0.8 sequences.0.steps.2.days=3``. No options: one
    variant, ``base``, that changes nothing. The number of variants is computed before the
    product is built: more than :data:`MAX_SWEEP_RUNS` are refused.

    Raises:
        ValidationError: an option is not ``path=value[,value...]``, or the options make more
            than :data:`MAX_SWEEP_RUNS` variants.
    """
    split: list[tuple[str, str, list[str]]] = []
    for item in items:
        path, sep, values = item.partition("=")
        path = path.strip()
        texts = [v.strip() for v in values.split(",")]
        if not sep or not path or not all(texts):
            raise ValidationError(
                f"--set {item[:80]!r}: write it as path=value[,value...], like "
                "approver.approve=0.8,0.9")
        split.append((item, path, texts))
    count = math.prod(len(texts) for _, _, texts in split)
    if count > MAX_SWEEP_RUNS:
        raise _too_many("--set", count)
    axes: list[list[tuple[str, str, Any]]] = []
    for _, path, texts in split:
        axis = []
        for text in texts:
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError:
                value = text
            axis.append((path, text, value))
        axes.append(axis)
    if not axes:
        return {"base": {}}
    variants: dict[str, dict[str, Any]] = {}
    for combo in itertools.product(*axes):
        name = " ".join(f"{path}={text}" for path, text, _ in combo)
        variants[name] = {path: value for path, _, value in combo}
    return variants


def with_values(world: World, values: Mapping[str, Any], *, variant: str = "") -> World:
    """``world`` with each dotted path (list indices as numbers) set to its value.

    ``approver.approve`` and ``sequences.0.steps.2.days`` are paths. The result is validated
    as a whole.

    Raises:
        ScenarioError: a path leads nowhere, or the changed world is not valid.
    """
    data = world.model_dump(mode="json")
    where = f"variant {variant!r}" if variant else "variant"
    for path, value in values.items():
        _set_path(data, path, value, where)
    try:
        return World.model_validate(data)
    except pydantic.ValidationError as err:
        raise ScenarioError(format_errors(err, where, data=data, model=World)) from None


def _set_path(data: dict[str, Any], path: str, value: Any, where: str) -> None:
    parts = path.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth]) or "the scenario"
        last = depth == len(parts) - 1
        if isinstance(node, dict):
            if part not in node and not last:
                raise ScenarioError(f"{where}: {path}: {here} has no {part!r}; use one of "
                                    f"{', '.join(sorted(map(str, node))) or '(nothing)'}")
            if last:
                node[part] = value
            else:
                node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(f"{where}: {path}: {here} is a list of {len(node)}; "
                                    f"use an index from 0 to {len(node) - 1}")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        else:
            raise ScenarioError(f"{where}: {path}: {here} is a value ({shorten(node)}), "
                                f"it has no {part!r}")


# ---------------------------------------------------------------------------------------------
# sweeps: estimates


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """A mean with its 95% confidence interval (Student t); the interval is NaN below 2 runs.

    Attributes:
        mean: the mean (of a metric, or of a difference).
        low: the interval's lower end.
        high: the interval's upper end.
        n: how many runs (or seed pairs) it rests on.
    """

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width."""
        return (self.high - self.low) / 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """A variant against the baseline on one metric.

    Attributes:
        variant: the variant.
        baseline: the first variant.
        metric: the metric.
        paired: the mean of per-seed differences (variant - baseline) over common seeds.
        unpaired: the difference of means with Welch's interval, ignoring the pairing.
    """

    variant: str
    baseline: str
    metric: str
    paired: Estimate
    unpaired: Estimate


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    """What a sweep found.

    Attributes:
        variants: each variant's name and the values it sets, the baseline first.
        seeds: the seeds every variant ran with.
        metrics: the metrics summarised.
        summary: ``summary[variant][metric]``: the mean and its interval.
        comparisons: every non-baseline variant against the baseline, per metric.
        runs: how many runs finished.
        csv_path: the streamed results (``sweep.csv``), or ``None`` when ``out`` was not given.
    """

    variants: dict[str, dict[str, Any]]
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]
    summary: dict[str, dict[str, Estimate]]
    comparisons: tuple[Comparison, ...]
    runs: int
    csv_path: Path | None

    def comparison(self, variant: str, metric: str) -> Comparison:
        """The comparison of ``variant`` with the baseline on ``metric``."""
        for item in self.comparisons:
            if item.variant == variant and item.metric == metric:
                return item
        raise KeyError(f"no comparison of {variant!r} on {metric!r}")


def _t(df: float) -> float:
    return float(stats.t.ppf(0.5 + _CONFIDENCE / 2, df))


def mean_interval(values: SequenceOf[float]) -> Estimate:
    """The mean of ``values`` with its Student t interval."""
    n = len(values)
    if n == 0:
        return Estimate(mean=math.nan, low=math.nan, high=math.nan, n=0)
    mean = statistics.fmean(values)
    if n < 2:
        return Estimate(mean=mean, low=math.nan, high=math.nan, n=n)
    half = _t(n - 1) * statistics.stdev(values) / math.sqrt(n)
    return Estimate(mean=mean, low=mean - half, high=mean + half, n=n)


def welch_interval(a: SequenceOf[float], b: SequenceOf[float]) -> Estimate:
    """mean(a) - mean(b) with Welch's interval (unequal variances, no pairing)."""
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        diff = statistics.fmean(a) - statistics.fmean(b) if na and nb else math.nan
        return Estimate(mean=diff, low=math.nan, high=math.nan, n=min(na, nb))
    diff = statistics.fmean(a) - statistics.fmean(b)
    va, vb = statistics.variance(a) / na, statistics.variance(b) / nb
    se = math.sqrt(va + vb)
    if se == 0:
        return Estimate(mean=diff, low=diff, high=diff, n=min(na, nb))
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    half = _t(df) * se
    return Estimate(mean=diff, low=diff - half, high=diff + half, n=min(na, nb))


def summarize(
    csv_path: Path, variants: SequenceOf[str], metrics: SequenceOf[str]
) -> tuple[dict[str, dict[str, Estimate]], tuple[Comparison, ...], int]:
    """Read a sweep's CSV back: estimates per variant, comparisons with the first, row count."""
    values: dict[str, dict[str, dict[int, float]]] = {
        v: {m: {} for m in metrics} for v in variants}
    rows = 0
    with csv_path.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            rows += 1
            seed = int(row["seed"])
            for metric in metrics:
                values[row["variant"]][metric][seed] = float(row[metric])
    summary = {v: {m: mean_interval(list(values[v][m].values())) for m in metrics}
               for v in variants}
    comparisons = []
    baseline = variants[0]
    for variant in variants[1:]:
        for metric in metrics:
            ours, base = values[variant][metric], values[baseline][metric]
            common = sorted(set(ours) & set(base))
            comparisons.append(Comparison(
                variant=variant, baseline=baseline, metric=metric,
                paired=mean_interval([ours[s] - base[s] for s in common]),
                unpaired=welch_interval(list(ours.values()), list(base.values()))))
    return summary, tuple(comparisons), rows


# ---------------------------------------------------------------------------------------------
# sweeps: running


def _sweep_one(
    world_data: dict[str, Any], variant: str, seed: int, metrics: tuple[str, ...]
) -> dict[str, Any]:
    """Run one variant x seed (in a worker process) and return its CSV row."""
    world = World.model_validate(world_data)
    with Store.open("sqlite://") as store:
        result = Simulation(world, seed=seed, store=store).run(check=False)
    return {"variant": variant, "seed": seed, "digest": result.digest,
            **{m: result.metrics[m] for m in metrics}}


def _check_metrics(metrics: SequenceOf[str]) -> tuple[str, ...]:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValidationError(f"--metrics: no metric {', '.join(map(repr, unknown))}; use "
                              f"some of {', '.join(sorted(METRICS))}")
    if not metrics:
        raise ValidationError("--metrics: choose at least one metric")
    return tuple(dict.fromkeys(metrics))


def sweep(
    scenario: ScenarioInput,
    seeds: Iterable[int] | str,
    *,
    variants: Mapping[str, Mapping[str, Any]] | None = None,
    sets: SequenceOf[str] | None = None,
    metrics: SequenceOf[str] | None = None,
    workers: int | None = None,
    out: str | Path | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    allow_large: bool = False,
) -> SweepResult:
    """Run every variant x seed in worker processes and summarise the chosen metrics.

    Rows are streamed to ``sweep.csv`` as runs finish (never all held in memory), then the
    file is read back for the estimates. With the same seed, variants share their random
    numbers (teamsim's draws are keyed by identity), so the paired difference is usually much
    tighter than the unpaired one.

    Args:
        scenario: a validated world or the path of a scenario file.
        seeds: the seeds, or their text (``0:20`` or ``1,5,9``).
        variants: variant name -> {dotted path: value}; the first is the baseline.
        sets: ``path=v1,v2`` texts, as ``--set`` takes them (their cartesian product);
            give ``variants`` or ``sets``, not both. Neither: the scenario as it is.
        metrics: the metrics to summarise (default :data:`DEFAULT_SWEEP_METRICS`).
        workers: worker processes (default ``min(2, cpu count)``); 1 runs in this process.
        out: write ``sweep.csv`` and ``summary.json`` into this directory (put in place only
            when the sweep is complete); ``None`` keeps nothing on disk. A folder that is
            there already is replaced only if it is an earlier teamsim sweep folder and
            ``force``.
        force: replace an earlier sweep folder at ``out``.
        progress: called with (finished runs, total runs) as each run finishes.
        allow_large: run a world of more than 100,000 contacts (refused otherwise).

    Raises:
        ScenarioError: the scenario or a variant of it is invalid.
        ValidationError: bad seeds, sets or metrics.
        TeamsimError: ``out`` cannot be used or written.
        SweepInterrupted: Ctrl-C (a ``KeyboardInterrupt``); the workers are stopped and
            nothing is kept.
    """
    world, source = _load(scenario)
    check_size(world, allow_large, source)
    if isinstance(seeds, str):
        seed_list = parse_seeds(seeds)
    else:
        seed_list = tuple(seeds)
        if not seed_list:
            raise ValidationError("seeds: give at least one seed")
    if variants is not None and sets:
        raise ValueError("give variants or sets, not both")
    chosen = (dict(parse_sets(sets or [])) if variants is None
              else {name: dict(values) for name, values in variants.items()})
    if not chosen:
        raise ValidationError("variants: give at least one variant")
    names = _check_metrics(list(metrics) if metrics is not None else DEFAULT_SWEEP_METRICS)
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    worlds = {name: with_values(world, values, variant=name).model_dump(mode="json")
              for name, values in chosen.items()}
    target = None if out is None else Path(out)
    if target is not None:
        _runfolder.check_target(target, SWEEP_FOLDER, force=force)
        folder = _runfolder.make_staging(target, SWEEP_FOLDER)
    else:
        folder = Path(tempfile.mkdtemp(prefix="teamsim-sweep-"))
    leftover: Path | None = folder
    jobs = [(name, seed) for name in worlds for seed in seed_list]
    done = 0
    try:
        csv_path = folder / "sweep.csv"
        count = workers or min(2, os.cpu_count() or 1)
        with csv_path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=["variant", "seed", "digest", *names])
            writer.writeheader()
            stream.flush()
            for row in _execute(worlds, jobs, names, count):
                writer.writerow(row)
                stream.flush()
                done += 1
                if progress is not None:
                    progress(done, len(jobs))
        summary, comparisons, rows = summarize(csv_path, list(worlds), names)
        if target is not None:
            (folder / "summary.json").write_text(_json(_summary_document(
                world, source, chosen, seed_list, summary, comparisons)), encoding="utf-8")
            _runfolder.put_in_place(folder, target, SWEEP_FOLDER, force=force)
            leftover = None
    except KeyboardInterrupt:
        raise SweepInterrupted(done, len(jobs)) from None
    except OSError as exc:
        where = target if target is not None else folder
        raise TeamsimError(f"{where}: cannot write the sweep: {exc.strerror or exc}") from None
    finally:
        if leftover is not None:
            shutil.rmtree(leftover, ignore_errors=True)
    return SweepResult(variants=chosen, seeds=seed_list, metrics=names, summary=summary,
                       comparisons=comparisons, runs=rows,
                       csv_path=None if target is None else target / "sweep.csv")


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C (``KeyboardInterrupt``); nothing of it was kept on disk.

    Attributes:
        finished: runs that had finished.
        total: runs the sweep had.
    """

    def __init__(self, finished: int, total: int) -> None:
        """Record how far the sweep got."""
        super().__init__(finished, total)
        self.finished = finished
        self.total = total

    def __str__(self) -> str:
        """``interrupted: N of M runs finished``."""
        return f"interrupted: {self.finished} of {self.total} runs finished"


_WATCH_SECONDS = 0.25
"""How often a sweep worker checks that its parent is still alive."""


def _worker_start(parent: int) -> None:
    """Set up a sweep worker: Ctrl-C is the parent's to handle, and the worker exits by
    itself as soon as its parent is gone (killed with SIGKILL, say), instead of waiting
    forever on a queue no one writes to."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_watch_parent, args=(parent,), name="teamsim-parent-watch",
                     daemon=True).start()


def _watch_parent(parent: int) -> None:
    # Polling os.getppid() works on every platform (PR_SET_PDEATHSIG is Linux-only and fires
    # when the *thread* that started the worker ends). The sleep is a poll interval, not
    # part of any run.
    while True:
        time.sleep(_WATCH_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Block SIGINT in this thread while workers start: a worker inherits the blocked-signal
    mask, so a Ctrl-C during its (second-long) start-up stays pending there instead of
    killing it with a traceback, until :func:`_worker_start` ignores it (which discards it)
    and unblocks it. Here a Ctrl-C meanwhile is handled by another thread's delivery or
    once the block ends. (Ignoring SIGINT here instead would lose a Ctrl-C delivered to
    another thread, like Rich's progress refresher.)
    """
    if not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    # Starting multiprocessing's resource tracker unblocks SIGINT in this thread: start it
    # (it would start with the first worker anyway) before blocking.
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _execute(
    worlds: Mapping[str, dict[str, Any]], jobs: list[tuple[str, int]],
    metrics: tuple[str, ...], workers: int,
) -> Iterator[dict[str, Any]]:
    """Each job's row, as the jobs finish."""
    if workers == 1:
        for name, seed in jobs:
            yield _sweep_one(worlds[name], name, seed, metrics)
        return
    # spawn: workers start clean (no inherited threads or open database connections).
    context = multiprocessing.get_context("spawn")
    with _sigint_held():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                   initializer=_worker_start, initargs=(os.getpid(),))
        futures: list[Future[dict[str, Any]]] = [
            pool.submit(_sweep_one, worlds[name], name, seed, metrics) for name, seed in jobs]
    try:
        for future in as_completed(futures):
            yield future.result()
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (they ignore Ctrl-C)."""
    # The executor has no public way to end running workers before Python 3.14.
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        if process.is_alive():
            process.terminate()
    for process in workers:
        process.join(timeout=5)


def _estimate_document(estimate: Estimate) -> dict[str, Any]:
    return {"mean": _finite(estimate.mean), "low": _finite(estimate.low),
            "high": _finite(estimate.high), "n": estimate.n}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _summary_document(
    world: World, source: str | None, variants: Mapping[str, Mapping[str, Any]],
    seeds: tuple[int, ...], summary: Mapping[str, Mapping[str, Estimate]],
    comparisons: Iterable[Comparison],
) -> dict[str, Any]:
    return {
        "scenario": world.name, "source": source, "seeds": list(seeds),
        "teamsim_version": _version(), "confidence": _CONFIDENCE,
        "variants": [{"name": name, "values": dict(values),
                      "metrics": {m: _estimate_document(e) for m, e in summary[name].items()}}
                     for name, values in variants.items()],
        "comparisons": [{"variant": c.variant, "baseline": c.baseline, "metric": c.metric,
                         "paired": _estimate_document(c.paired),
                         "unpaired": _estimate_document(c.unpaired)} for c in comparisons],
    }
