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
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from teamsim.graph import RuleEvaluator
from teamsim.model import InvariantError, RunEnded, SimMinutes
from teamsim.sim._approver import Approver
from teamsim.sim._checks import audit_and_measure
from teamsim.sim._contacts import Contacts
from teamsim.sim._context import DAY, ProcessGenerator, RunContext
from teamsim.sim._enrollments import Enrollments
from teamsim.sim._gc import gc_tuned
from teamsim.sim._outbox import Outbox
from teamsim.sim._setup import TeamBuilder, set_up
from teamsim.sim._timeline import Timeline
from teamsim.sim._work import Work
from teamsim.sim.world import World
from teamsim.store import EventRecord, Store, StoredEvents, canonical_line

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

    @gc_tuned()
    def run(self, *, check: bool = True) -> SimulationResult:
        """Run the world to its end and return the result.

        Raises:
            InvariantError: an invariant broke (when ``check``); ``err.result`` has the run.
        """
        if self._ran:
            raise RuntimeError("a Simulation runs once; make a new one for another run")
        self._ran = True
        with ExitStack() as stack:
            uow = stack.enter_context(self.store.unit_of_work())
            first = uow.events.last_seq()  # the run's log follows what the store held
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
            ctx.env.run(until=self.until)
            work.apply_decisions()  # the decisions made after the last tick
            ctx.log(RunEnded(minute=self.until, teammate_busy_minutes=work.busy_minutes,
                             human_minutes=approver.minutes))
            ctx.commit()
            last = uow.events.last_seq()
            # One walk of the log, read back page by page in canonical order: the audit, the
            # metrics and the digest (nothing of the log is held; see README, Performance).
            digest = hashlib.sha256()
            _, problems, metrics = audit_and_measure(
                _hashed(uow.events.canonical(after=first, upto=last), digest.update),
                self.world, self.until)
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

    def _days(self, ctx: RunContext) -> ProcessGenerator:
        """Commit the store and report progress once a simulated day."""
        day = 0
        while True:
            yield ctx.env.timeout(DAY)
            day += 1
            ctx.commit()
            if self._progress is not None:
                self._progress(day)
