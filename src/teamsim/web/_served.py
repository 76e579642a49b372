"""A served run: one simulation in step mode, played by the person at the page.

:class:`ServedRun` owns the :class:`~teamsim.sim.Simulation` (given a decision source, so the
scripted approver waits), the decisions journal, and one worker thread. Every touch of the
simulation and its store happens on that thread, one at a time, whichever server thread the
request came in on: SimPy and the store's unit of work are not thread-safe, and one lane also
makes a double click two requests in a row, the second of which finds the item decided.

Each decision is checked, journaled (fsynced) and only then applied, at the run's current
simulated minute. At the end the run is written to a run folder by replaying the journal
through :func:`teamsim.runner.run` (the code path of ``teamsim run --decisions``), and the
replay's digest is compared with the served run's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from teamsim.assembly import simulation
from teamsim.model import TeamsimError
from teamsim.reports import StepFunnel
from teamsim.runner import DecisionJournal, run
from teamsim.scenario import Scenario
from teamsim.sim import (
    HumanAction,
    HumanInput,
    ListDecisions,
    Simulation,
    audit,
    compute_metrics,
)
from teamsim.web._views import (
    AttentionView,
    EventView,
    SequenceView,
    attention_views,
    checklist,
    event_views,
    funnel,
    sequence_views,
    stamp,
)

__all__ = ["Advance", "Outcome", "RunView", "ServedRun"]

T = TypeVar("T")


class Advance(StrEnum):
    """How far the person moves the clock."""

    SESSION = "session"
    """To the human's next check-in session with something in Needs attention."""
    DAY = "day"
    """One simulated day on."""
    END = "end"
    """To the end; the scripted approver takes over the remaining items."""
    END_UNDECIDED = "end-undecided"
    """To the end; the remaining items stay undecided."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a request did: ``ok`` false when it was refused, with the reason."""

    ok: bool
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunView:
    """The Run page: the clock, the funnel, the metrics, the event log."""

    clock: str
    minute: int
    over: bool
    funnel: list[StepFunnel]
    metrics: dict[str, Any]
    events: list[EventView]
    matched: int
    contact: str
    contact_id: int | None
    digest: str | None
    out_dir: str | None
    journal: str
    error: str = ""


@dataclass(slots=True)
class _State:
    over: bool = False
    digest: str | None = None
    replay_digest: str | None = None
    out_dir: Path | None = None
    final_metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class ServedRun:
    """One run of ``world`` with ``seed`` in step mode.

    Args:
        world: the scenario (its teammates must use the template team: no ``model:``).
        seed: the seed (default: the scenario's).
        journal: where to start the decisions journal (must not exist).
        out: the run folder written at the end (``None``: none).
        db: record the end-of-run replay in this database too.
        force: replace an earlier run folder at ``out``.
        source: the scenario file's path (named in run.json).

    Raises:
        TeamsimError: a teammate is model-backed, or the journal cannot be started.
    """

    def __init__(self, world: Scenario, *, seed: int | None, journal: Path,
                 out: Path | None = None, db: str | None = None, force: bool = False,
                 source: str | None = None) -> None:
        backed = sorted(name for name, spec in world.model_specs().items() if spec is not None)
        if backed:
            raise TeamsimError(
                f"{source or world.name}: teammates {', '.join(backed)} are model-backed; "
                "teamsim serve runs the template team: set their model to null in a copy of "
                "the file")
        self.world = world
        self.seed = world.run_seed(seed)
        self.out = out
        self._db = db
        self._force = force
        self._source = source
        self._lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="teamsim-served")
        self._lock = threading.Lock()
        self._state = _State()
        self.journal = DecisionJournal.create(journal, world, self.seed)
        self._sim: Simulation = self._call(
            lambda: simulation(world, seed=self.seed, decisions=ListDecisions()))
        self._call(self._to_next_session)

    # -- the lane -------------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the run's own thread, one call at a time."""
        with self._lock:
            return self._lane.submit(fn).result()

    def close(self) -> None:
        """Drop a run in flight and stop the worker thread."""
        try:
            self._call(self._sim.close)
        finally:
            self._lane.shutdown(wait=True)

    # -- reading --------------------------------------------------------------------------

    @property
    def over(self) -> bool:
        """Whether the run has reached its end."""
        return self._state.over

    def clock(self) -> str:
        """The simulated moment the run stands at."""
        return self._call(lambda: stamp(self._sim.now))

    def human_plays(self) -> bool:
        """Whether the person still plays the human."""
        return self._call(lambda: self._sim.human_plays)

    def attention(self) -> list[AttentionView]:
        """Needs attention as it stands (empty once the run is over)."""
        if self._state.over:
            return []
        return self._call(lambda: attention_views(self._sim.uow, self._sim.now,
                                                  self.world.approver.timezone))

    def sequences(self) -> list[SequenceView]:
        """The sequences as they stand."""
        if self._state.over:
            return []
        return self._call(lambda: sequence_views(self._sim.uow))

    def checklist(self, sequence: str, contact: str | None) -> list[str]:
        """"Why isn't it sending?" for ``sequence`` (or one person on it), now.

        Raises:
            TeamsimError: the sequence or person is unknown.
        """
        if self._state.over:
            raise TeamsimError("the run is over; see its run folder with teamsim diagnose")
        return self._call(lambda: checklist(self._sim.uow, sequence, contact, self._sim.now))

    def run_view(self, contact: str) -> RunView:
        """The Run page's content (the event log only ``contact``'s, when given)."""
        return self._call(lambda: self._run_view(contact.strip()))

    def _run_view(self, contact: str) -> RunView:
        state = self._state
        if state.over:
            return RunView(clock=stamp(self.world.start_utc + timedelta(
                               minutes=self._sim.until)), minute=self._sim.until, over=True,
                           funnel=[], metrics=state.final_metrics, events=[], matched=0,
                           contact=contact, contact_id=None, digest=state.digest,
                           out_dir=None if state.out_dir is None else str(state.out_dir),
                           journal=str(self.journal.path), error=state.error)
        uow = self._sim.uow
        events = sorted(self._sim.events_so_far(), key=lambda e: (e.at, e.seq))
        contact_id, error = None, ""
        if contact:
            try:
                contact_id = uow.contacts.get(contact).id
            except TeamsimError:
                error = f"no contact {contact!r} in this run"
        counters, _ = audit(events)
        metrics = compute_metrics(events, self.world, max(self._sim.minute, 1),
                                  invariants=counters)
        shown, matched = event_views(events, contact_id) if not error else ([], 0)
        return RunView(clock=stamp(self._sim.now), minute=self._sim.minute, over=False,
                       funnel=funnel(events, self.world), metrics=metrics, events=shown,
                       matched=matched, contact=contact, contact_id=contact_id, digest=None,
                       out_dir=None, journal=str(self.journal.path), error=error)

    # -- acting ---------------------------------------------------------------------------

    def decide(self, action: HumanAction, *, item_id: int | None = None,
               sequence: str | None = None, subject: str | None = None,
               body: str | None = None, note: str = "") -> Outcome:
        """Apply the person's decision now: checked, journaled, then applied. A decision
        that cannot be applied (an item already decided: a double click, a second tab) is
        refused with the reason and changes nothing."""
        return self._call(lambda: self._decide(action, item_id, sequence, subject, body, note))

    def _decide(self, action: HumanAction, item_id: int | None, sequence: str | None,
                subject: str | None, body: str | None, note: str) -> Outcome:
        if self._state.over:
            return Outcome(ok=False, message="the run is over; nothing is left to decide")
        try:
            given = HumanInput(minute=self._sim.minute, action=action, item_id=item_id,
                               sequence=sequence, subject=subject, body=body, note=note)
        except ValueError as exc:
            return Outcome(ok=False, message=str(exc))
        reason = self._sim.refusal(given)
        if reason is not None:
            return Outcome(ok=False, message=reason)
        self.journal.append(given, self.world.start_utc)
        self._sim.decide(given)
        what = f"item {item_id}" if item_id is not None else (sequence or "the run")
        return Outcome(ok=True, message=f"{action.value}: {what}, at {stamp(self._sim.now)}")

    def advance(self, how: Advance) -> Outcome:
        """Move the clock on (see :class:`Advance`)."""
        return self._call(lambda: self._advance(how))

    def _advance(self, how: Advance) -> Outcome:
        if self._state.over:
            return Outcome(ok=False, message="the run is over")
        if how is Advance.DAY:
            self._sim.advance(self._sim.now + timedelta(days=1))
        elif how is Advance.SESSION:
            self._to_next_session()
        else:
            if how is Advance.END and self._sim.human_plays:
                outcome = self._decide(HumanAction.HAND_OVER, None, None, None, None, "")
                if not outcome.ok:
                    return outcome
            self._sim.advance(None)
        if self._sim.minute >= self._sim.until:
            return self._finish()
        return Outcome(ok=True, message=f"the clock stands at {stamp(self._sim.now)}")

    def _to_next_session(self) -> None:
        """Run to the next check-in session at which something waits in Needs attention (or
        to the end); a session with nothing to decide is passed."""
        sim = self._sim
        while sim.minute < sim.until:
            session = sim.next_check_in()
            if session is None:
                sim.advance(None)
                return
            sim.advance(self.world.start_utc + timedelta(minutes=session))
            if sim.minute >= sim.until:
                return
            if sim.uow.attention.list("open"):
                return

    def _finish(self) -> Outcome:
        """End the served run; write its run folder by replaying the journal."""
        state = self._state
        result = self._sim.finish(check=False)
        state.over, state.digest = True, result.digest
        state.final_metrics = dict(result.metrics)
        result.store.close()
        if self.out is None:
            return Outcome(ok=True, message=f"the run is over: digest {result.digest[:12]}")
        try:
            journal = DecisionJournal.read(self.journal.path, self.world, self.seed)
            replay = run(self.world, seed=self.seed, out=self.out, db=self._db,
                         force=self._force, source=self._source, decisions=journal)
        except TeamsimError as exc:
            state.error = f"the run folder was not written: {exc}"
            return Outcome(ok=False, message=state.error)
        replay.close()
        state.out_dir, state.replay_digest = self.out, replay.digest
        if replay.digest != result.digest:
            state.error = (f"the replay of the journal gave digest {replay.digest[:12]}, the "
                           f"served run {result.digest[:12]}: please report this")
            return Outcome(ok=False, message=state.error)
        return Outcome(ok=True, message=f"the run is over: digest {result.digest[:12]}, "
                                        f"written to {self.out}")

