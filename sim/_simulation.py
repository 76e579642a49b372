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

import hashlib
import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import simpy

from teamsim.graph import RuleEvaluator
from teamsim.model import ActivationError, InvariantError, RunEnded, SimMinutes
from teamsim.sim._actions import ActivateAction, PauseAction, TimelineAction
from teamsim.sim._approver import Approver
from teamsim.sim._checks import audit_and_measure
from teamsim.sim._contacts import Contacts
from teamsim.sim._context import DAY, ProcessGenerator, RunContext
from teamsim.sim._enrollments import Enrollments
from teamsim.sim._gc import gc_tuned
from teamsim.sim._human import SEQUENCE_ACTIONS, DecisionSource, HumanAction, HumanInput
from teamsim.sim._outbox import Outbox
from teamsim.sim._setup import TeamBuilder, set_up
from teamsim.sim._timeline import Timeline
from teamsim.sim._work import Work
from teamsim.sim.world import World
from teamsim.store import EventRecord, Store, StoredEvents, UnitOfWork, canonical_line

__all__ = ["ProcessGenerator", "Simulation", "SimulationResult", "TeamBuilder"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationResult:
    """What a run produced.

    Attributes:
        world: the world that ran.
        seed: the seed it ran with.
        events: the event log in canonical order (simulated time, then sequence number), a
            read-only sequence read from ``store`` as it is used (``len()``, iteration page
            by page, ``events[i]``; ``tuple(result.events)`` to hold it all): the run does
            not keep its log in memory.
        digest: SHA-256 of the canonical event lines, each with its newline (the bytes of
            ``events.jsonl``); equal for equal world and seed.
        metrics: the run's metrics (see :func:`teamsim.sim.compute_metrics`).
        violations: broken invariants, one line each (empty in a correct run).
        store: the run's store, still open; close it when done.
    """

    world: World
    seed: int
    events: StoredEvents
    digest: str
    metrics: dict[str, Any]
    violations: tuple[str, ...]
    store: Store

    def event_lines(self) -> Iterator[str]:
        """The events as canonical JSON lines (what ``events.jsonl`` holds)."""
        return (canonical_line(e) for e in self.events)



def _hashed(events: Iterator[EventRecord], update: Callable[[bytes], object]
            ) -> Iterator[EventRecord]:
    """``events``, each one's canonical line (and newline) given to ``update`` on the way:
    the bytes of ``events.jsonl``, as :func:`teamsim.store.events_digest` hashes them."""
    for event in events:
        update(canonical_line(event).encode("utf-8"))
        update(b"\n")
        yield event


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
        decisions: a person plays the human (see :mod:`teamsim.sim._human`): the scripted
            approver's sessions are held back (until a ``hand_over``), and :meth:`run`
            applies the source's inputs at their minutes; a live run calls :meth:`advance`
            and :meth:`decide` itself (then the source may be empty).

    A run is either :meth:`run` whole, or stepped: :meth:`advance` to a moment, read it
    (:attr:`uow`), :meth:`decide`, and so on, then :meth:`finish`. Stopping changes nothing
    in the run: a stepped run and a whole one with the same inputs log the same events.
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
        decisions: DecisionSource | None = None,
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
        self._decisions = decisions
        self._inputs: Iterator[HumanInput] | None = None
        self._next_input: HumanInput | None = None
        self._input_number = 0
        self._started = False
        self._first_seq = 0
        self._stack: ExitStack | None = None
        self._ctx: RunContext | None = None
        self._work: Work | None = None
        self._approver: Approver | None = None
        self._timeline: Timeline | None = None

    @gc_tuned()
    def run(self, *, check: bool = True) -> SimulationResult:
        """Run the world to its end and return the result.

        With a :class:`DecisionSource`, each of its inputs is applied at its minute (the run
        stops there, applies it, and goes on).

        Raises:
            InvariantError: an invariant broke (when ``check``); ``err.result`` has the run.
            ValueError: an input of the decision source cannot be applied (its minute is
                earlier than the one before, after the run's end, or it answers an item that
                is not open: the source was made by another run).
        """
        if self._started:
            raise RuntimeError("a Simulation runs once; make a new one for another run")
        self.advance(None)
        return self.finish(check=check)

    # -- stepping ---------------------------------------------------------------------------

    @property
    def minute(self) -> SimMinutes:
        """The simulated minute the run stands at (0 before it starts, its last minute once
        finished)."""
        if self._ctx is not None:
            return self._ctx.minute()
        return self.until if self._started else 0

    @property
    def now(self) -> datetime:
        """The simulated moment the run stands at (UTC)."""
        return self.world.start_utc + timedelta(minutes=self.minute)

    @property
    def uow(self) -> UnitOfWork:
        """The run's unit of work, open while the run is (started and not finished): read
        the run so far through it; writes belong to the simulation."""
        return self._running().uow

    @property
    def over(self) -> bool:
        """Whether the run has reached its closing minute (``advance`` has nothing left)."""
        return self._started and self.minute >= self.until

    @property
    def env(self) -> simpy.Environment:
        """The run's SimPy environment (the run is built here if it was not yet): to make an
        event to stop at (``sim.env.timeout(...)``, or an event the caller triggers)."""
        return self._running().env

    def advance(self, until: SimMinutes | datetime | simpy.Event | None = None) -> bool:
        """Run the world forward, and say whether it reached its end.

        Call it as often as needed, then :meth:`finish` once (``run()`` is ``advance(None)``
        then ``finish()``). Stopping and going on gives the event log, and the digest, of one
        uninterrupted run: SimPy stops before every event of ``until``'s minute and takes them
        up on the next call. With a :class:`DecisionSource`, each of its inputs is applied
        when the clock reaches its minute, before anything else of that minute happens.

        Args:
            until: where to stop: a simulated minute (every event before that minute runs,
                none at it), a UTC-aware simulated time (the minute it falls in, rounded up),
                a SimPy event of this run's environment (see :attr:`env`; the run stops once
                it is processed, as with ``Environment.run(until=event)``, never running into
                the closing minute), or ``None`` for the run's end. A point past the end stops
                at the end; a point already reached does nothing.

        Returns:
            True when the run is over (its closing minute reached): call :meth:`finish`.

        Raises:
            ValueError: an input of the decision source cannot be applied (its minute is
                earlier than the one before, not before the run's end, or it answers an item
                that is not open: the source was made by another run).
        """
        ctx = self._running()
        env = ctx.env
        try:
            with gc_tuned():
                if isinstance(until, simpy.Event):
                    while not until.processed and env.peek() < self.until:
                        given = self._upcoming()
                        if given is not None and given.minute <= env.peek():
                            self._apply_input(given)
                        else:
                            env.step()
                else:
                    stop = self.until if until is None else min(self.until, self._minute(until))
                    self._advance_to(stop)
        except BaseException:
            self.close()
            raise
        return self.over

    def _minute(self, when: SimMinutes | datetime) -> SimMinutes:
        if isinstance(when, datetime):
            if when.tzinfo is None:
                raise ValueError(f"advance(until=...): give a time zone-aware time, got {when}")
            return max(0, math.ceil((when - self.world.start_utc).total_seconds() / 60))
        if isinstance(when, bool) or not isinstance(when, int):
            raise TypeError(f"advance(until=...): minutes must be an int, got {when!r}")
        return max(0, when)

    def _upcoming(self) -> HumanInput | None:
        """The decision source's next input not applied yet (``None``: none left)."""
        if self._decisions is None:
            return None
        if self._inputs is None:
            self._inputs = iter(self._decisions.inputs())
            self._next_input = next(self._inputs, None)
        return self._next_input

    def _apply_input(self, given: HumanInput) -> None:
        """Go to ``given``'s minute (nothing of that minute run yet) and apply it."""
        self._input_number += 1
        number, env = self._input_number, self._running().env
        if given.minute >= self.until:
            raise ValueError(f"decision {number}: minute {given.minute} is not before "
                             f"the run's end ({self.until})")
        if given.minute < env.now:
            raise ValueError(f"decision {number}: minute {given.minute} is earlier "
                             f"than the decision before it ({int(env.now)})")
        if given.minute > env.now:
            env.run(until=given.minute)
        try:
            self.decide(given)
        except ValueError as exc:
            raise ValueError(f"decision {number} (minute {given.minute}, "
                             f"{given.action.value}): {exc}") from None
        if self._inputs is not None:
            self._next_input = next(self._inputs, None)

    def events_so_far(self) -> tuple[EventRecord, ...]:
        """The events this run has logged so far, in the order they were logged (``seq``),
        read back from the store (the run holds none of them in memory).

        A run stopped at any point has logged exactly the first events of the uninterrupted
        run in this order (the canonical order of :class:`SimulationResult` sorts by time
        first, and an approval carried in at a later tick is stamped with the human's minute,
        so only the logging order gives a prefix).
        """
        return tuple(self._running().uow.events.iter(after=self._first_seq))

    def next_check_in(self) -> SimMinutes | None:
        """The minute of the human's next check-in session after now (``None``: none
        before the run's end)."""
        ctx = self._running()
        if self._approver is None:
            raise RuntimeError("the simulation has not started")
        return self._approver.next_session(ctx.minute() + 1)

    @property
    def human_plays(self) -> bool:
        """Whether a person plays the human now (a decision source was given and they have
        not handed over to the scripted approver)."""
        return self._approver is not None and self._approver.human

    def refusal(self, given: HumanInput) -> str | None:
        """Why ``given`` cannot be applied now (``None``: it can)."""
        self._start()
        if self._approver is None or self._timeline is None:
            raise RuntimeError("the simulation has not started")
        if given.minute != self.minute:
            return (f"it is minute {self.minute} of the run, and the decision is for minute "
                    f"{given.minute}")
        if given.action in SEQUENCE_ACTIONS:
            if given.sequence not in self._running().sequences:
                return f"there is no sequence {given.sequence!r}"
            if given.action is HumanAction.ACTIVATE:
                try:
                    self._running().seq(given.sequence or "").check_activatable()
                except ActivationError as exc:
                    return str(exc)
            return None
        if self._decisions is None:
            return "a scripted approver plays the human in this run"
        return self._approver.refusal(given)

    def decide(self, given: HumanInput) -> None:
        """Apply the person's input ``given`` now (its minute must be the run's).

        Raises:
            ValueError: it cannot be applied (:meth:`refusal` says why).
        """
        reason = self.refusal(given)
        if reason is not None:
            raise ValueError(reason)
        if self._approver is None or self._timeline is None:
            raise RuntimeError("the simulation has not started")
        if given.action in SEQUENCE_ACTIONS:
            at = given.minute / DAY
            name = given.sequence or ""
            action: TimelineAction = (
                PauseAction(at=at, action="pause", sequence=name)
                if given.action is HumanAction.PAUSE
                else ActivateAction(at=at, action="activate", sequence=name))
            self._timeline.apply(action)
        else:
            self._approver.apply(given)

    @gc_tuned()
    def finish(self, *, check: bool = True) -> SimulationResult:
        """End the run: run to the closing minute if :meth:`advance` has not, carry in the
        human's last decisions, log ``run.ended``, commit, audit and compute the metrics.

        Raises:
            InvariantError: an invariant broke (when ``check``); ``err.result`` has the run.
        """
        self.advance(None)
        ctx, stack = self._running(), self._stack
        if self._work is None or self._approver is None or stack is None:
            raise RuntimeError("the simulation has not started")
        try:
            self._work.apply_decisions()  # the decisions made after the last tick
            ctx.log(RunEnded(minute=self.until, teammate_busy_minutes=self._work.busy_minutes,
                             human_minutes=self._approver.minutes))
            ctx.commit()
            first, last = self._first_seq, ctx.uow.events.last_seq()
            # One walk of the log, read back page by page in canonical order: the audit, the
            # metrics and the digest (nothing of the log is held; see README, Performance).
            digest = hashlib.sha256()
            _, problems, metrics = audit_and_measure(
                _hashed(ctx.uow.events.canonical(after=first, upto=last), digest.update),
                self.world, self.until)
        finally:
            self._ctx = None
            self._stack = None
            stack.close()
        violations = tuple(problems)
        result = SimulationResult(world=self.world, seed=self.seed,
                                  events=StoredEvents(self.store, after=first, upto=last),
                                  digest=digest.hexdigest(), metrics=metrics,
                                  violations=violations, store=self.store)
        if check and violations:
            error = InvariantError(
                f"run of {self.world.name!r} (seed {self.seed}) broke "
                f"{len(violations)} invariant(s):\n" + "\n".join(violations[:20]))
            error.result = result  # type: ignore[attr-defined]
            raise error
        return result

    def close(self) -> None:
        """Abandon a run in flight (its unit of work is rolled back); nothing if none is."""
        stack, self._stack, self._ctx = self._stack, None, None
        if stack is not None:
            stack.close()

    def _running(self) -> RunContext:
        self._start()
        if self._ctx is None:
            raise RuntimeError("the run has finished")
        return self._ctx

    def _start(self) -> None:
        """Set the run up (once): the unit of work, the context, the actors."""
        if self._started:
            return
        self._started = True
        stack = ExitStack()
        try:
            uow = stack.enter_context(self.store.unit_of_work())
            self._first_seq = uow.events.last_seq()  # the run's log follows what the store held
            ctx = RunContext(self.world, seed=self.seed, uow=uow, until=self.until)
            cast = set_up(ctx, self._team, self._rules, max_concurrency=self._max_concurrency)
            stack.callback(ctx.pipeline.close)  # its worker threads, if any: also on error
            enrollments = Enrollments(ctx, cast.plan)
            outbox = Outbox(ctx, enrollments, Contacts(ctx, enrollments))
            work = Work(ctx, cast.team, enrollments, outbox)
            approver = Approver(ctx, enrollments, work, outbox,
                                human=self._decisions is not None)
            timeline = Timeline(ctx, enrollments, work, outbox, approver)
            for process in (timeline.run(), enrollments.run(), work.run(), approver.run(),
                            self._days(ctx)):
                ctx.env.process(process)
        except BaseException:
            stack.close()
            raise
        self._stack, self._ctx = stack, ctx
        self._work, self._approver, self._timeline = work, approver, timeline

    def _advance_to(self, minute: SimMinutes) -> None:
        """Run the environment up to (not including) ``minute``, applying the decision
        source's inputs of minutes up to ``minute`` on the way (the caller closes the run
        if this raises)."""
        env = self._running().env
        # At the run's end, an input left over (its minute at or past the end) is an error,
        # never silently dropped.
        while (given := self._upcoming()) is not None and (
                given.minute <= minute or minute >= self.until):
            self._apply_input(given)
        if minute > env.now:
            env.run(until=minute)

    def _days(self, ctx: RunContext) -> ProcessGenerator:
        """Commit the store and report progress once a simulated day."""
        day = 0
        while True:
            yield ctx.env.timeout(DAY)
            day += 1
            ctx.commit()
            if self._progress is not None:
                self._progress(day)
