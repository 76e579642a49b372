"""The scheduler and the teammates at work.

Every ``tick_minutes`` the scheduler first carries the human's decisions made since the last
tick into the pipeline (one resume per graph thread; each decision's rows and events keep its
own minute, and its message joins the outbox as queued at that minute), then picks up the
due steps, oldest first (due minute, then enrollment id), and hands each to its sequence's
teammate; then it has the outbox dispatch. Teammates are SimPy resources of their capacity:
a task holds its drafter and its peer reviewer for the minutes the drafter and reviewer
report, then the pipeline's result is routed (Needs attention, the outbox, or the next step).
A task whose drafter or reviewer could not work pauses its enrollment (reason
``draft_failed``) until the human handles the failure in Needs attention.

**One graph thread per batch.** The steps whose teammates are free start together: each
task's process, once it holds its teammates, joins the minute's batch, and the batch starts
in one call (:meth:`~teamsim.graph.Pipeline.start_steps`, one graph thread) at the end of the
events already scheduled for that minute; the processes then hold their teammates for the
minutes their own work took, as before. A task that waited for a teammate joins the batch of
the minute it got one.

With teammates whose agents prefetch and ``max_concurrency`` above 1, the scheduler first has
the pipeline make the model calls of all the steps it picks up in one tick concurrently
(:meth:`~teamsim.graph.Pipeline.prefetch`), also of those that will wait for a teammate; the
batch's draft and review nodes make whatever calls are left concurrently too.
"""

from __future__ import annotations

import heapq
from collections.abc import Generator
from typing import Any

import simpy

from teamsim.graph import PipelineResult, PrefetchItem, StepStart, Team, TeamMember
from teamsim.model import (
    EnrollmentStatus,
    MessageStep,
    SequenceStatus,
    StepParked,
    StepSkipped,
    WorkDone,
)
from teamsim.sim._actions import ChatAction
from teamsim.sim._context import ProcessGenerator, RunContext
from teamsim.sim._enrollments import Enrollments
from teamsim.sim._outbox import Outbox
from teamsim.sim._records import AttentionItem, LiveEnrollment, TaskNote

__all__ = ["DRAFT_FAILED", "Work"]

DRAFT_FAILED = "draft_failed"
"""The reason of the pause of an enrollment whose step could not be drafted or reviewed."""

_Held = list[tuple[str, simpy.Resource, Any]]


class _Starting:
    """The steps joining one batch: started together once the minute's queued events ran."""

    __slots__ = ("done", "results", "steps")

    def __init__(self, env: simpy.Environment) -> None:
        self.steps: list[StepStart] = []
        self.results: list[PipelineResult] = []
        self.done = env.event()


class Work:
    """The scheduler process, the teammates as resources, and the tasks they work.

    Args:
        ctx: the run's context.
        team: the teammates, with their drafters and reviewers.
        enrollments: whose due steps are worked.
        outbox: where approved messages go.
    """

    def __init__(self, ctx: RunContext, team: Team, enrollments: Enrollments,
                 outbox: Outbox) -> None:
        self._ctx = ctx
        self._team = team
        self._enrollments = enrollments
        self._outbox = outbox
        self._resources = {m.name: simpy.Resource(ctx.env, capacity=m.capacity)
                           for m in team.members}
        self._busy: dict[str, int] = dict.fromkeys(self._resources, 0)
        self._parked: dict[str, list[LiveEnrollment]] = {name: [] for name in ctx.sequences}
        self._starting: _Starting | None = None
        self._prefetch = ctx.pipeline.config.max_concurrency > 1 and team.prefetches
        self._decided: dict[int, tuple[LiveEnrollment | None, int, int]] = {}

    @property
    def busy_minutes(self) -> dict[str, int]:
        """Minutes each teammate has worked so far, by name."""
        return dict(sorted(self._busy.items()))

    def run(self) -> ProcessGenerator:
        """Every tick: carry the decisions in, start work on due steps, then dispatch the
        outbox."""
        tick = self._ctx.world.settings.tick_minutes
        while True:
            self.apply_decisions()
            self._pick_up_due()
            self._outbox.dispatch()
            yield self._ctx.env.timeout(tick)

    def decided(self, e: LiveEnrollment | None, task_id: int, token: int) -> None:
        """The human approved (or edited) task ``task_id`` now; the next tick carries it in
        and queues its message as of now."""
        self._decided[task_id] = (e, token, self._ctx.minute())
        if e is not None:
            e.task_id = None

    def apply_decisions(self) -> None:
        """Carry the decisions made since the last tick into the pipeline; queue their
        messages at the minutes they were approved (also at the end of a run)."""
        if not self._decided:
            return
        ctx = self._ctx
        for result in ctx.pipeline.apply_decisions(uow=ctx.uow):
            e, token, minute = self._decided.pop(result.task_id)
            if result.status != "sent":
                raise RuntimeError(f"task {result.task_id} was approved but is {result.status}")
            self._outbox.queue(e, result, token, minute=minute)

    def take_parked(self, name: str) -> list[LiveEnrollment]:
        """The active enrollments parked on sequence ``name`` (it is being activated)."""
        parked = [e for e in self._parked[name] if e.status is EnrollmentStatus.ACTIVE]
        self._parked[name] = []
        return parked

    def _pick_up_due(self) -> None:
        ctx = self._ctx
        now, due = ctx.minute(), ctx.due
        started: list[LiveEnrollment] | None = [] if self._prefetch else None
        while due and due[0][0] <= now:
            _, eid, token = heapq.heappop(due)
            e = self._enrollments.get(eid)
            if e.token != token or e.status is not EnrollmentStatus.ACTIVE or e.working:
                continue
            seq = ctx.seq(e.seq)
            if seq.status is not SequenceStatus.ACTIVE:
                if not e.parked:
                    if e.step_id is None:  # a due entry under the current token has a step
                        raise RuntimeError(f"enrollment {e.id} is due without a step")
                    e.parked = True
                    self._parked[e.seq].append(e)
                    ctx.log(StepParked(step_id=e.step_id, status=seq.status.value), e=e)
                continue
            e.working = True
            ctx.env.process(self._work(e, token))
            if started is not None:
                started.append(e)
        if started:
            # The processes above start once this one yields: the model calls of every step
            # picked up, also of those that will wait for a teammate, are made now,
            # concurrently, and the batches find the results waiting.
            ctx.pipeline.prefetch(self._prefetch_items(started))

    def _prefetch_items(self, started: list[LiveEnrollment]) -> list[PrefetchItem]:
        """The due steps just picked up, each with the reviewer its process will be given
        (the drafter's next reviewers in turn, read without moving the round robin)."""
        ctx = self._ctx
        picked: list[tuple[LiveEnrollment, str, MessageStep]] = []
        turns: dict[str, int] = {}
        for e in started:
            seq = ctx.seq(e.seq)
            step = seq.step(e.step_id) if e.step_id is not None else None
            if isinstance(step, MessageStep):
                name = seq.teammate or ctx.default_drafter
                picked.append((e, name, step))
                turns[name] = turns.get(name, 0) + 1
        upcoming = {name: list(self._team.upcoming_reviewers(name, count))
                    for name, count in turns.items()}
        return [PrefetchItem(enrollment_id=e.id, sequence=ctx.seq(e.seq), step=step,
                             contact=e.contact, drafter=self._team.member(name),
                             reviewer=upcoming[name].pop(0), thread=tuple(e.thread))
                for e, name, step in picked]

    # -- teammates ------------------------------------------------------------------------

    def _pair(self, drafter: str) -> tuple[TeamMember, TeamMember]:
        return self._team.member(drafter), self._team.next_reviewer(drafter)

    def _hold(self, names: list[str]) -> Generator[simpy.Event, Any, _Held]:
        """Acquire the named teammates' resources one after the other in name order (so two
        tasks never deadlock).

        Not nested ``with resource.request() as req`` blocks: they release in reverse name
        order, and when both teammates have tasks queued in the same minute, the release
        order decides which task wakes first (the event order is part of the digest).
        Measured: releasing in reverse keeps the 15 golden digests, but nothing guarantees
        it for other worlds, so :meth:`_release` keeps the name order the log was made with.
        """
        held: _Held = []
        for name in sorted(set(names)):
            resource = self._resources[name]
            request = resource.request()
            yield request
            held.append((name, resource, request))
        return held

    def _release(self, held: _Held, minutes: int) -> None:
        for name, resource, request in held:
            self._busy[name] += minutes
            resource.release(request)

    def _work(self, e: LiveEnrollment, token: int) -> ProcessGenerator:
        """Draft, review and hand a due step to the approval gate, holding the teammates."""
        ctx = self._ctx
        seq = ctx.seq(e.seq)
        drafter, reviewer = self._pair(seq.teammate or ctx.default_drafter)
        held = yield from self._hold([drafter.name, reviewer.name])
        seq = ctx.seq(e.seq)
        if (e.token != token or e.status is not EnrollmentStatus.ACTIVE or e.step_id is None
                or seq.status is not SequenceStatus.ACTIVE):
            self._release(held, 0)
            e.working = False
            if e.token == token and e.status is EnrollmentStatus.ACTIVE:
                ctx.due_at(ctx.minute(), e)
            return
        step = seq.step(e.step_id)
        if not isinstance(step, MessageStep):
            raise RuntimeError(f"step {step.id!r} fell due but is not a message step")
        result = yield from self._start(StepStart(
            enrollment_id=e.id, sequence=seq, step=step, contact=e.contact, drafter=drafter,
            reviewer=reviewer, thread=tuple(e.thread)))
        e.task_id = result.task_id
        ctx.tasks[result.task_id] = TaskNote(drafter=drafter.name, contact=e.contact,
                                             channel=step.channel, step_id=step.id)
        yield ctx.env.timeout(result.busy_minutes)
        self._release(held, result.busy_minutes)
        ctx.log(WorkDone(teammates=tuple(sorted({drafter.name, reviewer.name})),
                         minutes=result.busy_minutes), e=e, task_id=result.task_id)
        e.working = False
        self.settle(e, result, token)

    def _start(self, step: StepStart) -> Generator[simpy.Event, Any, PipelineResult]:
        """Join the minute's batch; its result once the batch has started."""
        ctx = self._ctx
        starting = self._starting
        if starting is None:
            starting = self._starting = _Starting(ctx.env)
            # After the events already queued for this minute: every task that holds its
            # teammates by then joins this batch.
            ctx.later(0, self._start_batch)
        index = len(starting.steps)
        starting.steps.append(step)
        yield starting.done
        return starting.results[index]

    def _start_batch(self) -> None:
        starting, self._starting = self._starting, None
        if starting is None:
            return
        ctx = self._ctx
        starting.results = ctx.pipeline.start_steps(starting.steps, uow=ctx.uow, at=ctx.now())
        starting.done.succeed()

    def rework(self, e: LiveEnrollment | None, result: PipelineResult,
               token: int) -> ProcessGenerator:
        """A redraft after a rejection: hold the teammates for the work, then settle."""
        held = yield from self._hold(sorted({w.teammate for w in result.work}))
        yield self._ctx.env.timeout(result.busy_minutes)
        self._release(held, result.busy_minutes)
        if e is not None:
            e.task_id = result.task_id
        self.settle(e, result, token)

    def chat(self, action: ChatAction) -> ProcessGenerator:
        """A one-off chat request: a teammate drafts a message to one contact."""
        ctx = self._ctx
        contact = ctx.contacts[action.contact.lower()]
        drafter, reviewer = self._pair(action.teammate or ctx.default_drafter)
        held = yield from self._hold([drafter.name, reviewer.name])
        result = ctx.pipeline.start_chat(uow=ctx.uow, contact=contact, text=action.text,
                                         teammate=drafter, reviewer=reviewer, at=ctx.now())
        ctx.tasks[result.task_id] = TaskNote(drafter=drafter.name, contact=contact,
                                             channel="email", step_id=None)
        yield ctx.env.timeout(result.busy_minutes)
        self._release(held, result.busy_minutes)
        self.settle(None, result, 0)

    # -- results --------------------------------------------------------------------------

    def settle(self, e: LiveEnrollment | None, result: PipelineResult, token: int) -> None:
        """Route a pipeline result: Needs attention, the outbox, or the next step."""
        ctx = self._ctx
        stale = e is not None and (e.token != token or e.task_id != result.task_id)
        if result.status == "awaiting_approval":
            if result.attention_id is None:
                raise RuntimeError(f"task {result.task_id} awaits approval without an item")
            if stale:
                # The person replied, ended or lost this step while it was being drafted: the
                # draft never reaches the human.
                self._withdraw_if_open(result)
                return
            ctx.attention.add(AttentionItem(
                item_id=result.attention_id, kind="draft", created=ctx.minute(),
                task_id=result.task_id, draft_id=result.draft_id, enrollment=e))
        elif result.status == "sent":
            self._outbox.queue(e, result, token)
        elif result.status == "failed":
            self._failed(e, result, stale)
        elif e is not None and not stale:
            e.task_id = None
            if result.status == "skipped" and e.step_id is not None:
                ctx.log(StepSkipped(step_id=e.step_id), e=e)
                self._enrollments.advance(e, e.step_id)

    def _failed(self, e: LiveEnrollment | None, result: PipelineResult, stale: bool) -> None:
        """A task whose drafter or reviewer could not work: its item joins Needs attention and
        its enrollment pauses where it stood (unless it moved on meanwhile: a reply, an end)."""
        ctx = self._ctx
        if result.attention_id is None:
            raise RuntimeError(f"task {result.task_id} failed without an attention item")
        item = AttentionItem(item_id=result.attention_id, kind="draft_failure",
                             created=ctx.minute(), task_id=result.task_id,
                             draft_id=result.draft_id, enrollment=e)
        if e is not None and not stale:
            e.task_id = None
            self._enrollments.pause(e, DRAFT_FAILED)
            item.token = e.token
        ctx.attention.add(item)

    def _withdraw_if_open(self, result: PipelineResult) -> None:
        ctx = self._ctx
        if ctx.uow.tasks.get(result.task_id).status == "awaiting_approval":
            ctx.pipeline.withdraw(result.task_id, "superseded", uow=ctx.uow, at=ctx.now())
