"""The campaign simulator: one SimPy environment per run, every actor a process in it.

A :class:`Simulation` owns the run: its context (:mod:`teamsim.sim._context`: environment,
unit of work, random streams, clock, event sink) and its actors, each in its own module.
Their order within one simulated minute (SimPy runs events of the same minute in the order
they were scheduled, which is itself a pure function of the world and the seed; the rules
below fix the order inside each actor):

- the **timeline** (:mod:`~teamsim.sim._timeline`) applies scripted actions in file order;
- **enrollments** (:mod:`~teamsim.sim._enrollments`) walk their sequence: a wait starts a
  timer, a branch decides, a message step falls *due*;
- the **scheduler** (:mod:`~teamsim.sim._work`) wakes every ``tick_minutes``; it first
  carries in the human's approvals made since the last tick (one graph resume per batch; their
  rows and events keep their own minutes), then picks up due steps oldest first (due time,
  then enrollment id) and hands each to its sequence's teammate, then has the **outbox**
  (:mod:`~teamsim.sim._outbox`) dispatch (follow-ups before first messages, then by queue
  time, the approval's minute, and message id);
- **teammates** are SimPy resources of their capacity; a task holds its drafter and its peer
  reviewer (acquired in name order, so two tasks never deadlock) for the minutes the drafter
  and reviewer report, and the draft then lands in Needs attention;
- **batches**: the tasks that got their teammates in one minute start together, in one graph
  thread, once the events already scheduled for that minute have run; inside a batch the
  events come node by node (every task's ``task.started``, then every first draft, every
  review, the revisions and their reviews, the rule decisions and sends, then every Needs
  attention item), each node taking the tasks in pick-up order; a resume records the
  decisions in the order the human made them, then sends, discards and redrafts;
- the **human** (:mod:`~teamsim.sim._approver`) checks Needs attention in sessions and
  decides, oldest item first; an approval or edit is recorded at its minute and carried into
  the graph at the next tick (or at the run's end); a rejection is carried in at once, after
  the approvals recorded before it;
- **contacts** (:mod:`~teamsim.sim._contacts`) react to each delivered message with draws
  keyed by who they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import simpy

from teamsim.graph import RuleEvaluator
from teamsim.model import InvariantError, RunEnded, SimMinutes
from teamsim.sim._approver import Approver
from teamsim.sim._checks import audit, compute_metrics
from teamsim.sim._contacts import Contacts
from teamsim.sim._context import DAY, ProcessGenerator, RunContext
from teamsim.sim._enrollments import Enrollments
from teamsim.sim._gc import gc_tuned
from teamsim.sim._outbox import Outbox
from teamsim.sim._setup import TeamBuilder, set_up
from teamsim.sim._timeline import Timeline
from teamsim.sim._work import Work
from teamsim.sim.world import World
from teamsim.store import EventRecord, Store, canonical_line, events_digest

__all__ = ["ProcessGenerator", "Simulation", "SimulationResult", "TeamBuilder"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationResult:
    """What a run produced.

    Attributes:
        world: the world that ran.
        seed: the seed it ran with.
        events: the event log in canonical order (simulated time, then sequence number).
        digest: SHA-256 of the canonical event lines, each with its newline (the bytes of
            ``events.jsonl``); equal for equal world and seed.
        metrics: the run's metrics (see :func:`teamsim.sim.compute_metrics`).
        violations: broken invariants, one line each (empty in a correct run).
        store: the run's store, still open; close it when done.
    """

    world: World
    seed: int
    events: tuple[EventRecord, ...]
    digest: str
    metrics: dict[str, Any]
    violations: tuple[str, ...]
    store: Store

    def event_lines(self) -> Iterator[str]:
        """The events as canonical JSON lines (what ``events.jsonl`` holds)."""
        return (canonical_line(e) for e in self.events)



@dataclass(frozen=True, slots=True, kw_only=True)
class _Live:
    """A run under way: its context and the actors the end of the run needs."""

    ctx: RunContext
    work: Work
    approver: Approver


class Simulation:
    """One deterministic run of a :class:`~teamsim.sim.World`.

    Build one with :func:`teamsim.assembly.simulation`, which assembles the team (which
    drafter and reviewer each teammate uses).

    Args:
        world: sequences, teammates, contacts, personas, the human, rules and the timeline.
        team: builds the run's team from its teammates as stored (with their ids).
        seed: the run's seed (default: the world's). This is the one place the default is
            taken: callers pass ``seed`` through as they got it.
        store: where the run is recorded (default: a new in-memory SQLite store).
        until_days: stop after this many days instead of the world's ``days``.
        rules: the auto-approve rule evaluator (default: teamsim's rules engine over the
            world's rules).
        progress: called with the simulated day number as each day ends.
        max_concurrency: how many model calls of the steps due in one tick are made at once,
            for teammates whose agents prefetch (:class:`~teamsim.agents.Prefetching`); 1 (the
            default) makes them one after another. The results, and the digest, are the same
            whatever the value.
    """

    def __init__(
        self,
        world: World,
        *,
        team: TeamBuilder,
        seed: int | None = None,
        store: Store | None = None,
        until_days: float | None = None,
        rules: RuleEvaluator | None = None,
        progress: Callable[[int], None] | None = None,
        max_concurrency: int = 1,
    ) -> None:
        if until_days is not None and until_days <= 0:
            raise ValueError(f"until_days must be > 0, got {until_days}")
        if (not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool)
                or max_concurrency < 1):
            raise ValueError(f"max_concurrency must be an int >= 1, got {max_concurrency!r}")
        self.world = world
        self.seed = world.run_seed(seed)
        self.store = store if store is not None else Store.open("sqlite://")
        self.until: SimMinutes = world.minutes if until_days is None else round(until_days * DAY)
        self._team = team
        self._rules = rules
        self._progress = progress
        self._max_concurrency = max_concurrency
        self._ran = False
        self._finished = False
        self._stack: ExitStack | None = None
        self._live: _Live | None = None

    @gc_tuned()
    def run(self, *, check: bool = True) -> SimulationResult:
        """Run the world to its end and return the result (``advance()`` then ``finish()``).

        Raises:
            InvariantError: an invariant broke (when ``check``); ``err.result`` has the run.
        """
        if self._ran:
            raise RuntimeError("a Simulation runs once; make a new one for another run")
        self.advance(None)
        return self.finish(check=check)

    @property
    def minute(self) -> SimMinutes:
        """The simulated minute reached so far (0 before the first :meth:`advance`)."""
        return 0 if self._live is None else int(self._live.ctx.env.now)

    @property
    def over(self) -> bool:
        """Whether the run has reached its closing minute (``advance`` has nothing left)."""
        return self._live is not None and self._live.ctx.env.now >= self.until

    def advance(self, until: SimMinutes | datetime | simpy.Event | None = None) -> bool:
        """Run the world forward, and say whether it reached its end.

        Call it as often as needed, then :meth:`finish` once (``run()`` is ``advance(None)``
        then ``finish()``). Stopping and going on gives the event log, and the digest, of one
        uninterrupted run: SimPy stops before every event of ``until``'s minute and takes
        them up on the next call.

        Args:
            until: where to stop: a simulated minute (every event before that minute runs,
                none at it), a UTC-aware simulated time (the minute it falls in, rounded
                up), a SimPy event of this run's environment (see :attr:`env`; the run stops
                once it is processed, as with ``Environment.run(until=event)``), or ``None``
                for the run's end. A point past the end stops at the end; a point already
                reached does nothing.

        Returns:
            True when the run is over (its closing minute reached): call :meth:`finish`.
        """
        if self._finished:
            raise RuntimeError("the Simulation has finished; make a new one for another run")
        live = self._begin()
        env = live.ctx.env
        try:
            with gc_tuned():
                if isinstance(until, simpy.Event):
                    # What env.run(until=event) does, but never into the closing minute.
                    while not until.processed and env.peek() < self.until:
                        env.step()
                else:
                    stop = self.until if until is None else min(self.until, self._minute(until))
                    if stop > env.now:
                        env.run(until=stop)
        except BaseException:
            self.close()
            raise
        return self.over

    def events_so_far(self) -> tuple[EventRecord, ...]:
        """The events logged so far, in the order they were logged (``seq``).

        A run stopped at any point has logged exactly the first events of the uninterrupted
        run in this order (the canonical order of :class:`SimulationResult` sorts by time
        first, and an approval carried in at a later tick is stamped with the human's minute,
        so only the logging order gives a prefix).
        """
        if self._live is None:
            return ()
        return tuple(sorted(self._live.ctx.uow.events.retained(), key=lambda e: e.seq))

    @gc_tuned()
    def finish(self, *, check: bool = True) -> SimulationResult:
        """End the run: run to the closing minute if :meth:`advance` has not, carry in the
        human's last decisions, log ``run.ended``, commit, audit and compute the metrics.

        Raises:
            InvariantError: an invariant broke (when ``check``); ``err.result`` has the run.
        """
        if self._finished:
            raise RuntimeError("a Simulation finishes once; make a new one for another run")
        self.advance(None)
        live = self._live
        if live is None:  # pragma: no cover - advance() made it
            raise RuntimeError("the simulation did not start")
        self._finished = True
        try:
            ctx, work, approver = live.ctx, live.work, live.approver
            work.apply_decisions()  # the decisions made after the last tick
            ctx.log(RunEnded(minute=self.until, teammate_busy_minutes=work.busy_minutes,
                             human_minutes=approver.minutes))
            ctx.commit()
            events = tuple(sorted(ctx.uow.events.retained(), key=lambda e: (e.at, e.seq)))
        finally:
            self.close()
        counters, problems = audit(events)
        violations = tuple(problems)
        metrics = compute_metrics(events, self.world, self.until, invariants=counters)
        result = SimulationResult(world=self.world, seed=self.seed, events=events,
                                  digest=events_digest(events), metrics=metrics,
                                  violations=violations, store=self.store)
        if check and violations:
            error = InvariantError(
                f"run of {self.world.name!r} (seed {self.seed}) broke "
                f"{len(violations)} invariant(s):\n" + "\n".join(violations[:20]))
            error.result = result  # type: ignore[attr-defined]
            raise error
        return result

    def close(self) -> None:
        """Abandon a run stopped part way: stop the pipeline's worker threads and end the
        unit of work (uncommitted rows are rolled back). :meth:`finish` closes by itself;
        closing twice does nothing. The store stays open."""
        stack, self._stack = self._stack, None
        if stack is not None:
            self._finished = True
            stack.close()

    @property
    def env(self) -> simpy.Environment:
        """The run's SimPy environment (made by the first :meth:`advance`, or here): to
        build an event to stop at (``sim.env.timeout(...)``, an event the caller triggers)."""
        return self._begin().ctx.env

    def _minute(self, when: SimMinutes | datetime) -> SimMinutes:
        if isinstance(when, datetime):
            if when.tzinfo is None:
                raise ValueError(f"advance(until=...): give a time zone-aware time, got {when}")
            seconds = (when - self.world.start_utc).total_seconds()
            return max(0, math.ceil(seconds / 60))
        if isinstance(when, bool) or not isinstance(when, int):
            raise TypeError(f"advance(until=...): minutes must be an int, got {when!r}")
        return when

    def _begin(self) -> _Live:
        """Build the run (context and actors) the first time it is needed."""
        if self._live is not None:
            return self._live
        if self._finished:
            raise RuntimeError("the Simulation has finished; make a new one for another run")
        self._ran = True
        stack = ExitStack()
        try:
            uow = stack.enter_context(self.store.unit_of_work())
            uow.events.retain()  # the whole log is needed at the end: no read-back
            ctx = RunContext(self.world, seed=self.seed, uow=uow, until=self.until)
            cast = set_up(ctx, self._team, self._rules, max_concurrency=self._max_concurrency)
            stack.callback(ctx.pipeline.close)  # its worker threads, if any: also on error
            enrollments = Enrollments(ctx, cast.plan)
            outbox = Outbox(ctx, enrollments, Contacts(ctx, enrollments))
            work = Work(ctx, cast.team, enrollments, outbox)
            approver = Approver(ctx, enrollments, work, outbox)
            timeline = Timeline(ctx, enrollments, work, outbox, approver)
            for process in (timeline.run(), enrollments.run(), work.run(), approver.run(),
                            self._days(ctx)):
                ctx.env.process(process)
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        self._live = _Live(ctx=ctx, work=work, approver=approver)
        return self._live

    def _days(self, ctx: RunContext) -> ProcessGenerator:
        """Commit the store and report progress once a simulated day."""
        day = 0
        while True:
            yield ctx.env.timeout(DAY)
            day += 1
            ctx.commit()
            if self._progress is not None:
                self._progress(day)
