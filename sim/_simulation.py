"""The campaign simulator: one SimPy environment per run, every actor a process in it.

Actors and their order within one simulated minute (SimPy runs events of the same minute in the
order they were scheduled, which is itself a pure function of the world and the seed; the rules
below fix the order inside each actor):

- the **timeline** applies scripted actions in file order;
- **enrollments** walk their sequence: a wait starts a timer, a branch decides, a message step
  falls *due*;
- the **scheduler** wakes every ``tick_minutes``; it picks up due steps oldest first (due time,
  then enrollment id) and hands each to its sequence's teammate, then dispatches the outbox
  (follow-ups before first messages, then by queue time and message id);
- **teammates** are SimPy resources of their capacity; a task holds its drafter and its peer
  reviewer (acquired in name order, so two tasks never deadlock) for the minutes the drafter
  and reviewer report, and the draft then lands in Needs attention;
- the **human** checks Needs attention in sessions and decides, oldest item first;
- **contacts** react to each delivered message with draws keyed by who they are.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import simpy

from teamsim.agents import (
    Drafter,
    Reviewer,
    RuleReviewer,
    Team,
    TeamMember,
    TemplateDrafter,
    ThreadMessage,
)
from teamsim.graph import HumanDecision, Pipeline, PipelineConfig, PipelineResult, RuleEvaluator
from teamsim.model import (
    AutoApproveRule,
    BranchStep,
    Contact,
    EngagementCondition,
    EnrollmentStatus,
    InvariantError,
    MessageStep,
    Sequence,
    SequenceStatus,
    SimMinutes,
    Teammate,
    TeammateRole,
    WaitStep,
)
from teamsim.sim._catch_up import release_minutes
from teamsim.sim._checks import audit, compute_metrics
from teamsim.sim._names import generated_contact
from teamsim.sim._random import KeyedRandom
from teamsim.sim._rules import RulesEngine, covering_rule
from teamsim.sim._walk import first_of, next_after, step_ids
from teamsim.sim.config import (
    ActivateAction,
    ChatAction,
    DisableRuleAction,
    EditAction,
    EnableRuleAction,
    EndAction,
    EnrollAction,
    PauseAction,
    Persona,
    ResumeAction,
    World,
)
from teamsim.store import (
    EventRecord,
    ReplyKind,
    Store,
    UnitOfWork,
    canonical_line,
    events_digest,
)

__all__ = ["ProcessGenerator", "Simulation", "SimulationResult"]

ProcessGenerator = Generator[simpy.Event, Any, None]
"""A SimPy process: a generator of events."""

_DAY = 1440


@dataclass(slots=True)
class _Sent:
    message_id: int
    minute: SimMinutes
    opened: SimMinutes | None = None
    clicked: SimMinutes | None = None


@dataclass(slots=True)
class _Enrollment:
    id: int
    seq: str
    contact: Contact
    persona: Persona
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE
    step_id: str | None = None
    token: int = 0
    task_id: int | None = None
    working: bool = False
    parked: bool = False
    sent: dict[str, _Sent] = field(default_factory=dict)
    messages: int = 0
    thread: list[ThreadMessage] = field(default_factory=list)
    watch: tuple[str, Callable[[], None]] | None = None


@dataclass(slots=True)
class _Task:
    """What the simulator remembers of a pipeline task until its message is queued."""

    drafter: str
    contact: Contact
    channel: str
    step_id: str | None
    edited: bool = False


@dataclass(slots=True)
class _Outgoing:
    message_id: int
    task_id: int
    contact: Contact
    teammate: str
    channel: str
    queued: SimMinutes
    not_before: SimMinutes
    enrollment: _Enrollment | None = None
    token: int = 0
    step_id: str | None = None
    follow_up: bool = False
    edited: bool = False
    flagged: bool = False
    subject: str | None = None
    body: str = ""
    rule_id: int | None = None


@dataclass(slots=True)
class _Attention:
    item_id: int
    kind: str
    created: SimMinutes
    task_id: int | None = None
    draft_id: int | None = None
    enrollment: _Enrollment | None = None
    rule_id: int | None = None
    open: bool = True


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


class Simulation:
    """One deterministic run of a :class:`~teamsim.sim.World`.

    Args:
        world: sequences, teammates, contacts, personas, the human, rules and the timeline.
        seed: the run's seed (default: the world's).
        store: where the run is recorded (default: a new in-memory SQLite store).
        until_days: stop after this many days instead of the world's ``days``.
        drafters: drafters by teammate name, replacing the template drafter (plug in an LLM).
        reviewers: reviewers by teammate name, replacing the rule reviewer.
        rules: the auto-approve rule evaluator (default: teamsim's rules engine over the
            world's rules).
        progress: called with the simulated day number as each day ends.
    """

    def __init__(
        self,
        world: World,
        *,
        seed: int | None = None,
        store: Store | None = None,
        until_days: float | None = None,
        drafters: Mapping[str, Drafter] | None = None,
        reviewers: Mapping[str, Reviewer] | None = None,
        rules: RuleEvaluator | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        if until_days is not None and until_days <= 0:
            raise ValueError(f"until_days must be > 0, got {until_days}")
        self.world = world
        self.seed = world.seed if seed is None else seed
        self.store = store if store is not None else Store.open("sqlite://")
        self.until: SimMinutes = world.minutes if until_days is None else round(until_days * _DAY)
        self.env = simpy.Environment()
        self.rng = KeyedRandom(self.seed)
        self._drafters = dict(drafters or {})
        self._reviewers = dict(reviewers or {})
        self._rules = rules
        self._progress = progress
        self._start = world.start_utc
        self._tz = ZoneInfo(world.timezone)
        self._human_tz = ZoneInfo(world.approver.timezone)
        self._ran = False
        self.rules_engine: RulesEngine | None = None

    # ------------------------------------------------------------------------------------------
    # running

    def run(self, *, check: bool = True) -> SimulationResult:
        """Run the world to its end and return the result.

        Raises:
            InvariantError: an invariant broke (when ``check``); ``err.result`` has the run.
        """
        if self._ran:
            raise RuntimeError("a Simulation runs once; make a new one for another run")
        self._ran = True
        with ExitStack() as stack:
            self.uow: UnitOfWork = stack.enter_context(self.store.unit_of_work())
            self.uow.events.retain()  # the whole log is needed at the end: no read-back
            self._setup()
            for process in (self._timeline(), self._enroller(), self._scheduler(),
                            self._approver(), self._days()):
                self.env.process(process)
            self.env.run(until=self.until)
            self._log("run.ended", {"minute": self.until,
                                    "teammate_busy_minutes": dict(sorted(self._busy.items())),
                                    "human_minutes": self._human_minutes})
            self._commit()
            events = tuple(sorted(self.uow.events.retained(), key=lambda e: (e.at, e.seq)))
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

    # ------------------------------------------------------------------------------------------
    # time

    def _now(self) -> datetime:
        return self._start + timedelta(minutes=int(self.env.now))

    def _minute(self) -> SimMinutes:
        return int(self.env.now)

    def _log(self, kind: str, payload: dict[str, Any] | None = None, *,
             e: _Enrollment | None = None, contact_id: int | None = None,
             sequence_id: int | None = None, task_id: int | None = None) -> None:
        if e is not None:
            contact_id = e.contact.id
            sequence_id = self._seq(e.seq).id
        self.uow.events.append(kind, self._now(), payload or {},
                               sequence_id=sequence_id, contact_id=contact_id, task_id=task_id,
                               enrollment_id=e.id if e is not None else None)

    def _later(self, minutes: SimMinutes, action: Callable[[], None]) -> None:
        """Run ``action`` ``minutes`` from now (a timeout callback: cheaper than a process)."""
        event = self.env.timeout(max(0, minutes))
        event.callbacks.append(lambda _: action())

    # ------------------------------------------------------------------------------------------
    # set-up

    def _setup(self) -> None:
        world, uow, at = self.world, self.uow, self._start
        uow.meta.set("run.world", world.name)
        uow.meta.set("run.seed", str(self.seed))
        uow.meta.set("run.start", at.isoformat())
        uow.meta.set("run.tick_minutes", str(world.settings.tick_minutes))
        uow.meta.set("run.human_timezone", world.approver.timezone)
        self._log("run.started", {"world": world.name, "seed": self.seed,
                                  "start": at.isoformat(), "minutes": self.until})
        stored = [uow.teammates.add(Teammate(name=t.name, roles=t.roles, capacity=t.capacity))
                  for t in world.teammates]
        drafters = {t.name: self._drafters.get(t.name) or TemplateDrafter(t.drafter)
                    for t in world.teammates}
        reviewers = {t.name: self._reviewers.get(t.name) or RuleReviewer(t.reviewer)
                     for t in world.teammates}
        pairing = {t.name: t.reviewed_by for t in world.teammates if t.reviewed_by}
        self.team = Team.of(stored, drafters=drafters, reviewers=reviewers, pairing=pairing)
        self._teammate_names: dict[int | None, str] = {t.id: t.name for t in stored}
        self._default_drafter = next(t.name for t in world.teammates
                                     if TeammateRole.DRAFTER in t.roles)
        self._resources = {m.name: simpy.Resource(self.env, capacity=m.capacity)
                           for m in self.team.members}
        self._busy: dict[str, int] = dict.fromkeys(self._resources, 0)
        self._seqs: dict[str, Sequence] = {}
        for seq in world.sequences:
            fresh = seq.model_copy(update={"id": None, "version": 0}, deep=True)
            self._seqs[seq.name] = uow.sequences.add(fresh, at)
            self._log("sequence.created", {"name": seq.name, "status": seq.status.value,
                                           "version": self._seqs[seq.name].version,
                                           **self._limits(seq)},
                      sequence_id=self._seqs[seq.name].id)
        self._rule_ids: dict[str, int] = {}
        for rule in world.rules:
            saved = uow.rules.add(rule.model_copy(update={"id": None}))
            assert saved.id is not None
            self._rule_ids[rule.name] = saved.id
            if rule.enabled:
                self._log("rule.enabled", self._rule_payload(saved))
        self.pipeline = Pipeline(
            rules=self._rules if self._rules is not None else self._default_rules(),
            config=PipelineConfig(max_review_rounds=world.settings.max_review_rounds,
                                  on_reject=world.settings.on_reject))
        self._personas = {p.name: p for p in world.personas}
        self._contacts: dict[str, Contact] = {}
        self._tasks: dict[int, _Task] = {}
        self._dirty: dict[int, dict[str, Any]] = {}
        self._persona_of: dict[str, Persona] = {}
        self._plan: list[tuple[SimMinutes, int, str, str]] = []
        order = 0
        people: list[tuple[Contact, str, list[str], SimMinutes]] = [
            (Contact.model_validate(spec.model_dump(
                exclude={"persona", "enroll_in", "enroll_at", "id"})),
             spec.persona, spec.enroll_in, round(spec.enroll_at * _DAY))
            for spec in world.contacts]
        for pop in world.populations:
            spread = round(pop.enroll_over_days * _DAY)
            for n in range(1, pop.count + 1):
                contact, persona = generated_contact(pop, n, self.rng)
                when = round(pop.enroll_at * _DAY) + (n - 1) * spread // pop.count
                people.append((contact, persona, pop.enroll_in, when))
        added = uow.contacts.add_many(contact for contact, _, _, _ in people)
        for contact, (_, persona, sequences, when) in zip(added, people, strict=True):
            self._contacts[contact.email] = contact
            self._persona_of[contact.email] = self._personas[persona]
            for name in sequences:
                self._plan.append((when, order, contact.email, name))
                order += 1
        self._plan.sort()
        self._enrollments: dict[int, _Enrollment] = {}
        self._by_pair: dict[tuple[str, str], _Enrollment] = {}
        self._due: list[tuple[SimMinutes, int, int]] = []
        self._parked: dict[str, list[_Enrollment]] = {name: [] for name in self._seqs}
        self._outbox: list[_Outgoing] = []
        self._attention: list[_Attention] = []
        self._attention_by_task: dict[int, _Attention] = {}
        self._sent_today: dict[tuple[str, date], int] = {}
        self._human_minutes = 0.0
        self._rounds: dict[int, int] = {}
        self._streaks: dict[tuple[str, str, str, str], int] = {}
        self._suggested: set[tuple[str, str, str, str]] = set()

    def _limits(self, seq: Sequence) -> dict[str, Any]:
        """A sequence's sending window and daily cap as the event log records them, so the
        invariants can be audited from the events alone."""
        window = seq.send_window
        return {
            "send_window": None if window is None else {
                "weekdays": window.weekdays, "start": window.start.isoformat(),
                "end": window.end.isoformat()},
            "daily_cap_per_teammate": seq.daily_cap_per_teammate,
            "cap_timezone": self.world.timezone,
        }

    def _default_rules(self) -> RuleEvaluator:
        self.rules_engine = RulesEngine(self.uow.rules.list(), self.world.approver.timezone)
        # The pipeline asks the rules when a draft is ready, minutes after its work began;
        # scheduled switches make a rule switched in between count for that draft.
        for action in self.world.timeline:
            if isinstance(action, EnableRuleAction | DisableRuleAction):
                self.rules_engine.set_enabled(self._rule_ids[action.rule],
                                              isinstance(action, EnableRuleAction),
                                              at=self.world.at(action.minute))
        return self.rules_engine

    def _seq(self, name: str) -> Sequence:
        return self._seqs[name]

    # ------------------------------------------------------------------------------------------
    # processes

    def _save(self, e: _Enrollment, **fields: Any) -> None:
        """Note a change of an enrollment's stored state; written in bulk once a day."""
        self._dirty.setdefault(e.id, {}).update(fields)

    def _commit(self) -> None:
        if self._dirty:
            self.uow.enrollments.update_many(self._dirty)
            self._dirty = {}
        self.uow.commit()

    def _days(self) -> ProcessGenerator:
        """Commit the store and report progress once a simulated day."""
        day = 0
        while True:
            yield self.env.timeout(_DAY)
            day += 1
            self._commit()
            if self._progress is not None:
                self._progress(day)

    def _enroller(self) -> ProcessGenerator:
        """Enroll the world's contacts at their planned minutes."""
        for minute, _, email, name in self._plan:
            if minute > self._minute():
                yield self.env.timeout(minute - self._minute())
            self._enroll(email, name)

    def _timeline(self) -> ProcessGenerator:
        """Apply the world's scripted actions at their minutes, in file order on ties."""
        for action in sorted(self.world.timeline, key=lambda a: a.minute):
            if action.minute > self._minute():
                yield self.env.timeout(action.minute - self._minute())
            self._apply(action)

    def _scheduler(self) -> ProcessGenerator:
        """Every tick: start work on due steps, then dispatch the outbox."""
        tick = self.world.settings.tick_minutes
        while True:
            self._pick_up_due()
            self._dispatch()
            yield self.env.timeout(tick)

    # ------------------------------------------------------------------------------------------
    # enrollments

    def _enroll(self, email: str, seq_name: str) -> _Enrollment | None:
        contact = self._contacts[email.lower()]
        seq = self._seq(seq_name)
        assert seq.id is not None
        assert contact.id is not None
        if (email.lower(), seq_name) in self._by_pair:
            self._log("enrollment.refused", {"reason": "already enrolled", "email": email},
                      contact_id=contact.id, sequence_id=seq.id)
            return None
        enrollment = self.uow.enrollments.add(seq.id, contact.id, self._now(),
                                     current_step_id=first_of(seq.steps), next_due_at=None)
        assert enrollment.id is not None
        e = _Enrollment(id=enrollment.id, seq=seq_name, contact=contact,
                        persona=self._persona_of[contact.email], step_id=first_of(seq.steps))
        self._enrollments[e.id] = e
        self._by_pair[(contact.email, seq_name)] = e
        self._log("enrollment.created", {"step_id": e.step_id}, e=e)
        self._enter(e)
        return e

    def _enter(self, e: _Enrollment) -> None:
        """Run the person's current step: start a wait, take a branch, or make a message due."""
        seq = self._seq(e.seq)
        while e.status is EnrollmentStatus.ACTIVE:
            if e.step_id is None:
                self._finish(e, EnrollmentStatus.COMPLETED, "completed")
                return
            step = seq.step(e.step_id)
            if isinstance(step, MessageStep):
                if step.id in e.sent:  # never the same step twice (after an edit reorders it)
                    e.step_id = next_after(seq, step.id)
                    continue
                self._make_due(e, step)
                return
            if isinstance(step, WaitStep):
                e.token += 1
                until = self._now() + timedelta(minutes=step.minutes)
                self._save(e, current_step_id=step.id, next_due_at=until)
                self._log("wait.started", {"step_id": step.id, "minutes": step.minutes,
                                           "until": until.isoformat()}, e=e)
                self._later(step.minutes, self._waited(e, e.token, step.id))
                return
            taken = self._branch(e, step)
            if taken is None:
                return
            arm = step.then_steps if taken else step.else_steps
            self._log("branch.taken", {"step_id": step.id, "arm": "then" if taken else "else"},
                      e=e)
            e.step_id = first_of(arm) if arm else next_after(seq, step.id)

    def _waited(self, e: _Enrollment, token: int, step_id: str) -> Callable[[], None]:
        def done() -> None:
            if e.token == token and e.status is EnrollmentStatus.ACTIVE and e.step_id == step_id:
                self._log("wait.done", {"step_id": step_id}, e=e)
                e.step_id = next_after(self._seq(e.seq), step_id)
                self._enter(e)
        return done

    def _branch(self, e: _Enrollment, step: BranchStep) -> bool | None:
        """Whether the branch's condition holds; ``None`` when it cannot be told yet (an
        engagement window still open), in which case the branch is re-checked when it closes.
        """
        cond = step.condition
        if not isinstance(cond, EngagementCondition):
            return cond.holds(e.contact)
        sent = e.sent.get(cond.step_id)
        if sent is None:
            return cond.event == "not_opened"
        now = self._minute()
        window_end = None if cond.within_days is None else sent.minute + round(
            cond.within_days * _DAY)
        seen = sent.opened if cond.event != "clicked" else sent.clicked
        happened = seen is not None and (window_end is None or seen <= window_end)
        if happened:
            return cond.event != "not_opened"
        if window_end is not None and now < window_end:
            e.token += 1
            token = e.token
            self._log("branch.waiting", {"step_id": step.id, "until_minute": window_end}, e=e)

            def recheck() -> None:
                watching = e.watch is not None and e.watch[1] is recheck
                if watching and e.token == token and e.status is EnrollmentStatus.ACTIVE:
                    e.watch = None
                    self._enter(e)
            # Decided at the window's end, or as soon as the person opens (or clicks) it.
            e.watch = (cond.step_id, recheck)
            self._later(window_end - now, recheck)
            return None
        return cond.event == "not_opened"

    def _make_due(self, e: _Enrollment, step: MessageStep) -> None:
        self._save(e, current_step_id=step.id, next_due_at=self._now())
        self._log("step.due", {"step_id": step.id}, e=e)
        heapq.heappush(self._due, (self._minute(), e.id, e.token))

    def _finish(self, e: _Enrollment, status: EnrollmentStatus, reason: str) -> None:
        """End an enrollment (completed, bounced, unsubscribed, ended by the human)."""
        if e.status in (EnrollmentStatus.COMPLETED, EnrollmentStatus.BOUNCED,
                        EnrollmentStatus.UNSUBSCRIBED, EnrollmentStatus.ENDED):
            return
        e.status = status
        e.token += 1
        self._withdraw_task(e, reason)
        self._save(e, status=status, ended_reason=reason,
                                   current_step_id=e.step_id, next_due_at=None)
        kind = "enrollment.completed" if status is EnrollmentStatus.COMPLETED \
            else "enrollment.ended"
        self._log(kind, {"status": status.value, "reason": reason}, e=e)

    def _withdraw_task(self, e: _Enrollment, reason: str) -> None:
        if e.task_id is None:
            return
        item = self._attention_by_task.pop(e.task_id, None)
        if item is not None and item.open:
            item.open = False
            self.pipeline.withdraw(e.task_id, reason, uow=self.uow, at=self._now())
        e.task_id = None

    def _pause_person(self, e: _Enrollment, reason: str) -> None:
        if e.status is not EnrollmentStatus.ACTIVE:
            return
        e.status = EnrollmentStatus.PAUSED
        e.token += 1
        self._withdraw_task(e, reason)
        self._save(e, status=EnrollmentStatus.PAUSED, paused_at=self._now())
        self._log("enrollment.paused", {"reason": reason, "step_id": e.step_id}, e=e)

    def _resume_person(self, e: _Enrollment, by: str) -> None:
        if e.status is not EnrollmentStatus.PAUSED:
            return
        e.status = EnrollmentStatus.ACTIVE
        e.token += 1
        self._save(e, status=EnrollmentStatus.ACTIVE, paused_at=None)
        self._log("enrollment.resumed", {"by": by, "step_id": e.step_id}, e=e)
        self._enter(e)

    # ------------------------------------------------------------------------------------------
    # the scheduler and the teammates

    def _pick_up_due(self) -> None:
        now = self._minute()
        while self._due and self._due[0][0] <= now:
            _, eid, token = heapq.heappop(self._due)
            e = self._enrollments[eid]
            if e.token != token or e.status is not EnrollmentStatus.ACTIVE or e.working:
                continue
            if self._seq(e.seq).status is not SequenceStatus.ACTIVE:
                if not e.parked:
                    e.parked = True
                    self._parked[e.seq].append(e)
                    self._log("step.parked", {"step_id": e.step_id,
                                              "status": self._seq(e.seq).status.value}, e=e)
                continue
            e.working = True
            self.env.process(self._work(e, token))

    def _pair(self, drafter: str) -> tuple[TeamMember, TeamMember]:
        member = self.team.member(drafter)
        return member, self.team.next_reviewer(drafter)

    def _hold(self, names: list[str]) -> Generator[simpy.Event, Any, list[Any]]:
        """Acquire the named teammates' resources in name order (no deadlock)."""
        requests = []
        for name in sorted(set(names)):
            request = self._resources[name].request()
            yield request
            requests.append((name, request))
        return requests

    def _release(self, requests: list[Any], minutes: int) -> None:
        for name, request in requests:
            self._busy[name] += minutes
            self._resources[name].release(request)

    def _work(self, e: _Enrollment, token: int) -> ProcessGenerator:
        """Draft, review and hand a due step to the approval gate, holding the teammates."""
        seq = self._seq(e.seq)
        drafter, reviewer = self._pair(seq.teammate or self._default_drafter)
        requests = yield from self._hold([drafter.name, reviewer.name])
        seq = self._seq(e.seq)
        if (e.token != token or e.status is not EnrollmentStatus.ACTIVE or e.step_id is None
                or seq.status is not SequenceStatus.ACTIVE):
            self._release(requests, 0)
            e.working = False
            if e.token == token and e.status is EnrollmentStatus.ACTIVE:
                heapq.heappush(self._due, (self._minute(), e.id, e.token))
            return
        step = seq.step(e.step_id)
        assert isinstance(step, MessageStep)
        result = self.pipeline.start_step(
            uow=self.uow, enrollment_id=e.id, sequence=seq, step=step, contact=e.contact,
            drafter_member=drafter, reviewer_member=reviewer, at=self._now(),
            thread=tuple(e.thread))
        e.task_id = result.task_id
        self._tasks[result.task_id] = _Task(drafter=drafter.name, contact=e.contact,
                                            channel=step.channel, step_id=step.id)
        yield self.env.timeout(result.busy_minutes)
        self._release(requests, result.busy_minutes)
        self._log("work.done", {"teammates": sorted({drafter.name, reviewer.name}),
                                "minutes": result.busy_minutes}, e=e, task_id=result.task_id)
        e.working = False
        self._settle(e, result, token)

    def _settle(self, e: _Enrollment | None, result: PipelineResult, token: int) -> None:
        """Route a pipeline result: Needs attention, the outbox, or the next step."""
        stale = e is not None and (e.token != token or e.task_id != result.task_id)
        if result.status == "awaiting_approval":
            assert result.attention_id is not None
            if stale:
                # The person replied, ended or lost this step while it was being drafted: the
                # draft never reaches the human.
                self._withdraw_if_open(result)
                return
            item = _Attention(item_id=result.attention_id, kind="draft",
                              created=self._minute(), task_id=result.task_id,
                              draft_id=result.draft_id, enrollment=e)
            self._attention.append(item)
            self._attention_by_task[result.task_id] = item
        elif result.status == "sent":
            assert result.message_id is not None
            self._queue(e, result, token)
        elif e is not None and not stale:
            e.task_id = None
            if result.status == "skipped":
                assert e.step_id is not None
                self._log("step.skipped", {"step_id": e.step_id}, e=e)
                e.step_id = next_after(self._seq(e.seq), e.step_id)
                self._enter(e)

    def _withdraw_if_open(self, result: PipelineResult) -> None:
        record = self.uow.tasks.get(result.task_id)
        if record.status == "awaiting_approval":
            self.pipeline.withdraw(result.task_id, "superseded", uow=self.uow, at=self._now())

    # ------------------------------------------------------------------------------------------
    # the outbox

    def _queue(self, e: _Enrollment | None, result: PipelineResult, token: int) -> None:
        assert result.message_id is not None
        task = self._tasks.pop(result.task_id)
        if e is not None:
            e.task_id = None
        out = _Outgoing(
            message_id=result.message_id, task_id=result.task_id, contact=task.contact,
            teammate=task.drafter, channel=task.channel, queued=self._minute(),
            not_before=self._minute(), enrollment=e, token=token, step_id=task.step_id,
            follow_up=e is not None and e.messages > 0, edited=task.edited,
            flagged=result.flagged, rule_id=result.rule_id, subject=result.subject,
            body=result.body or "")
        self._outbox.append(out)

    def _dispatch(self) -> None:
        if not self._outbox:
            return
        now = self._minute()
        keep: list[_Outgoing] = []
        for out in sorted(self._outbox, key=lambda o: (not o.follow_up, o.queued, o.message_id)):
            verdict = self._can_deliver(out, now)
            if verdict == "deliver":
                self._deliver(out)
            elif verdict == "wait":
                keep.append(out)
            else:
                self.uow.messages.cancel(out.message_id, reason=verdict, at=self._now())
                self._log("message.cancelled", {"message_id": out.message_id,
                                                "reason": verdict},
                          e=out.enrollment, task_id=out.task_id,
                          contact_id=out.contact.id)
        self._outbox = keep

    def _can_deliver(self, out: _Outgoing, now: SimMinutes) -> str:
        e = out.enrollment
        if e is not None:
            if e.status is EnrollmentStatus.PAUSED:
                return "the person replied"
            if e.status is not EnrollmentStatus.ACTIVE:
                return f"enrollment {e.status.value}"
            if e.step_id != out.step_id:
                return "the step was removed"
            if e.token != out.token:  # paused (a reply) and resumed since it was approved
                return "the person replied"
            seq = self._seq(e.seq)
            if seq.status is not SequenceStatus.ACTIVE or now < out.not_before:
                return "wait"
            if seq.send_window is not None and not self._in_window(seq, out.contact):
                return "wait"
            if seq.daily_cap_per_teammate is not None:
                day = self._now().astimezone(self._tz).date()
                if self._sent_today.get((out.teammate, day), 0) >= seq.daily_cap_per_teammate:
                    return "wait"
        return "deliver"

    def _in_window(self, seq: Sequence, contact: Contact) -> bool:
        window = seq.send_window
        assert window is not None
        local = self._now().astimezone(ZoneInfo(contact.timezone))
        return local.weekday() in window.weekdays and window.start <= local.time() < window.end

    def _deliver(self, out: _Outgoing) -> None:
        now = self._now()
        self.uow.messages.deliver(out.message_id, at=now)
        day = now.astimezone(self._tz).date()
        self._sent_today[(out.teammate, day)] = self._sent_today.get((out.teammate, day), 0) + 1
        e = out.enrollment
        index = e.messages if e is not None else 0
        self._log("message.sent", {"message_id": out.message_id, "step_id": out.step_id,
                                   "channel": out.channel, "index": index,
                                   "teammate": out.teammate, "follow_up": out.follow_up,
                                   "contact_timezone": out.contact.timezone},
                  e=e, task_id=out.task_id, contact_id=out.contact.id)
        if e is None:
            self._react_to_chat(out)
            return
        assert out.step_id is not None
        e.messages += 1
        e.sent[out.step_id] = _Sent(message_id=out.message_id, minute=self._minute())
        e.thread.append(ThreadMessage(step_id=out.step_id, channel=out.channel,
                                      subject=out.subject, body=out.body, sent_at=now))
        self._react(e, out, index)
        e.step_id = next_after(self._seq(e.seq), out.step_id)
        self._save(e, current_step_id=e.step_id)
        self._enter(e)

    # ------------------------------------------------------------------------------------------
    # contacts

    def _react(self, e: _Enrollment, out: _Outgoing, index: int) -> None:
        """Draw the person's reactions to a delivered message, keyed by who and which step."""
        p, rng = e.persona, self.rng
        key = (e.contact.email, e.seq, out.step_id)
        sent = e.sent[str(out.step_id)]
        if rng.chance(p.bounce, "bounce", *key):
            self._later(1, lambda: self._bounce(e, out))
            return
        if rng.chance(p.out_of_office, "ooo", *key):
            self._later(2, lambda: self._reply(e, out, "out_of_office"))
        if rng.chance(p.open, "open", *key):
            opened = p.open_delay.minutes(rng.uniform("open-delay", *key))

            def open_() -> None:
                sent.opened = self._minute()
                self.uow.messages.mark_engagement(out.message_id, "opened", self._now())
                self._log("message.opened", {"message_id": out.message_id,
                                             "step_id": out.step_id}, e=e)
                self._engaged(e, out.step_id)
            self._later(opened, open_)
            if rng.chance(p.click, "click", *key):
                clicked = opened + p.click_delay.minutes(rng.uniform("click-delay", *key))

                def click() -> None:
                    sent.clicked = self._minute()
                    self.uow.messages.mark_engagement(out.message_id, "clicked", self._now())
                    self._log("message.clicked", {"message_id": out.message_id,
                                                  "step_id": out.step_id}, e=e)
                    self._engaged(e, out.step_id)
                self._later(clicked, click)
        chance = p.reply_chance(index, out.channel, out.edited, out.flagged)
        if rng.chance(chance, "reply", *key):
            delay = p.reply_delay.minutes(rng.uniform("reply-delay", *key))
            self._later(delay, lambda: self._reply(e, out, "reply"))
        if rng.chance(p.unsubscribe, "unsubscribe", *key):
            delay = p.unsubscribe_delay.minutes(rng.uniform("unsubscribe-delay", *key))
            self._later(delay, lambda: self._unsubscribe(e, out))

    def _react_to_chat(self, out: _Outgoing) -> None:
        """A one-off chat message: the person may open it and reply (keyed by the chat task);
        the reply lands in Needs attention, and there is no sequence to pause."""
        contact = out.contact
        p, rng = self._persona_of[contact.email], self.rng
        key = ("chat", contact.email, out.task_id)
        if rng.chance(p.open, "open", *key):
            def open_() -> None:
                self.uow.messages.mark_engagement(out.message_id, "opened", self._now())
                self._log("message.opened", {"message_id": out.message_id, "step_id": None},
                          contact_id=contact.id, task_id=out.task_id)
            self._later(p.open_delay.minutes(rng.uniform("open-delay", *key)), open_)
        if rng.chance(p.reply_chance(0, out.channel, out.edited, out.flagged), "reply", *key):
            def reply() -> None:
                body = (f"Hi {out.teammate}, thanks for the note. Yes, let's talk. "
                        f"- {contact.first_name}")
                reply_id = self.uow.replies.add(contact_id=contact.id or 0, kind="reply",
                                              at=self._now(), message_id=out.message_id,
                                              body=body)
                item_id = self.uow.attention.open(
                    kind="reply", at=self._now(), reply_id=reply_id,
                    payload={"contact": contact.email, "sequence": None, "body": body,
                             "message_id": out.message_id})
                self._log("reply.received", {"kind": "reply", "reply_id": reply_id,
                                             "message_id": out.message_id,
                                             "attention_id": item_id},
                          contact_id=contact.id, task_id=out.task_id)
                self._attention.append(_Attention(item_id=item_id, kind="reply",
                                                  created=self._minute()))
            self._later(p.reply_delay.minutes(rng.uniform("reply-delay", *key)), reply)

    def _engaged(self, e: _Enrollment, step_id: str | None) -> None:
        """An open or click may decide a branch that waits on that message's engagement."""
        if e.watch is not None and e.watch[0] == step_id:
            e.watch[1]()

    def _bounce(self, e: _Enrollment, out: _Outgoing) -> None:
        self.uow.replies.add(contact_id=e.contact.id or 0, kind="bounce", at=self._now(),
                           enrollment_id=e.id, message_id=out.message_id)
        self._log("reply.received", {"kind": "bounce", "message_id": out.message_id}, e=e)
        self._finish(e, EnrollmentStatus.BOUNCED, "bounced")

    def _unsubscribe(self, e: _Enrollment, out: _Outgoing) -> None:
        self.uow.replies.add(contact_id=e.contact.id or 0, kind="unsubscribe", at=self._now(),
                           enrollment_id=e.id, message_id=out.message_id)
        self._log("reply.received", {"kind": "unsubscribe", "message_id": out.message_id}, e=e)
        self._finish(e, EnrollmentStatus.UNSUBSCRIBED, "unsubscribed")

    def _reply(self, e: _Enrollment, out: _Outgoing, kind: ReplyKind) -> None:
        body = ("Thanks, I'm out of the office this week." if kind == "out_of_office" else
                f"Hi {out.teammate}, thanks for reaching out. Can we talk next week? "
                f"- {e.contact.first_name}")
        reply_id = self.uow.replies.add(contact_id=e.contact.id or 0, kind=kind, at=self._now(),
                                      enrollment_id=e.id, message_id=out.message_id, body=body)
        if kind != "reply":
            self._log("reply.received", {"kind": kind, "reply_id": reply_id,
                                         "message_id": out.message_id}, e=e)
            return
        item_id = self.uow.attention.open(
            kind="reply", at=self._now(), reply_id=reply_id,
            payload={"contact": e.contact.email, "sequence": e.seq, "body": body,
                     "message_id": out.message_id})
        self._log("reply.received", {"kind": kind, "reply_id": reply_id,
                                     "message_id": out.message_id, "attention_id": item_id}, e=e)
        item = _Attention(item_id=item_id, kind="reply", created=self._minute(), enrollment=e)
        self._attention.append(item)
        self._pause_person(e, "replied")

    # ------------------------------------------------------------------------------------------
    # the human

    def _next_session(self, after: SimMinutes) -> SimMinutes | None:
        """The first check-in at or after minute ``after``, or ``None`` before the run ends."""
        policy = self.world.approver
        local = (self._start + timedelta(minutes=after)).astimezone(self._human_tz)
        day = local.date()
        for _ in range(3700):
            if day.weekday() in policy.workdays and not policy.is_away(day):
                for at in policy.sessions:
                    moment = datetime.combine(day, at, tzinfo=self._human_tz).astimezone(UTC)
                    minute = int((moment - self._start).total_seconds() // 60)
                    if minute >= after:
                        return minute if minute < self.until else None
            day += timedelta(days=1)
            if datetime.combine(day, policy.sessions[0], tzinfo=self._human_tz) > \
                    self._start + timedelta(minutes=self.until + _DAY):
                return None
        return None

    def _approver(self) -> ProcessGenerator:
        """The human works Needs attention in check-in sessions."""
        after = 0
        while True:
            start = self._next_session(max(after, self._minute()))
            if start is None:
                return
            if start > self._minute():
                yield self.env.timeout(start - self._minute())
            yield from self._session()
            after = start + 1

    def _session(self) -> ProcessGenerator:
        policy = self.world.approver
        self._attention = [a for a in self._attention if a.open]
        waiting = sorted(self._attention, key=lambda a: (a.created, a.item_id))
        self._log("approver.session_started", {"open_items": len(waiting)})
        handled, minutes = 0, 0.0
        for item in [a for a in waiting if self._ready(a)][:policy.max_items_per_session]:
            if not item.open:
                continue
            spend = policy.minutes_per_reply if item.kind == "reply" else policy.minutes_per_item
            if spend:
                yield self.env.timeout(round(spend))
            minutes += spend
            if not item.open:
                continue
            handled += 1
            if item.kind == "reply":
                self._handle_reply(item)
            elif item.kind == "draft":
                self._decide(item)
            else:
                self._handle_other(item)
        self._human_minutes += minutes
        self._log("approver.session_ended", {"handled": handled, "minutes": minutes})

    def _ready(self, item: _Attention) -> bool:
        """Whether the human acts on ``item`` now: a rule suggestion waits until the policy's
        ``accept_suggestions_after_days`` have passed."""
        delay = self.world.approver.accept_suggestions_after_days
        if item.kind != "rule_suggestion" or delay is None:
            return True
        return self._minute() - item.created >= round(delay * _DAY)

    def _handle_reply(self, item: _Attention) -> None:
        item.open = False
        self.uow.attention.resolve(item.item_id, status="resolved", at=self._now())
        self._log("attention.resolved", {"attention_id": item.item_id, "kind": "reply"},
                  e=item.enrollment)
        e = item.enrollment
        if e is None:
            return
        action = self.world.approver.on_reply
        if action == "resume":
            self._resume_person(e, "human")
        elif action == "end":
            self._finish(e, EnrollmentStatus.ENDED, "ended by the human after a reply")

    def _handle_other(self, item: _Attention) -> None:
        """A rule suggestion: enable it when the human's policy accepts suggestions and the
        suggestion is old enough; otherwise dismiss it (suggestions never enable anything by
        themselves)."""
        assert item.rule_id is not None
        delay = self.world.approver.accept_suggestions_after_days
        item.open = False
        self.uow.attention.resolve(item.item_id, status="resolved", at=self._now())
        accepted = delay is not None
        self._log("suggestion.handled", {"attention_id": item.item_id, "rule_id": item.rule_id,
                                         "accepted": accepted})
        if accepted:
            rule = self.uow.rules.get(item.rule_id)
            self._toggle_rule(rule.name, True)

    def _note_streak(self, e: _Enrollment | None, action: str) -> None:
        """Count approvals in a row without edits per kind of step; suggest a rule at N."""
        if e is None or e.step_id is None:
            return
        seq = self._seq(e.seq)
        step = seq.step(e.step_id)
        if not isinstance(step, MessageStep):
            return
        teammate = seq.teammate or self._default_drafter
        kind = (seq.name, step.id, step.channel, teammate)
        streak = self._streaks.get(kind, 0) + 1 if action == "approve" else 0
        self._streaks[kind] = streak
        if streak < self.world.settings.suggest_after or kind in self._suggested:
            return
        rules = self.uow.rules.list()
        if covering_rule(rules, sequence=seq.name, step=step, teammate=teammate,
                         at=self._now()) is not None:
            return  # an enabled rule covers it already (its cap is what sends these to you)
        self._suggested.add(kind)
        name = f"Suggested: {seq.name} / {step.label or step.id} by {teammate}"
        if any(r.name == name for r in rules):
            return
        rule = self.uow.rules.add(AutoApproveRule(
            name=name, enabled=False, sequence=seq.name, step=step.id, channel=step.channel,
            teammate=teammate, require_clean_review=True,
            max_per_day=self.world.settings.suggested_rule_daily_cap))
        assert rule.id is not None
        self._rule_ids[rule.name] = rule.id
        if self.rules_engine is not None:
            self.rules_engine.add(rule)
        item_id = self.uow.attention.open(
            kind="rule_suggestion", at=self._now(),
            payload={"rule_id": rule.id, "name": name, "approvals_in_a_row": streak})
        self._attention.append(_Attention(item_id=item_id, kind="rule_suggestion",
                                          created=self._minute(), rule_id=rule.id))
        self._log("rule.suggested", {"rule_id": rule.id, "name": name, "sequence": seq.name,
                                     "step": step.id, "channel": step.channel,
                                     "teammate": teammate, "approvals_in_a_row": streak,
                                     "attention_id": item_id}, sequence_id=seq.id)

    def _decide(self, item: _Attention) -> None:
        assert item.task_id is not None
        policy = self.world.approver
        e = item.enrollment
        round_ = self._rounds.get(item.task_id, 0)
        self._rounds[item.task_id] = round_ + 1
        who = (e.contact.email, e.seq, e.step_id) if e is not None else ("chat", item.task_id)
        u = self.rng.uniform("approve", *who, round_)
        item.open = False
        self._attention_by_task.pop(item.task_id, None)
        if u < policy.approve:
            decision = HumanDecision(action="approve")
        elif u < policy.approve + policy.edit:
            assert item.draft_id is not None
            decision = HumanDecision(action="edit",
                                     body=_edited(self.uow.drafts.get(item.draft_id).body))
        else:
            decision = HumanDecision(action="reject", note="Not quite right; try again.")
        if decision.action == "edit":
            self._tasks[item.task_id].edited = True
        result = self.pipeline.resume(item.task_id, decision, uow=self.uow, at=self._now())
        self._note_streak(e, decision.action)
        token = e.token if e is not None else 0
        if result.work:
            self.env.process(self._rework(e, result, token))
        else:
            self._settle(e, result, token)

    def _rework(self, e: _Enrollment | None, result: PipelineResult,
                token: int) -> ProcessGenerator:
        """A redraft after a rejection: hold the teammates for the work, then settle."""
        names = sorted({w.teammate for w in result.work})
        requests = yield from self._hold(names)
        yield self.env.timeout(result.busy_minutes)
        self._release(requests, result.busy_minutes)
        if e is not None:
            e.task_id = result.task_id
        self._settle(e, result, token)

    # ------------------------------------------------------------------------------------------
    # the timeline

    def _apply(self, action: Any) -> None:
        if isinstance(action, EnrollAction):
            for email in action.contacts:
                self._enroll(email, action.sequence)
        elif isinstance(action, PauseAction):
            self._set_status(action.sequence, SequenceStatus.PAUSED)
        elif isinstance(action, ActivateAction):
            self._activate(action.sequence)
        elif isinstance(action, EditAction):
            self._edit(action)
        elif isinstance(action, EnableRuleAction | DisableRuleAction):
            self._toggle_rule(action.rule, isinstance(action, EnableRuleAction))
        elif isinstance(action, ChatAction):
            self.env.process(self._chat(action))
        elif isinstance(action, ResumeAction):
            e = self._by_pair.get((action.contact.lower(), action.sequence))
            if e is not None:
                self._resume_person(e, "timeline")
        elif isinstance(action, EndAction):
            e = self._by_pair.get((action.contact.lower(), action.sequence))
            if e is not None:
                self._finish(e, EnrollmentStatus.ENDED, "ended by the human")

    def _set_status(self, name: str, status: SequenceStatus) -> None:
        seq = self._seq(name)
        if seq.status is status:
            return
        seq.status = status
        self._seqs[name] = self.uow.sequences.save(seq, self._now())
        self._log(f"sequence.{'paused' if status is SequenceStatus.PAUSED else 'activated'}",
                  {"status": status.value, "version": self._seqs[name].version},
                  sequence_id=seq.id)

    def _activate(self, name: str) -> None:
        """Activate a sequence; steps that fell due meanwhile are spread over the catch-up
        (``catch_up_hours`` of open sending-window time, see :mod:`teamsim.sim._catch_up`)
        instead of all firing at once, and so are approved messages held back."""
        seq = self._seq(name)
        seq.check_activatable()
        if seq.status is SequenceStatus.ACTIVE:
            return
        self._set_status(name, SequenceStatus.ACTIVE)
        parked = [e for e in self._parked[name] if e.status is EnrollmentStatus.ACTIVE]
        self._parked[name] = []
        held = [o for o in self._outbox if o.enrollment is not None and o.enrollment.seq == name]
        backlog: list[_Enrollment | _Outgoing] = [*held, *parked]
        window = round(self.world.settings.catch_up_hours * 60)
        # One spread over the whole backlog (item i at i*window//n open minutes); with a
        # sending window each item's offset is read in the open hours of its contact's zone.
        zones = [ZoneInfo(item.contact.timezone) if seq.send_window is not None else self._tz
                 for item in backlog]
        released = release_minutes(zones, over=window, now=self._minute(), end=self.until,
                                   origin=self._start, window=seq.send_window)
        for item, when in zip(backlog, released, strict=True):
            if isinstance(item, _Outgoing):
                item.not_before = when
            else:
                item.parked = False
                heapq.heappush(self._due, (when, item.id, item.token))
        if backlog:
            self._log("sequence.catch_up", {"steps": len(parked), "messages": len(held),
                                            "over_minutes": window}, sequence_id=seq.id)

    def _edit(self, action: EditAction) -> None:
        old = self._seq(action.sequence)
        new = old.model_copy(deep=True)
        for op in action.ops:
            op.apply(new)
        saved = self.uow.sequences.save(new, self._now())
        self._seqs[action.sequence] = saved
        self._log("sequence.edited", {"version": saved.version,
                                      "ops": [op.model_dump(exclude_none=True)
                                              for op in action.ops], **self._limits(saved)},
                  sequence_id=saved.id)
        surviving = step_ids(saved)
        for e in [x for x in self._enrollments.values() if x.seq == action.sequence]:
            if e.step_id is None or e.step_id in surviving:
                continue
            removed = e.step_id
            target: str | None = removed
            while target is not None and target not in surviving:
                target = next_after(old, target)
            e.token += 1
            e.parked = False
            self._withdraw_task(e, "its step was removed")
            e.step_id = target
            self._save(e, current_step_id=target)
            self._log("enrollment.moved", {"from": removed, "to": target}, e=e)
            if e.status is EnrollmentStatus.ACTIVE:
                self._enter(e)

    def _toggle_rule(self, name: str, enabled: bool) -> None:
        rule = self.uow.rules.get(self._rule_ids[name])
        self.uow.rules.save(rule.model_copy(update={"enabled": enabled}))
        if self.rules_engine is not None:
            self.rules_engine.set_enabled(self._rule_ids[name], enabled, at=self._now())
        self._log(f"rule.{'enabled' if enabled else 'disabled'}", self._rule_payload(rule))
        if not enabled:
            self._recall(self._rule_ids[name])

    def _rule_payload(self, rule: AutoApproveRule) -> dict[str, Any]:
        """What the event log records of a rule switched on or off: enough to audit its caps."""
        return {"rule_id": rule.id, "name": rule.name, "max_total": rule.max_total,
                "max_per_day": rule.max_per_day, "timezone": self.world.approver.timezone}

    def _recall(self, rule_id: int) -> None:
        """Cancel the messages a just-disabled rule approved that still wait in the outbox;
        their steps fall due again, so fresh drafts go to the human."""
        keep: list[_Outgoing] = []
        for out in self._outbox:
            if out.rule_id != rule_id:
                keep.append(out)
                continue
            reason = "its auto-approve rule was disabled"
            self.uow.messages.cancel(out.message_id, reason=reason, at=self._now())
            # ``recalled_rule_id``: the approval is withdrawn with the message, so metrics and
            # the funnel do not count it as the rule's (the step is drafted again).
            self._log("message.cancelled", {"message_id": out.message_id, "reason": reason,
                                            "recalled_rule_id": rule_id},
                      e=out.enrollment, task_id=out.task_id, contact_id=out.contact.id)
            e = out.enrollment
            if (e is not None and e.status is EnrollmentStatus.ACTIVE and e.task_id is None
                    and out.step_id is not None and e.step_id == out.step_id):
                step = self._seq(e.seq).step(out.step_id)
                assert isinstance(step, MessageStep)
                self._make_due(e, step)
        self._outbox = keep

    def _chat(self, action: ChatAction) -> ProcessGenerator:
        contact = self._contacts[action.contact.lower()]
        drafter, reviewer = self._pair(action.teammate or self._default_drafter)
        requests = yield from self._hold([drafter.name, reviewer.name])
        result = self.pipeline.start_chat(uow=self.uow, contact=contact, text=action.text,
                                          teammate=drafter, reviewer=reviewer, at=self._now())
        self._tasks[result.task_id] = _Task(drafter=drafter.name, contact=contact,
                                            channel="email", step_id=None)
        yield self.env.timeout(result.busy_minutes)
        self._release(requests, result.busy_minutes)
        self._settle(None, result, 0)


def _edited(body: str) -> str:
    """The human's light edit of a draft: a personal line before the sign-off."""
    line = "I saw your recent project and thought of you."
    parts = body.rsplit("\n\n", 1)
    return f"{parts[0]}\n\n{line}\n\n{parts[1]}" if len(parts) == 2 else f"{body}\n\n{line}"
