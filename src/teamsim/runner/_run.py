"""One run of a scenario: simulate, check, and (given ``out``) leave a run directory.

See :mod:`teamsim.runner` for the run directory's files. The run is written under a staging
folder and put in place whole (:mod:`teamsim.runner._staging`); a ``db=`` run is one
copy of the run's rows, made in one transaction, in that database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic

from teamsim.agents import Drafter, Reviewer
from teamsim.model import (
    DatabaseError,
    ScenarioError,
    TeamsimError,
    ValidationError,
    format_errors,
)
from teamsim.runner import _staging
from teamsim.runner._decisions import RecordedDecisions, recorded_decisions
from teamsim.runner._folders import (
    RUN_FOLDER,
    RunInfo,
    RunModel,
    json_text,
    read_run_info,
    rule_previews,
    teamsim_version,
    write_run,
)
from teamsim.runner._journal import JOURNAL
from teamsim.runner._models import ModelInput, RunModels, prepare
from teamsim.runner._resume import (
    Resumption,
    RunStopped,
    Stepping,
    StopSignal,
    find_resumption,
    find_stopped_run,
    resume_arguments,
    stepping_for,
    stop_record,
    write_stopped,
)
from teamsim.scenario import (
    ExpectationResult,
    Scenario,
    check_diagnoses,
    check_expectation_names,
    check_size,
    compare_variants,
    evaluate_expectations,
    load_scenario,
    scenario_hash,
)
from teamsim.sim import DecisionSource, SimulationResult, World
from teamsim.store import (
    NewRun,
    RunStatus,
    Store,
    StoredEvents,
    absolute_url,
    mask_url,
)

__all__ = ["RunResult", "ScenarioInput", "default_out_dir", "load", "resume", "run"]

_DAY_MINUTES = 24 * 60

ScenarioInput = World | str | Path
"""A scenario: a validated scenario (or bare world), or the path of a scenario file."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """One completed run.

    Attributes:
        world: the scenario that ran.
        seed: the seed it ran with.
        until_days: how many simulated days it ran.
        metrics: every metric (see :data:`teamsim.sim.METRICS`).
        expectations: the scenario's expectations, checked, in file order.
        violations: broken invariants, one line each (empty in a correct run).
        digest: SHA-256 of the canonical event lines; equal for equal world and seed.
        events: the event log in canonical order, read from ``store`` as it is used (see
            :class:`~teamsim.store.StoredEvents`; valid while the store is open).
        store: the run's store, open (``store.db`` of the run directory, or an in-memory
            database holding only this run, also when it was recorded in ``db``); close it,
            or the result, when done.
        out_dir: the run directory, or ``None`` when none was written.
        run_id: the run's id in ``db`` (``teamsim runs list``), or ``None`` without ``db``.
    """

    world: Scenario
    seed: int
    until_days: float
    metrics: dict[str, Any]
    expectations: tuple[ExpectationResult, ...]
    violations: tuple[str, ...]
    digest: str
    events: StoredEvents
    store: Store
    out_dir: Path | None
    run_id: int | None = None

    @property
    def passed(self) -> bool:
        """Every expectation met and no invariant broken."""
        return not self.violations and all(e.passed for e in self.expectations)

    def close(self) -> None:
        """Close the run's store."""
        self.store.close()


def load(scenario: ScenarioInput) -> tuple[Scenario, str | None]:
    """The scenario ``scenario`` names, and the file it came from (``None``: given as such).

    A bare :class:`~teamsim.sim.World` is taken as a scenario with no checks.
    """
    if isinstance(scenario, Scenario):
        return scenario, None
    if isinstance(scenario, World):
        data = scenario.model_dump(mode="json")
        try:
            return Scenario.model_validate(data), None
        except pydantic.ValidationError as err:  # the scenario's checks (team, templates)
            raise ScenarioError(format_errors(err, "world", data=data, model=Scenario)) from None
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
    drafters: Mapping[str, Drafter] | None = None,
    reviewers: Mapping[str, Reviewer] | None = None,
    models: Mapping[str, ModelInput] | None = None,
    allow_imports: bool = False,
    cassette: str | Path | None = None,
    cassette_mode: str | None = None,
    max_concurrency: int | None = None,
    decisions: DecisionSource | None = None,
    stop_at: float | datetime | None = None,
    interrupted: Callable[[], bool] | None = None,
    resuming: Resumption | None = None,
) -> RunResult:
    """Run a scenario once.

    Args:
        scenario: a validated world or the path of a scenario file.
        seed: the seed (default: the scenario's ``seed``).
        until_days: stop after this many simulated days (default: the scenario's ``days``).
        out: write a run directory here (see :mod:`teamsim.runner`); ``None`` writes nothing.
            A folder that is there already is replaced only if it is an earlier teamsim run
            folder (its run.json validates and it holds only teamsim's files) and ``force``.
        db: record the run in this database (a SQLite path or SQLAlchemy URL) instead of
            ``store.db``, beside the runs it holds already (see :func:`runs`). The run is
            simulated apart (its digest does not depend on what the database holds) and
            recorded in one transaction: a run that fails or is killed leaves the database
            as it was.
        force: replace an earlier run folder at ``out``.
        progress: called with the simulated day number as each day ends.
        allow_large: run a world of more than 100,000 contacts (refused otherwise).
        source: the file a world given as ``scenario`` was loaded from (named in errors and
            in run.json; a path given as ``scenario`` names itself).
        drafters: drafters by teammate name (objects with ``draft(request) -> Draft``),
            replacing the template drafter (or the teammate's model).
        reviewers: reviewers by teammate name (``review(request) -> Review``).
        models: chat models by teammate name, replacing the scenario's ``model:``: a
            :class:`~teamsim.llm.ModelSpec`, its text (``package.module:factory,key=value``,
            ``entry:NAME``), a LangChain chat model, or ``None`` for no model. Your own
            choice: loaded without ``allow_imports``.
        allow_imports: import the model factories the scenario file names (they run code;
            refused without it, except in replay mode, which imports nothing).
        cassette: the file of recorded model replies (default: the scenario's
            ``llm.cassette``); read, and written back in record or auto mode.
        cassette_mode: ``record``, ``replay`` or ``auto`` (default: the scenario's).
        max_concurrency: model calls made at once (default: the scenario's, 8).
        decisions: a person's inputs play the human instead of the scripted approver (a
            :class:`~teamsim.runner.DecisionJournal` replays a served run); the scenario's
            ``compare:`` variants keep the scripted approver.
        stop_at: stop after this many simulated days (or at this simulated time; a naive one
            is local in the scenario's time zone), resumably: the run folder is left
            ``stopped`` (see :mod:`teamsim.runner._resume`), a ``db`` run is recorded there
            as a ``stopped`` run (one transaction), and :class:`RunStopped` raised.
        interrupted: looked at every simulated hour; when it returns True the run stops
            the same way (the command line's Ctrl-C).
        resuming: the stopped try to resume (:func:`teamsim.runner.resume` passes it).

    Returns:
        The completed run; failed expectations and broken invariants are reported in it, not
        raised. Its store is open (read-only when it is the run folder's ``store.db``).

    Raises:
        ScenarioError: the file is invalid, or an expectation names an unknown metric.
        ValidationError: a model, drafter or reviewer cannot be used (an unknown teammate, a
            factory that cannot be loaded or may not be imported, a cassette that cannot be
            read), before the run starts.
        TeamsimError: the output directory or the database cannot be used or written.
        ValueError: ``until_days`` is not positive.
        RunStopped: the run stopped part way (``stop_at``, ``interrupted``).
    """
    world, loaded_from = load(scenario)
    source = loaded_from if loaded_from is not None else source
    check_expectation_names(world, source)
    check_size(world, allow_large, source)
    if until_days is not None and until_days <= 0:
        raise ValueError(f"until_days must be > 0, got {until_days}")
    digest_of_scenario = scenario_hash(world)
    world, setup = prepare(world, source, models=models, drafters=drafters,
                           reviewers=reviewers, allow_imports=allow_imports, cassette=cassette,
                           cassette_mode=cassette_mode, max_concurrency=max_concurrency)
    days = world.days if until_days is None else until_days
    target = None if out is None else Path(out)
    if decisions is not None and not isinstance(decisions, RecordedDecisions) and (
            stop_at is not None or interrupted is not None or resuming is not None):
        # Read once; the run's journal keeps them, so a stopped replay resumes without them.
        decisions = recorded_decisions(decisions, world.start_utc)
    stepping = _stepping(world, source, seed, days, stop_at, interrupted, resuming, setup,
                         target, db is not None, decisions)
    if target is not None:
        _staging.check_target(target, RUN_FOLDER, force=force)
    started_at = datetime.now(UTC)  # metadata of the runs row, never in the digest
    created = Store.claim_new_file(db)
    staging: Path | None = None
    recording = False  # the --db store is open: its failures are the run's
    archive: Store | None = None
    store: Store | None = None
    run_id: int | None = None
    finished = False
    try:
        if db is not None:
            archive = Store.open(db)
            recording = True
        staging = None if target is None else _staging.make_staging(target, RUN_FOLDER)
        # A --db run is simulated in a store of its own (in memory), so its ids, and with
        # them its digest, are the same whatever the database already holds; then its rows
        # are copied into the database in one transaction (see _record).
        # Simulating straight into store.db measured as fast as simulating in memory and
        # copying with SQLite's backup API (200 contacts x 14 days: 2.8-4.2 s against
        # 2.7-6.1 s, on a busy 2-CPU machine), and needs no raw DB-API connection.
        if stepping is not None:
            stepping.start(staging, setup.cassette)
        store = Store.open(staging / "store.db" if staging is not None and archive is None
                           else "sqlite://")
        result, expectations, violations = _simulate(
            world, source, seed, days, store, None if db is None else absolute_url(db),
            staging, progress, setup, decisions, stepping)
        if archive is not None:
            about = NewRun(
                scenario=world.name, scenario_hash=digest_of_scenario, seed=result.seed,
                teamsim_version=teamsim_version(), until_days=days, sim_start=world.start_utc,
                sim_end=world.start_utc + timedelta(minutes=round(days * _DAY_MINUTES)),
                started_at=started_at, finished_at=datetime.now(UTC),
                status=RunStatus.FINISHED, digest=result.digest, events=len(result.events))
            run_id = _record(archive, store, about, result.metrics,
                             staging if target is not None else None, target, force,
                             _replacing(resuming, db))
            archive.close()
            staging = None  # in place, or never made
        if target is not None and staging is not None:
            # SQLite's -wal/-shm files are found by path: close before the rename; and seal
            # the file so read-only readers leave nothing beside it.
            store.close()
            Store.seal(staging / "store.db")
            _staging.put_in_place(staging, target, RUN_FOLDER, force=force)
            staging = None
            store = Store.open(target / "store.db", read_only=True)
        created = None
        finished = True
    except StopSignal as stop:
        if stepping is None or store is None or (archive is None and target is None):
            raise  # pragma: no cover - _stepping refuses a stop without a folder or db
        stopped_id = None
        if archive is not None:
            # Recorded first: a folder that then cannot be written leaves a resumable row.
            about = NewRun(
                scenario=world.name, scenario_hash=digest_of_scenario,
                seed=stepping.header.seed, teamsim_version=teamsim_version(), until_days=days,
                sim_start=world.start_utc,
                sim_end=world.start_utc + timedelta(minutes=stop.minute),
                started_at=started_at, finished_at=datetime.now(UTC),
                status=RunStatus.STOPPED, digest=hashlib.sha256("".join(
                    line + "\n" for line in stop.lines).encode()).hexdigest(),
                events=len(stop.lines))
            with archive.unit_of_work() as uow, store.unit_of_work() as rows:
                stopped_id = uow.runs.record(about, {}, rows,
                                             stop=stop_record(stop, stepping),
                                             replacing=_replacing(resuming, db))
            archive.close()
        store.close()
        stepping.close()
        if target is not None and staging is not None:
            _put_stopped(world, source, days, db, setup, stepping, stop, staging, target,
                         stopped_id)
            staging = None
        raise RunStopped(target, stop.minute, len(stop.lines), stop.interrupted,
                         stopped_id) from None
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
        if archive is not None:
            archive.close()
        if stepping is not None:
            stepping.close()
        if store is not None and not finished:
            store.close()  # closed before its file is removed
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if created is not None:
            # The database file was made for this run, which did not finish: remove it,
            # unless another process has committed into it meanwhile.
            Store.remove_if_unused(created)
    return RunResult(world=world, seed=result.seed, until_days=days, metrics=result.metrics,
                     expectations=expectations, violations=violations,
                     digest=result.digest, events=result.events.on(store), store=store,
                     out_dir=target, run_id=run_id)


def _replacing(resuming: Resumption | None, db: str | None) -> int | None:
    """The id of the stopped run in ``db`` that this run resumes (``None``: a new run, or
    one resumed from a folder recorded in another database). Compared as absolute URLs:
    run.json records a SQLite file's absolute path, and a relative ``--db`` given when
    resuming from another folder names the same file."""
    if resuming is None or resuming.run_id is None or resuming.db is None or db is None:
        return None
    return resuming.run_id if absolute_url(resuming.db) == absolute_url(db) else None


def _record(archive: Store, store: Store, about: NewRun, metrics: Mapping[str, Any],
            staging: Path | None, target: Path | None, force: bool,
            replacing: int | None = None) -> int:
    """Record the run simulated in ``store`` in ``archive``, in one transaction: its
    ``runs`` row, its metrics and every row it wrote; return its id.

    A run that fails or is killed before the commit leaves nothing in the database, so no
    reader ever sees half a run. The run folder (if any) is put in place inside the
    transaction, with the run's id in its run.json: a folder that cannot be put in place (a
    file that appeared in --out during the run, EXDEV, EBUSY) rolls the run back, and a
    commit that fails takes the folder out again (the earlier one put back). A resumed run
    replaces its stopped run (``replacing``) in the same transaction, keeping its id.

    Copying measured against simulating straight into the database in one transaction (what
    teamsim did before runs were kept apart): see the README's "Keeping experiments in
    PostgreSQL".
    """
    with contextlib.ExitStack() as folder, archive.unit_of_work() as uow, \
            store.unit_of_work() as rows:
        run_id = uow.runs.record(about, metrics, rows, replacing=replacing)
        if staging is not None and target is not None:
            info = read_run_info(staging).model_copy(update={"run_id": run_id})
            (staging / "run.json").write_text(json_text(info.model_dump(mode="json")),
                                              encoding="utf-8")
            folder.enter_context(_staging.placed(staging, target, RUN_FOLDER, force=force))
    return run_id


def _simulate(
    world: Scenario, source: str | None, seed: int | None, days: float, store: Store,
    recorded_in: str | None,
    staging: Path | None, progress: Callable[[int], None] | None, setup: RunModels,
    decisions: DecisionSource | None = None,
    stepping: Stepping | None = None,
) -> tuple[SimulationResult, tuple[ExpectationResult, ...], tuple[str, ...]]:
    """Simulate, check, and write the run's files into ``staging`` (if any), with the
    cassette of the model-backed teammates' replies."""
    reported: list[int] = []

    def report(day: int) -> None:
        reported.append(day)
        if progress is not None:
            progress(day)

    # The simulation settles the seed (the scenario's unless one is given): read it back.
    try:
        sim, result, metrics = setup.simulate(
            world, seed=seed, store=store, until_days=days, progress=report,
            decisions=decisions, drive=None if stepping is None else stepping.drive)
    except ScenarioError:
        raise
    except ValidationError as err:  # before ValueError, which it is too
        # A scenario's template that fails at run time (divide by zero, too much output):
        # the error names the teammate, sequence and step; the file is named here.
        if source is None:
            raise
        raise ScenarioError(f"{source}: {err}") from None
    except ValueError as exc:
        if decisions is None:
            raise
        # A journal made on another run: an input answers an item this run does not have.
        raise TeamsimError(f"{getattr(decisions, 'path', 'decisions')}: {exc}") from None
    last = math.ceil(days)
    if progress is not None and (not reported or reported[-1] < last):
        # SimPy stops before the events of the last minute: the last day is not
        # reported by the simulation itself.
        progress(last)
    result = dataclasses.replace(result, metrics=metrics)
    expectations = (evaluate_expectations(world, metrics)
                    + check_diagnoses(world, store))
    compared, variant_violations = compare_variants(
        world, result.seed, days, metrics, setup.variant_runner(result.seed, days))
    expectations += compared
    violations = result.violations + variant_violations
    if stepping is not None and staging is not None:
        stepping.close()
        (staging / JOURNAL).unlink(missing_ok=True)  # a finished run needs no journal
    if staging is not None:
        info = RunInfo(
            scenario=world.name, source=source, seed=result.seed, until_days=days,
            start=world.start_utc, end=world.start_utc + timedelta(minutes=sim.until),
            digest=result.digest, events=len(result.events),
            teamsim_version=teamsim_version(), db=recorded_in,
            models={name: RunModel.model_validate(about)
                    for name, about in setup.described.items()},
            cassette_mode=setup.mode if setup.used else None)
        write_run(staging, info, result.event_lines(), metrics, expectations,
                  violations, rule_previews(store, world))
    setup.save(staging)
    return result, expectations, violations



def _stepping(world: Scenario, source: str | None, seed: int | None, days: float,
              stop_at: float | datetime | None, interrupted: Callable[[], bool] | None,
              resuming: Resumption | None, setup: RunModels,
              target: Path | None, recorded: bool,
              decisions: DecisionSource | None) -> Stepping | None:
    """How the run may stop and what it resumes from (``None``: it runs through)."""
    if stop_at is None and interrupted is None and resuming is None:
        return None
    records = decisions.records if isinstance(decisions, RecordedDecisions) else ()
    return stepping_for(world, source, world.run_seed(seed), days, stop_at=stop_at,
                        interrupted=interrupted, resuming=resuming, cassette=setup.cassette_file,
                        mode=setup.mode if setup.used else None, target=target,
                        recorded=recorded, decisions=records)


def _put_stopped(world: Scenario, source: str | None, days: float, db: str | None,
                 setup: RunModels, stepping: Stepping, stop: StopSignal, staging: Path,
                 target: Path, run_id: int | None) -> None:
    """Leave the stopped run's folder at ``target``."""
    info = RunInfo(
        scenario=world.name, source=source, seed=stepping.header.seed, until_days=days,
        start=world.start_utc, end=world.start_utc, digest="", events=0,
        teamsim_version=teamsim_version(), db=None if db is None else absolute_url(db),
        models={name: RunModel.model_validate(about)
                for name, about in setup.described.items()},
        cassette_mode=setup.mode if setup.used else None)
    write_stopped(staging, target, info, stop, stepping, run_id)


def resume(
    run_dir: str | Path | int, *, stop_at: float | datetime | None = None,
    interrupted: Callable[[], bool] | None = None,
    progress: Callable[[int], None] | None = None, db: str | None = None,
    models: Mapping[str, ModelInput] | None = None, allow_imports: bool = False,
    max_concurrency: int | None = None,
) -> RunResult:
    """Resume a stopped (or killed) run in ``run_dir`` to its end, or to ``stop_at`` days.

    ``run_dir`` may be the id (an int) of a stopped run recorded in ``db`` instead: the
    finished (or again stopped) run replaces it there, keeping its id, and no folder is
    written. The scenario is read again from the file the run came from and must be unchanged (its
    hash); the run is re-executed from its seed with the model replies of its journal, its
    events so far are checked, then it goes on. The digest is the uninterrupted run's. The
    run folder is replaced by the finished (or again stopped) run.

    Raises:
        TeamsimError: ``run_dir`` is not a stopped run teamsim wrote (no such run id in
            ``db``), a finished run, its journal or events were changed, or its scenario
            changed (one line each).
        RunStopped: it stopped again.
    """
    if isinstance(run_dir, int):
        if db is None:
            raise TeamsimError(f"run {run_dir}: a run id needs the database it was recorded "
                               "in (db=, --db URL); or give a stopped run folder")
        found = find_stopped_run(db, run_dir)
    else:
        found = find_resumption(Path(run_dir))
        if db is None and found.info is not None and found.info.db is not None:
            # Resumed without its database, the run would finish in the folder alone and
            # leave the database's row stopped for ever.
            raise TeamsimError(
                f"{run_dir}: the run is recorded in {found.info.db}; resume it with --db "
                "and that database (db=)")
    header = found.journal.header
    if header.source is None:
        raise TeamsimError(f"{run_dir}: the run was given its scenario as an object, not a "
                           "file; resume it from Python with teamsim.run(world, "
                           "resuming=...)")
    arguments = resume_arguments(found)
    folder = None if isinstance(run_dir, int) else run_dir
    return run(header.source, out=folder, force=True, stop_at=stop_at,
               interrupted=interrupted, progress=progress, db=db, models=models,
               allow_imports=allow_imports,
               max_concurrency=max_concurrency, **arguments)  # type: ignore[arg-type]
