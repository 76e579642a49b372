"""Where a run's data comes from: a :class:`~teamsim.runner.RunResult`, a finished run folder,
or a run recorded in a database (``--db``).

:class:`RunData` holds one run's events, metrics, expectations, world and open store, however
it was obtained, so that every frame, plot and report reads one shape. A run folder's store
is opened read-only and nothing is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from teamsim.model import (
    EventKind,
    EventRecord,
    RunEnded,
    SequenceCreated,
    TeamsimError,
)
from teamsim.runner import RunResult, open_run, read_run_info, run_metrics
from teamsim.sim import TeammateSpec, World
from teamsim.store import Store, UnitOfWork, mask_url

__all__ = ["Expectation", "RunData", "RunInput", "busy_minutes", "load_run", "opened"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Expectation:
    """One of the scenario's expectations, checked (as ``metrics.json`` records it)."""

    metric: str
    expected: str
    actual: Any
    passed: bool


class RunData:
    """One finished run, read from a :class:`~teamsim.runner.RunResult` or a run folder.

    Use :func:`load_run` to open a folder (close it when done, or use it in a ``with``
    block); :meth:`from_result` wraps a result (its store stays the result's to close).

    Attributes:
        name: the scenario's name.
        description: the scenario's description ("" when only the folder is known).
        seed: the run's seed.
        start: the run's start (UTC).
        end: the run's end (UTC).
        timezone: the scenario's time zone, in which times are shown.
        digest: the run's digest.
        world: the scenario as it ran (from a folder: its sequences and teammates as stored).
        metrics: every metric.
        expectations: the scenario's expectations, checked.
        violations: broken invariants.
        store: the run's store (open).
        source: the scenario file, when known.
        folder: the run folder, when the run was read from one.
    """

    def __init__(
        self, *, name: str, description: str, seed: int, start: datetime, end: datetime,
        timezone: str, digest: str, world: World, metrics: Mapping[str, Any],
        expectations: Sequence[Expectation], violations: Sequence[str], store: Store,
        events: Iterable[EventRecord] | None, source: str | None, folder: Path | None,
        owns_store: bool,
    ) -> None:
        """Hold one run's data; prefer :func:`load_run` and :meth:`from_result`."""
        self.name = name
        self.description = description
        self.seed = seed
        self.start = start
        self.end = end
        self.timezone = timezone
        self.digest = digest
        self.world = world
        self.metrics = dict(metrics)
        self.expectations = tuple(expectations)
        self.violations = tuple(violations)
        self.store = store
        self.source = source
        self.folder = folder
        self._events_from = events
        self._events: tuple[EventRecord, ...] | None = None
        self._owns_store = owns_store

    @classmethod
    def from_result(cls, result: RunResult) -> RunData:
        """The data of a run made in this process (its store stays open after use)."""
        world = result.world
        minutes = round(result.until_days * 1440)
        source = None
        if result.out_dir is not None and (result.out_dir / "run.json").is_file():
            source = read_run_info(result.out_dir).source
        return cls(
            name=world.name, description=world.description, seed=result.seed,
            start=world.start_utc, end=world.at(minutes), timezone=world.timezone,
            digest=result.digest, world=world, metrics=result.metrics,
            expectations=[Expectation(metric=e.metric, expected=e.expected, actual=e.actual,
                                      passed=e.passed) for e in result.expectations],
            violations=result.violations, store=result.store, events=result.events,
            source=source, folder=result.out_dir, owns_store=False)

    @property
    def zone(self) -> ZoneInfo:
        """The scenario's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def minutes(self) -> int:
        """The run's length in simulated minutes."""
        return round((self.end - self.start).total_seconds() / 60)

    def events(self) -> tuple[EventRecord, ...]:
        """The event log in canonical order (read once, then kept)."""
        if self._events is None:
            source = self._events_from
            if source is None:
                # The canonical order (simulated time, then sequence number), as a run's
                # result and events.jsonl hold it.
                with self.store.unit_of_work() as uow:
                    self._events = tuple(sorted(uow.events.iter(), key=lambda e: (e.at, e.seq)))
            else:
                self._events = tuple(iter(source))
        return self._events

    def unit_of_work(self) -> UnitOfWork:
        """A unit of work on the run's store, for reading (nothing is written)."""
        return self.store.unit_of_work()

    def close(self) -> None:
        """Close the store if this object opened it (a folder's)."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> RunData:
        """Use in a ``with`` block: the folder's store is closed at its end."""
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """Close the store (see :meth:`close`)."""
        self.close()


RunInput = RunResult | RunData | str | os.PathLike[str]
"""A run: a :class:`~teamsim.runner.RunResult`, a :class:`RunData`, or a run folder's path."""


def load_run(run_dir: str | os.PathLike[str] | None = None, *, db: str | None = None,
             run: int | None = None) -> RunData:
    """Open a finished run folder (what ``teamsim run`` wrote), or run ``run`` of ``db``,
    read-only.

    Args:
        run_dir: the run folder; ``None``: read run ``run`` of ``db`` alone (its rows and
            its metrics as the database keeps them: the expectations' verdicts are only in
            the folder).
        db: the database, when the run was recorded with ``--db`` (``run.json`` names it
            with its password masked, so it is never opened from there).
        run: the run's id in ``db`` (default: the id ``run.json`` holds, or the database's
            only run).

    Raises:
        TeamsimError: the folder is not a run folder, is damaged, or its store cannot be
            opened; no such run in ``db``; the message names the folder and the fix.
    """
    if run_dir is None:
        if db is None:
            raise TeamsimError("give a run folder, or a database (db=) and a run id (run=)")
        return _load_stored_run(db, run)
    folder = Path(run_dir)
    if not folder.is_dir():
        raise TeamsimError(f"{folder}: no such run directory; give the folder `teamsim run` "
                           "wrote")
    info = read_run_info(folder)
    target: str | Path
    if db is not None:
        target = db
    elif info.db:
        raise TeamsimError(f"{folder}: the run was recorded in {mask_url(info.db)}; pass "
                           "that database (load_run(..., db=URL)) to read it")
    else:
        target = folder / "store.db"
        if not target.is_file():
            raise TeamsimError(f"{folder}: no store.db beside run.json; run `teamsim run` "
                               "again without --db to keep the store with the run")
    metrics_path = folder / "metrics.json"
    try:
        body = json.loads(metrics_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TeamsimError(f"{metrics_path}: cannot read it ({exc.strerror or exc}); run "
                           "`teamsim run` again") from None
    except ValueError as exc:
        raise TeamsimError(f"{metrics_path}: damaged ({exc}); run `teamsim run` again") \
            from None
    if not isinstance(body, dict):
        raise TeamsimError(f"{metrics_path}: damaged (not a JSON object); run `teamsim run` "
                           "again")
    expectations = [Expectation(metric=str(e.get("metric", "")),
                                expected=str(e.get("expected", "")), actual=e.get("actual"),
                                passed=bool(e.get("passed"))) for e in
                    body.pop("expectations", []) or [] if isinstance(e, dict)]
    violations = [str(v) for v in body.pop("violations", []) or []]
    recorded = run if run is not None else info.run_id
    if db is not None and recorded is not None:
        store = open_run(db, recorded)[1]  # the run's rows, not the database's own tables
    else:
        store = Store.open(target, read_only=True)
    try:
        with store.unit_of_work() as uow:
            world, zone = _stored_world(uow, info.scenario)
    except BaseException:
        store.close()
        raise
    return RunData(
        name=info.scenario, description="", seed=info.seed, start=info.start, end=info.end,
        timezone=zone, digest=info.digest, world=world, metrics=body,
        expectations=expectations, violations=violations, store=store, events=None,
        source=info.source, folder=folder, owns_store=True)


def _load_stored_run(db: str, run: int | None) -> RunData:
    """Run ``run`` of ``db`` (its only run when ``None``), from the database alone."""
    record, store = open_run(db, run)
    try:
        metrics = _nested(run_metrics(db, record.id))
        with store.unit_of_work() as uow:
            world, zone = _stored_world(uow, record.scenario)
    except BaseException:
        store.close()
        raise
    return RunData(
        name=record.scenario, description="", seed=record.seed, start=record.sim_start,
        end=record.sim_end, timezone=zone, digest=record.digest or "", world=world,
        metrics=metrics, expectations=(), violations=(), store=store, events=None,
        source=None, folder=None, owns_store=True)


def _nested(flat: Mapping[str, float | None]) -> dict[str, Any]:
    """The ``run_metrics`` rows back in the shape of ``metrics.json``: dotted names
    (``model_usage.Riley.calls``) nested again; counts that are whole numbers as ints."""
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        level = nested
        for part in parents:
            level = level.setdefault(part, {})
        level[leaf] = int(value) if value is not None and value.is_integer() else value
    return nested


def _stored_world(uow: UnitOfWork, name: str) -> tuple[World, str]:
    """The run's sequences and teammates as its store holds them, as a world (unvalidated:
    only what reports read), and the scenario's time zone (the sequences' cap zone)."""
    zone = "UTC"
    for event in uow.events.iter(type=EventKind.SEQUENCE_CREATED):
        zone = SequenceCreated.from_payload(event.payload).cap_timezone or "UTC"
        break
    teammates = [TeammateSpec.model_construct(name=t.name, capacity=t.capacity)
                 for t in uow.teammates.list()]
    world = World.model_construct(name=name, timezone=zone, sequences=uow.sequences.list(),
                                  teammates=teammates)
    return world, zone


def opened(run: RunInput) -> _Opened:
    """``run`` as :class:`RunData`, in a ``with`` block that closes what it opened."""
    return _Opened(run)


class _Opened:
    """The context manager :func:`opened` returns."""

    def __init__(self, run: RunInput) -> None:
        self._run = run
        self._mine: RunData | None = None

    def __enter__(self) -> RunData:
        run = self._run
        if isinstance(run, RunData):
            return run
        if isinstance(run, RunResult):
            return RunData.from_result(run)
        if isinstance(run, str | os.PathLike):
            self._mine = load_run(run)
            return self._mine
        raise TypeError("expected a RunResult, a RunData or a run folder's path, got "
                        f"{type(run).__name__}")

    def __exit__(self, *exc: object) -> None:
        if self._mine is not None:
            self._mine.close()


def busy_minutes(events: Sequence[EventRecord]) -> Mapping[str, int]:
    """Each teammate's busy minutes, from the run's ``run.ended`` event."""
    for event in reversed(events):
        if event.type == EventKind.RUN_ENDED:
            return dict(RunEnded.from_payload(event.payload).teammate_busy_minutes)
    return {}
