"""Stopping a run part way and resuming it by deterministic re-execution.

SimPy's state cannot be saved (its processes are generators), so a run is resumed as
Temporal resumes a workflow: rebuilt from its scenario and seed, fed the inputs from outside
the simulation that the stopped try journaled (:mod:`teamsim.runner._journal`: model replies;
a slot for interactive human decisions), run to the minute it stopped at, checked against the
events it had logged (the same events in the same order, or one error naming the first that
differs: its index, kind and time), then run on. The resumed run's digest is the
uninterrupted run's.

A stopped run folder holds ``run.json`` (``status: stopped``, the minute, the scenario's hash,
the journal's line count and chain), ``events.jsonl`` (the events so far, in the order they
were logged) and ``journal.jsonl``; a killed run leaves its journal in its staging folder
(``.NAME.XXXXXXXX.tmp`` beside the run folder), which ``--resume`` finds. A stopped ``--db``
run is also recorded in its database as a ``stopped`` run, with its journal, minute and events
so far (``run_stops``, see :class:`teamsim.store.StopRecord`): :func:`find_stopped_run` reads
it back by id.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pydantic

from teamsim.agents import Cassette
from teamsim.model import SimMinutes, TeamsimError
from teamsim.runner import _staging
from teamsim.runner._decisions import replayed_decisions
from teamsim.runner._folders import RunInfo, read_run_info
from teamsim.runner._journal import (
    JOURNAL,
    Journal,
    JournalHeader,
    JournalWriter,
    parse_journal,
    read_journal,
)
from teamsim.scenario import Scenario, scenario_hash
from teamsim.sim import Simulation
from teamsim.store import StopRecord, Store, canonical_line

__all__ = [
    "Resumption",
    "RunStopped",
    "Stepping",
    "StopSignal",
    "check_prefix",
    "find_resumption",
    "find_stopped_run",
    "stop_record",
    "stopped_info",
]

_CHUNK: SimMinutes = 60
"""How far a run goes between two looks at the stop flag (Ctrl-C), in simulated minutes."""


class RunStopped(Exception):
    """A run stopped before its end (``stop_at``, Ctrl-C) and left a resumable run folder.

    Attributes:
        out_dir: the stopped run folder (``teamsim run --resume`` takes it), or ``None``
            (a ``db=`` run without one).
        minute: the simulated minute it stopped at.
        events: the events logged so far.
        interrupted: stopped by Ctrl-C (else by ``stop_at``).
        run_id: its id as a stopped run in ``db`` (``None`` without ``db``).
    """

    def __init__(self, out_dir: Path | None, minute: SimMinutes, events: int,
                 interrupted: bool, run_id: int | None = None):
        self.out_dir = out_dir
        self.minute = minute
        self.events = events
        self.interrupted = interrupted
        self.run_id = run_id
        where = out_dir if run_id is None else f"run {run_id}"
        super().__init__(f"stopped at minute {minute} with {events} events -> {where}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Resumption:
    """What an earlier, stopped (or killed) try of a run left to resume from.

    Attributes:
        folder: the folder it was read from (the run folder, or a killed run's staging
            folder), ``None`` when it was read from a database.
        journal: its journal, checked.
        minute: the minute it stopped at (``None``: killed, no events kept).
        events: its events in logging order, as canonical lines (empty when killed).
        info: its ``run.json`` (``None`` when killed).
        run_id: its id as a stopped run in ``db``: the finished (or again stopped) run
            replaces it there.
        db: the database it is recorded in (masked URL), when ``run_id`` is given.
    """

    folder: Path | None
    journal: Journal
    minute: SimMinutes | None = None
    events: tuple[str, ...] = ()
    info: RunInfo | None = None
    run_id: int | None = None
    db: str | None = None

    @property
    def journal_place(self) -> str:
        """Where its journal was read (named in errors)."""
        if self.folder is None:
            return f"run {self.run_id} in {self.db}: journal"
        return str(self.folder / JOURNAL)

    @property
    def events_place(self) -> str:
        """Where its events so far were read (named in errors)."""
        if self.folder is None:
            return f"run {self.run_id} in {self.db}: events"
        return str(self.folder / "events.jsonl")


def find_resumption(run_dir: Path) -> Resumption:
    """Read what ``run_dir`` (a stopped run folder, or the run folder of a killed run) left.

    Raises:
        TeamsimError: one line: not a run folder teamsim wrote, a finished run, a journal or
            event log changed since it was written.
    """
    run_json = run_dir / "run.json"
    try:
        stopped = run_json.exists()
    except OSError as exc:  # a name too long, a folder we may not enter
        raise TeamsimError(f"{run_dir}: cannot read it ({exc.strerror or exc}); give the "
                           "folder a stopped `teamsim run` wrote") from None
    if not stopped:
        leftovers = [p for p in _staging.stale_folders(run_dir) if (p / JOURNAL).is_file()]
        if not leftovers:
            raise TeamsimError(
                f"{run_dir}: not a stopped teamsim run (no run.json, and no journal of a "
                "killed run beside it); give the folder a stopped `teamsim run` wrote")
        folder = max(leftovers, key=lambda p: (p / JOURNAL).stat().st_mtime_ns)
        return Resumption(folder=folder, journal=read_journal(folder / JOURNAL))
    info = read_run_info(run_dir)
    if info.status != "stopped":
        raise TeamsimError(f"{run_dir}: a finished run (digest {info.digest[:12]}); there is "
                           "nothing to resume: run the scenario again to make a new run")
    journal = read_journal(run_dir / JOURNAL)
    if (journal.lines, journal.head) != (info.journal_lines, info.journal_head):
        raise TeamsimError(
            f"{run_dir / JOURNAL}: holds {journal.lines} lines, but the run stopped with "
            f"{info.journal_lines}; it was changed after teamsim wrote it, so the run cannot "
            "be resumed from it")
    try:
        text = (run_dir / "events.jsonl").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TeamsimError(f"{run_dir / 'events.jsonl'}: cannot read it: {exc}") from None
    lines = tuple(text.splitlines())
    if len(lines) != info.events or info.stopped_at is None:
        raise TeamsimError(f"{run_dir / 'events.jsonl'}: holds {len(lines)} events, but the "
                           f"run stopped with {info.events}; it was changed after teamsim "
                           "wrote it, so the run cannot be resumed from it")
    return Resumption(folder=run_dir, journal=journal, minute=info.stopped_at, events=lines,
                      info=info, run_id=info.run_id if info.db is not None else None,
                      db=info.db)


def find_stopped_run(db: str, run_id: int) -> Resumption:
    """Read the stopped run ``run_id`` recorded in the database ``db``.

    Raises:
        TeamsimError: one line: the database cannot be opened, holds no run ``run_id``, the
            run is not stopped, or its journal or events were changed after teamsim wrote
            them.
    """
    store = Store.open(db, read_only=True)
    try:
        if not store.holds_runs:
            raise TeamsimError(f"{store.url}: made by an older teamsim, it holds no runs; "
                               "give the database the run was recorded in")
        with store.unit_of_work() as uow:
            stop = uow.runs.stop(run_id)
            record = uow.runs.get(run_id)
    finally:
        store.close()
    where = f"run {run_id} in {store.url}"
    journal = parse_journal(stop.journal, f"{where}: journal")
    if (journal.lines, journal.head) != (stop.journal_lines, stop.journal_head):
        raise TeamsimError(
            f"{where}: journal: holds {journal.lines} lines, but the run stopped with "
            f"{stop.journal_lines}; it was changed after teamsim wrote it, so the run cannot "
            "be resumed from it")
    lines = tuple(stop.events.splitlines())
    if len(lines) != record.events:
        raise TeamsimError(f"{where}: events: holds {len(lines)} events, but the run stopped "
                           f"with {record.events}; they were changed after teamsim wrote "
                           "them, so the run cannot be resumed from them")
    return Resumption(folder=None, journal=journal, minute=stop.minute, events=lines,
                      run_id=run_id, db=store.url)


def stop_record(stop: StopSignal, stepping: Stepping) -> StopRecord:
    """What a stopped run keeps in the database to be resumed."""
    writer = stepping.writer
    if writer is None:  # pragma: no cover - a stopping run always has its journal
        raise RuntimeError("a stopped run without a journal")
    return StopRecord(minute=stop.minute, journal_lines=writer.lines,
                      journal_head=writer.head, journal=writer.text,
                      events="".join(line + "\n" for line in stop.lines))


class StopSignal(Exception):
    """Raised by :meth:`Stepping.drive` where the run stops; the runner writes the folder."""

    def __init__(self, minute: SimMinutes, lines: tuple[str, ...], interrupted: bool) -> None:
        super().__init__(minute)
        self.minute = minute
        self.lines = lines
        self.interrupted = interrupted


@dataclass(kw_only=True)
class Stepping:
    """How one run may stop, and what it resumes from: drives the :class:`Simulation`.

    Attributes:
        header: the journal's header (the run's identity).
        stop_at: the simulated minute to stop at (``None``: run to the end).
        interrupted: says whether the user asked to stop (Ctrl-C); looked at every
            simulated hour.
        resuming: the earlier try to resume (``None``: a new run).
    """

    header: JournalHeader
    stop_at: SimMinutes | None = None
    interrupted: Callable[[], bool] | None = None
    resuming: Resumption | None = None
    decisions: tuple[pydantic.JsonValue, ...] = ()
    writer: JournalWriter | None = field(default=None, init=False)

    def start(self, folder: Path | None, cassette: Cassette | None) -> None:
        """Open the journal in the run's (staging) ``folder`` and connect the cassette to it;
        prime the cassette with the replies the earlier try used."""
        if self.resuming is not None:
            if cassette is not None:
                cassette.prime(self.resuming.journal.models)
            elif self.resuming.journal.models:
                raise TeamsimError(
                    f"{self.resuming.journal_place}: holds model replies, but no teammate "
                    "of the scenario is model-backed now; resume with the same --model options")
        carry = self.resuming.journal if self.resuming is not None else None
        # Without a folder (a --db run) the journal is kept in memory, recorded if it stops.
        self.writer = JournalWriter(None if folder is None else folder / JOURNAL, self.header,
                                    carry)
        if self.resuming is None:  # a resumed run's decisions come with ``carry``
            for data in self.decisions:
                self.writer.decision(data)
        if cassette is not None:
            cassette.listen(self.writer.model)

    def drive(self, sim: Simulation) -> None:
        """Run ``sim`` to its end, or to the stop (raising :class:`StopSignal`)."""
        earlier = self.resuming
        sim.advance(0)  # builds the run: its set-up events are logged before minute 0 runs
        if earlier is not None and earlier.minute is not None:
            sim.advance(earlier.minute)
            check_prefix(sim, earlier)
        if self.interrupted is None and self.stop_at is None:
            sim.advance(None)  # nothing can stop it: one go
        while not sim.over:
            if self.interrupted is not None and self.interrupted():
                raise StopSignal(sim.minute, _lines(sim), True)
            if self.stop_at is not None and sim.minute >= self.stop_at:
                raise StopSignal(sim.minute, _lines(sim), False)
            step = (sim.minute // _CHUNK + 1) * _CHUNK
            sim.advance(step if self.stop_at is None else min(step, self.stop_at))

    def close(self) -> None:
        """Close the journal (flushed to disk)."""
        if self.writer is not None:
            self.writer.close()


def _lines(sim: Simulation) -> tuple[str, ...]:
    return tuple(canonical_line(e) for e in sim.events_so_far())


def check_prefix(sim: Simulation, earlier: Resumption) -> None:
    """Refuse to go on when the re-executed run did not log the stopped try's events.

    Raises:
        TeamsimError: naming the first event that differs: its index, kind and time.
    """
    now = _lines(sim)
    for index in range(max(len(now), len(earlier.events))):
        stored = earlier.events[index] if index < len(earlier.events) else None
        again = now[index] if index < len(now) else None
        if stored == again:
            continue
        shown = _describe(stored) if stored is not None else "nothing"
        got = _describe(again) if again is not None else "nothing"
        raise TeamsimError(
            f"{earlier.events_place}: event {index + 1} differs from the run "
            f"re-executed to resume it: stored {shown}, re-executed {got}; the stored events "
            "or the journal were changed, or this teamsim simulates differently: the run "
            "cannot be resumed (run it again from the start)")


def _describe(line: str) -> str:
    try:
        event = json.loads(line)
        return f"{event['type']} at {event['at']}"
    except (ValueError, KeyError, TypeError):
        return "a line that is not an event"


def stopped_info(info: RunInfo, stop: StopSignal, stepping: Stepping,
                 run_id: int | None = None) -> RunInfo:
    """``run.json`` of a stopped run: ``info`` (as a finished run would have it) with the
    events so far, the minute, the scenario's hash and the journal's state."""
    from datetime import timedelta

    digest = hashlib.sha256("".join(line + "\n" for line in stop.lines).encode()).hexdigest()
    writer = stepping.writer
    return info.model_copy(update={
        "status": "stopped", "stopped_at": stop.minute, "digest": digest,
        "events": len(stop.lines), "end": info.start + timedelta(minutes=stop.minute),
        "scenario_hash": stepping.header.scenario_hash, "run_id": run_id,
        "journal_lines": None if writer is None else writer.lines,
        "journal_head": None if writer is None else writer.head})


def stepping_for(world: Scenario, source: str | None, seed: int, days: float, *,
                 stop_at: float | datetime | None, interrupted: Callable[[], bool] | None,
                 resuming: Resumption | None, cassette: Path | None, mode: str | None,
                 target: Path | None, recorded: bool = False,
                 decisions: tuple[pydantic.JsonValue, ...] = ()) -> Stepping:
    """The :class:`Stepping` of a run, its inputs checked.

    Raises:
        TeamsimError: the scenario changed since the stopped try (both hashes named), or
            a stop is asked for a run that writes no folder and is not ``recorded`` in a
            database.
        ValueError: ``stop_at`` is not positive.
    """
    digest = scenario_hash(world)
    if resuming is not None:
        was = resuming.journal.header
        if was.scenario_hash != digest:
            raise TeamsimError(
                f"{source or world.name}: the scenario changed since the run stopped (it had "
                f"hash {was.scenario_hash[:12]}, it has {digest[:12]} now); resume needs the "
                "scenario as it was: put it back, or start a new run")
        if was.seed != seed:
            raise TeamsimError(f"--seed {seed}: the stopped run has seed {was.seed}; resume "
                               "it with its own seed")
    minute = None if stop_at is None else _stop_minute(world, stop_at)
    if minute is not None and minute >= round(days * 1440):
        minute = None  # at or past the end: the run simply finishes
    kept = target is not None or recorded
    if not kept and (minute is not None or resuming is not None):
        raise TeamsimError("a run that stops or resumes needs a run folder (--out, out=) or "
                           "a database (--db, db=)")
    header = JournalHeader(
        scenario=world.name, scenario_hash=digest, source=_absolute(source), seed=seed,
        until_days=days,
        cassette=None if cassette is None else os.path.abspath(cassette),
        cassette_mode=mode if mode in ("record", "replay", "auto") else None)
    return Stepping(header=header, stop_at=minute,
                    interrupted=interrupted if kept else None, resuming=resuming,
                    decisions=decisions)


def _stop_minute(world: Scenario, stop_at: float | datetime) -> SimMinutes:
    """``stop_at`` (days, or a simulated time: naive is local in the scenario's time zone) as
    the minute to stop at; a time is rounded up to its minute.

    Raises:
        TeamsimError: a time not after the run's start.
        ValueError: days not positive.
    """
    if isinstance(stop_at, datetime):
        when = stop_at if stop_at.tzinfo is not None else stop_at.replace(
            tzinfo=ZoneInfo(world.timezone))
        minute = math.ceil((when - world.start_utc).total_seconds() / 60)
        if minute <= 0:
            raise TeamsimError(f"stop at {stop_at.isoformat()}: the run starts at "
                               f"{world.start.isoformat()}; give a later time")
        return minute
    if stop_at <= 0:
        raise ValueError(f"stop_at must be > 0, got {stop_at}")
    return round(stop_at * 1440)


def write_stopped(staging: Path, target: Path, info: RunInfo, stop: StopSignal,
                  stepping: Stepping, run_id: int | None = None) -> None:
    """Write the stopped run's files into ``staging`` (its store removed: a resume
    re-executes) and put it in place at ``target``."""
    from teamsim.runner._folders import RUN_FOLDER, json_text

    for name in ("store.db", "store.db-wal", "store.db-shm", "store.db-journal",
                 "cassette.json"):
        (staging / name).unlink(missing_ok=True)
    with (staging / "events.jsonl").open("w", encoding="utf-8", newline="\n") as stream:
        for line in stop.lines:
            stream.write(line + "\n")
    stopped = stopped_info(info, stop, stepping, run_id)
    (staging / "run.json").write_text(json_text(stopped.model_dump(mode="json")),
                                      encoding="utf-8")
    # --out was checked (with the user's --force) before the run; a stopped run being
    # resumed is replaced by its next try.
    _staging.put_in_place(staging, target, RUN_FOLDER, force=True)


def resume_arguments(found: Resumption) -> dict[str, object]:
    """The arguments of :func:`teamsim.runner.run` that resume ``found``: its seed, length,
    cassette and mode, from its journal."""
    header = found.journal.header
    arguments: dict[str, object] = {
        "seed": header.seed, "until_days": header.until_days, "cassette": header.cassette,
        "cassette_mode": header.cassette_mode, "resuming": found}
    if found.journal.decisions:  # a replay of a person's decisions, stopped part way
        arguments["decisions"] = replayed_decisions(found.journal.decisions,
                                                    found.journal_place)
    return arguments


def _absolute(source: str | None) -> str | None:
    """The scenario file as an absolute path, so the run resumes from any folder (the
    consent to import code stays the resuming user's: nothing in the journal grants it)."""
    return None if source is None else os.path.abspath(source)
