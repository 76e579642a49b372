"""The runs recorded in a database (``uow.runs``): the ``runs`` and ``run_metrics`` tables,
and the run's own rows in the ``run_*`` tables (:mod:`teamsim.store._archive`).

A run is written whole: :meth:`RunRepository.record` adds its ``runs`` row, its metrics and
every row of the store it was simulated in, in the unit of work's transaction, so a run that
fails or is killed before the commit leaves nothing behind.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import Table, delete, func, insert, inspect, select, update

from teamsim.model import NotFoundError, TeamsimError
from teamsim.store._archive import copy_in, copy_out, delete_rows
from teamsim.store._models import RunMetricRow, RunRow, RunStopRow
from teamsim.store._types import MAX_ID, require_utc

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from teamsim.store._uow import UnitOfWork

__all__ = ["NewRun", "RunRecord", "RunRepository", "RunStatus", "StopRecord", "flat_metrics"]


class RunStatus(enum.StrEnum):
    """Where a recorded run stands.

    ``teamsim run --db`` writes a run in one transaction at its end, as ``finished``. A
    ``--db`` run stopped part way (``--stop-at``, Ctrl-C) is written the same way as
    ``stopped``: its rows so far, and what resuming needs (a ``run_stops`` row, see
    :class:`StopRecord`); ``teamsim run --resume ID --db URL`` goes on from there and
    replaces it by the finished run (same id) in one transaction. ``running`` and
    ``failed`` are for writers that record a run as it goes. Readers of a run's rows
    (``inbox``, ``diagnose``, ``rules``) read only finished and stopped runs.
    """

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"


READABLE: Final = frozenset({RunStatus.FINISHED, RunStatus.STOPPED})
"""The statuses whose rows are complete enough to read."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRun:
    """What identifies a run before it is recorded (see :meth:`RunRepository.record`).

    Attributes:
        scenario: the scenario's name.
        scenario_hash: SHA-256 (hex) of the canonical scenario.
        seed: the seed it ran with.
        teamsim_version: the teamsim that ran it.
        until_days: how many simulated days it ran.
        sim_start: simulated start (UTC).
        sim_end: simulated end (UTC).
        started_at: wall-clock start (UTC); metadata only.
        finished_at: wall-clock end (UTC), ``None`` while running.
        status: where the run stands.
        digest: SHA-256 of the run's canonical event lines (``None`` while running).
        events: how many events the run logged.
    """

    scenario: str
    scenario_hash: str
    seed: int
    teamsim_version: str
    until_days: float
    sim_start: datetime
    sim_end: datetime
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    digest: str | None
    events: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord(NewRun):
    """A run recorded in a database: a row of the ``runs`` table.

    Attributes are those of :class:`NewRun`, and ``id``, the run's id in this database.
    """

    id: int

    @property
    def readable(self) -> bool:
        """Whether the run's rows can be read (it finished, or was stopped)."""
        return self.status in READABLE


@dataclass(frozen=True, slots=True, kw_only=True)
class StopRecord:
    """What a stopped run keeps to be resumed (a row of ``run_stops``).

    Attributes:
        minute: the simulated minute it stopped at.
        journal_lines: how many lines its journal holds.
        journal_head: the chain of the journal's last line.
        journal: the journal's lines (each ending with a newline).
        events: the canonical event lines logged so far (each ending with a newline).
    """

    minute: int
    journal_lines: int
    journal_head: str
    journal: str
    events: str


def flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float | None]:
    """The numbers among ``metrics`` by name; nested mappings give dotted names
    (``model_usage.Riley.calls``); text and lists are left out, booleans count as 0 and 1,
    ``None`` and NaN as no value."""
    flat: dict[str, float | None] = {}
    for name, value in metrics.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(flat_metrics(value, f"{key}."))
        elif value is None:
            flat[key] = None
        elif isinstance(value, bool | int | float):
            number = float(value)
            flat[key] = None if math.isnan(number) else number
    return flat


_COLUMNS: Final = ("scenario", "scenario_hash", "seed", "teamsim_version", "until_days",
                   "sim_start", "sim_end", "started_at", "finished_at", "status", "digest",
                   "events")


def _record(row: RunRow) -> RunRecord:
    return RunRecord(
        id=row.id, scenario=row.scenario, scenario_hash=row.scenario_hash, seed=row.seed,
        teamsim_version=row.teamsim_version, until_days=row.until_days,
        sim_start=row.sim_start, sim_end=row.sim_end, started_at=row.started_at,
        finished_at=row.finished_at, status=RunStatus(row.status), digest=row.digest,
        events=row.events)


class RunRepository:
    """The runs recorded in the database (``uow.runs``), their metrics and their rows."""

    __slots__ = ("_session", "_where")

    def __init__(self, session: Session, *, where: str) -> None:
        """Work in ``session``; ``where`` names the database in error messages."""
        self._session = session
        self._where = where

    def record(self, run: NewRun, metrics: Mapping[str, Any], rows: UnitOfWork | None, *,
               stop: StopRecord | None = None, replacing: int | None = None) -> int:
        """Add a run, its metrics (see :func:`flat_metrics`) and, from ``rows`` (a unit of
        work on the store it was simulated in), every row it wrote; return its id.

        ``stop``: the run stopped part way (its status is ``stopped``); what it needs to be
        resumed is kept with it. ``replacing``: the id of the stopped run this one resumed;
        it is replaced (its rows, metrics and stop deleted) and its id kept.

        Nothing is visible to others before the unit of work commits.

        Raises:
            NotFoundError: no run ``replacing``.
            TeamsimError: run ``replacing`` is not stopped (another resume finished it).
        """
        values: dict[str, Any] = {name: getattr(run, name) for name in _COLUMNS}
        values["status"] = RunStatus(run.status).value
        for name in ("sim_start", "sim_end", "started_at"):
            require_utc(values[name], f"run {name}")
        table = cast(Table, RunRow.__table__)
        if replacing is not None:
            if self.get(replacing).status != RunStatus.STOPPED:
                raise TeamsimError(f"run {replacing} in {self._where} is not stopped any more "
                                   "(another resume finished it); see `teamsim runs show "
                                   f"{replacing} --db URL`")
            self.delete(replacing)
            values["id"] = replacing
        run_id = int(self._session.execute(
            insert(table).returning(table.c.id), values).scalar_one())
        if stop is not None:
            connection = self._session.connection()
            stops = cast(Table, RunStopRow.__table__)
            stops.create(connection, checkfirst=True)  # a database made before the table
            connection.execute(insert(stops), {
                "run_id": run_id, "minute": stop.minute, "journal_lines": stop.journal_lines,
                "journal_head": stop.journal_head, "journal": stop.journal,
                "events": stop.events})
        numbers = flat_metrics(metrics)
        if numbers:
            self._session.execute(insert(cast(Table, RunMetricRow.__table__)), [
                {"run_id": run_id, "name": name, "value": value}
                for name, value in sorted(numbers.items())])
        if rows is not None:
            copy_in(rows.connection(), self._session.connection(), run_id)
        return run_id

    def set_status(self, run_id: int, status: RunStatus, *, finished_at: datetime | None = None,
                   digest: str | None = None) -> None:
        """Change a run's status (and, if given, its wall-clock end and digest).

        Raises:
            NotFoundError: no run ``run_id``.
        """
        self.get(run_id)
        values: dict[str, Any] = {"status": RunStatus(status).value}
        if finished_at is not None:
            values["finished_at"] = require_utc(finished_at, "run finished_at")
        if digest is not None:
            values["digest"] = digest
        self._session.execute(update(RunRow).where(RunRow.id == run_id).values(values))
        self._session.expire_all()

    def stop(self, run_id: int) -> StopRecord:
        """What the stopped run ``run_id`` keeps to be resumed.

        Raises:
            NotFoundError: no such run.
            TeamsimError: the run is not stopped, or was recorded without what resuming needs.
        """
        record = self.get(run_id)
        if record.status != RunStatus.STOPPED:
            digest = "" if record.digest is None else f" (digest {record.digest[:12]})"
            raise TeamsimError(f"run {run_id} in {self._where} is {record.status.value}"
                               f"{digest}, not stopped: there is nothing to resume; run the "
                               "scenario again to make a new run")
        row = self._session.get(RunStopRow, run_id) if self._has_stops() else None
        if row is None:
            raise TeamsimError(f"run {run_id} in {self._where} is stopped but keeps no journal "
                               "to resume from (it was not recorded by `teamsim run --db`); "
                               "run the scenario again")
        return StopRecord(minute=row.minute, journal_lines=row.journal_lines,
                          journal_head=row.journal_head, journal=row.journal, events=row.events)

    def _has_stops(self) -> bool:
        return inspect(self._session.connection()).has_table(RunStopRow.__tablename__)

    def get(self, run_id: int) -> RunRecord:
        """The run ``run_id``.

        Raises:
            NotFoundError: no such run (the message says how to list them).
        """
        row = self._session.get(RunRow, run_id) if 0 <= run_id <= MAX_ID else None
        if row is None:
            raise NotFoundError(f"no run {run_id} in {self._where}; `teamsim runs list "
                                "--db URL` shows the runs it holds")
        return _record(row)

    def list(self, *, scenario: str | None = None) -> list[RunRecord]:
        """Every run (or only those of ``scenario``), oldest first."""
        query = select(RunRow).order_by(RunRow.id)
        if scenario is not None:
            query = query.where(RunRow.scenario == scenario)
        return [_record(row) for row in self._session.scalars(query)]

    def count(self) -> int:
        """How many runs the database holds."""
        return int(self._session.scalar(select(func.count()).select_from(RunRow)) or 0)

    def metrics(self, run_id: int) -> dict[str, float | None]:
        """Run ``run_id``'s metrics by name, in name order."""
        self.get(run_id)
        query = (select(RunMetricRow.name, RunMetricRow.value)
                 .where(RunMetricRow.run_id == run_id).order_by(RunMetricRow.name))
        return {name: value for name, value in self._session.execute(query)}

    def restore(self, run_id: int, into: UnitOfWork) -> int:
        """Copy run ``run_id``'s rows into the store of ``into`` (an empty store: a run's
        ids are its own); return how many rows were copied.

        Raises:
            NotFoundError: no such run.
        """
        self.get(run_id)
        return copy_out(self._session.connection(), into.connection(), run_id)

    def delete(self, run_id: int) -> None:
        """Delete run ``run_id``: its rows, its metrics and its ``runs`` row, and nothing else.

        Raises:
            NotFoundError: no such run.
        """
        self.get(run_id)
        connection = self._session.connection()
        delete_rows(connection, run_id)
        if self._has_stops():
            connection.execute(delete(RunStopRow).where(RunStopRow.run_id == run_id))
        connection.execute(delete(RunMetricRow).where(RunMetricRow.run_id == run_id))
        connection.execute(delete(RunRow).where(RunRow.id == run_id))
        self._session.expire_all()
