"""The enrollments actor: people walking their sequences.

Each enrollment walks its steps: a wait starts a timer, a branch decides (or waits for an
engagement window to close), a message step falls *due* for the scheduler. Pauses (a reply),
resumes, moves (an edit removed the step) and ends all go through here, so an enrollment's
state machine lives in one class.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from teamsim.model import (
    BranchStep,
    BranchTaken,
    BranchWaiting,
    EngagementCondition,
    EnrollmentCreated,
    EnrollmentEnded,
    EnrollmentMoved,
    EnrollmentPaused,
    EnrollmentRefused,
    EnrollmentResumed,
    EnrollmentStatus,
    EventKind,
    MessageStep,
    Sequence,
    StepDue,
    StepSkipped,
    WaitDone,
    WaitStarted,
    WaitStep,
)
from teamsim.sim._context import DAY, ProcessGenerator, RunContext
from teamsim.sim._records import LiveEnrollment
from teamsim.sim._setup import Plan
from teamsim.sim._walk import first_of, next_after, step_ids

__all__ = ["Enrollments"]

_ENDED = (EnrollmentStatus.COMPLETED, EnrollmentStatus.BOUNCED,
          EnrollmentStatus.UNSUBSCRIBED, EnrollmentStatus.ENDED)


class Enrollments:
    """Every enrollment of the run, and the walk through its steps.

    Timers are timeout callbacks checked against the enrollment's ``token`` (bumped on every
    pause, move and end) rather than processes interrupted with :class:`simpy.Interrupt`: an
    interrupt is an extra event, scheduled ahead of the minute's other events, which would
    reorder the log (its order is part of the digest); see :meth:`RunContext.later` for the
    cost of a process per timer.

    Args:
        ctx: the run's context.
        plan: the planned enrollments (minute, order, email, sequence), sorted.
    """

    def __init__(self, ctx: RunContext, plan: Plan) -> None:
        self._ctx = ctx
        self._plan = plan
        self._by_id: dict[int, LiveEnrollment] = {}
        self._by_pair: dict[tuple[str, str], LiveEnrollment] = {}

    def run(self) -> ProcessGenerator:
        """Enroll the world's contacts at their planned minutes."""
        ctx = self._ctx
        for minute, _, email, name in self._plan:
            if minute > ctx.minute():
                yield ctx.env.timeout(minute - ctx.minute())
            self.enroll(email, name)

    def get(self, enrollment_id: int) -> LiveEnrollment:
        """The enrollment with id ``enrollment_id``."""
        return self._by_id[enrollment_id]

    def find(self, email: str, seq_name: str) -> LiveEnrollment | None:
        """``email``'s enrollment in sequence ``seq_name``, if there is one."""
        return self._by_pair.get((email.lower(), seq_name))

    # -- entering and walking -------------------------------------------------------------

    def enroll(self, email: str, seq_name: str) -> LiveEnrollment | None:
        """Enroll ``email`` in ``seq_name`` now and walk to their first due step or wait."""
        ctx = self._ctx
        contact = ctx.contacts[email.lower()]
        seq = ctx.seq(seq_name)
        if seq.id is None or contact.id is None:
            raise RuntimeError(f"enroll {email!r} in {seq_name!r}: not stored yet")
        if (email.lower(), seq_name) in self._by_pair:
            ctx.log(EnrollmentRefused(reason="already enrolled", email=email),
                    contact_id=contact.id, sequence_id=seq.id)
            return None
        stored = ctx.uow.enrollments.add(seq.id, contact.id, ctx.now(),
                                current_step_id=first_of(seq.steps), next_due_at=None)
        if stored.id is None:
            raise RuntimeError(f"the store gave the enrollment of {email!r} no id")
        e = LiveEnrollment(id=stored.id, seq=seq_name, sequence_id=seq.id, contact=contact,
                           persona=ctx.persona_of[contact.email], step_id=first_of(seq.steps))
        self._by_id[e.id] = e
        self._by_pair[(contact.email, seq_name)] = e
        ctx.log(EnrollmentCreated(step_id=e.step_id), e=e)
        self.enter(e)
        return e

    def enter(self, e: LiveEnrollment) -> None:
        """Run the person's current step: start a wait, take a branch, or make a message due."""
        ctx = self._ctx
        seq = ctx.seq(e.seq)
        while e.status is EnrollmentStatus.ACTIVE:
            if e.step_id is None:
                self.finish(e, EnrollmentStatus.COMPLETED, "completed")
                return
            step = seq.step(e.step_id)
            if isinstance(step, MessageStep):
                if step.id in e.sent:  # never the same step twice (after an edit reorders it)
                    e.step_id = next_after(seq, step.id)
                    continue
                self.make_due(e, step)
                return
            if isinstance(step, WaitStep):
                e.token += 1
                until = ctx.now() + timedelta(minutes=step.minutes)
                ctx.save(e, current_step_id=step.id, next_due_at=until)
                ctx.log(WaitStarted(step_id=step.id, minutes=step.minutes,
                                    until=until.isoformat()), e=e)
                ctx.later(step.minutes, self._waited(e, e.token, step.id))
                return
            taken = self._branch(e, step)
            if taken is None:
                return
            arm = step.then_steps if taken else step.else_steps
            ctx.log(BranchTaken(step_id=step.id, arm="then" if taken else "else"), e=e)
            e.step_id = first_of(arm) if arm else next_after(seq, step.id)

    def advance(self, e: LiveEnrollment, after: str, *, save: bool = False) -> None:
        """Move ``e`` on past step ``after`` and walk on (``save``: note the new step)."""
        e.step_id = next_after(self._ctx.seq(e.seq), after)
        if save:
            self._ctx.save(e, current_step_id=e.step_id)
        self.enter(e)

    def _waited(self, e: LiveEnrollment, token: int, step_id: str) -> Callable[[], None]:
        def done() -> None:
            if e.token == token and e.status is EnrollmentStatus.ACTIVE and e.step_id == step_id:
                self._ctx.log(WaitDone(step_id=step_id), e=e)
                self.advance(e, step_id)
        return done

    def _branch(self, e: LiveEnrollment, step: BranchStep) -> bool | None:
        """Whether the branch's condition holds; ``None`` when it cannot be told yet (an
        engagement window still open), in which case the branch is re-checked when it closes.
        """
        cond = step.condition
        if not isinstance(cond, EngagementCondition):
            return cond.holds(e.contact)
        sent = e.sent.get(cond.step_id)
        if sent is None:
            return cond.event == "not_opened"
        ctx = self._ctx
        now = ctx.minute()
        window_end = None if cond.within_days is None else sent.minute + round(
            cond.within_days * DAY)
        seen = sent.opened if cond.event != "clicked" else sent.clicked
        happened = seen is not None and (window_end is None or seen <= window_end)
        if happened:
            return cond.event != "not_opened"
        if window_end is not None and now < window_end:
            e.token += 1
            token = e.token
            ctx.log(BranchWaiting(step_id=step.id, until_minute=window_end), e=e)

            def recheck() -> None:
                watching = e.watch is not None and e.watch[1] is recheck
                if watching and e.token == token and e.status is EnrollmentStatus.ACTIVE:
                    e.watch = None
                    self.enter(e)
            # Decided at the window's end, or as soon as the person opens (or clicks) it: a
            # race that ``env.any_of`` would express, kept as a watch plus a timer callback
            # because any_of's condition event fires one event later in the minute (the
            # order is part of the digest).
            e.watch = (cond.step_id, recheck)
            ctx.later(window_end - now, recheck)
            return None
        return cond.event == "not_opened"

    def engaged(self, e: LiveEnrollment, step_id: str | None) -> None:
        """An open or click may decide a branch that waits on that message's engagement."""
        if e.watch is not None and e.watch[0] == step_id:
            e.watch[1]()

    def make_due(self, e: LiveEnrollment, step: MessageStep) -> None:
        """Make ``e``'s message step ``step`` due now."""
        ctx = self._ctx
        ctx.save(e, current_step_id=step.id, next_due_at=ctx.now())
        ctx.log(StepDue(step_id=step.id), e=e)
        ctx.due_at(ctx.minute(), e)

    # -- pauses and ends ------------------------------------------------------------------

    def finish(self, e: LiveEnrollment, status: EnrollmentStatus, reason: str) -> None:
        """End an enrollment (completed, bounced, unsubscribed, ended by the human)."""
        if e.status in _ENDED:
            return
        e.status = status
        e.token += 1
        self._withdraw_task(e, reason)
        self._ctx.save(e, status=status, ended_reason=reason, current_step_id=e.step_id,
                       next_due_at=None)
        kind = EventKind.ENROLLMENT_COMPLETED if status is EnrollmentStatus.COMPLETED \
            else EventKind.ENROLLMENT_ENDED
        self._ctx.log(EnrollmentEnded(status=status.value, reason=reason), kind=kind, e=e)

    def pause(self, e: LiveEnrollment, reason: str) -> None:
        """Pause an active enrollment (the person replied, a step could not be drafted); its
        open task is withdrawn."""
        if e.status is not EnrollmentStatus.ACTIVE:
            return
        ctx = self._ctx
        e.status = EnrollmentStatus.PAUSED
        e.token += 1
        self._withdraw_task(e, reason)
        ctx.save(e, status=EnrollmentStatus.PAUSED, paused_at=ctx.now())
        ctx.log(EnrollmentPaused(reason=reason, step_id=e.step_id), e=e)

    def resume(self, e: LiveEnrollment, by: str, *, skip: bool = False) -> None:
        """Resume a paused enrollment where it stood (``skip``: past its current step, which
        is logged as skipped)."""
        if e.status is not EnrollmentStatus.PAUSED:
            return
        e.status = EnrollmentStatus.ACTIVE
        e.token += 1
        self._ctx.save(e, status=EnrollmentStatus.ACTIVE, paused_at=None)
        self._ctx.log(EnrollmentResumed(by=by, step_id=e.step_id), e=e)
        if skip and e.step_id is not None:
            self._ctx.log(StepSkipped(step_id=e.step_id), e=e)
            self.advance(e, e.step_id)
        else:
            self.enter(e)

    def _withdraw_task(self, e: LiveEnrollment, reason: str) -> None:
        if e.task_id is None:
            return
        ctx = self._ctx
        item = ctx.attention.take_draft(e.task_id)
        if item is not None and item.open:
            item.open = False
            ctx.pipeline.withdraw(e.task_id, reason, uow=ctx.uow, at=ctx.now())
        e.task_id = None

    def move_off_removed(self, name: str, old: Sequence, saved: Sequence) -> None:
        """After an edit of sequence ``name`` (``old`` -> ``saved``), move everyone whose step
        was removed to the next surviving step."""
        ctx = self._ctx
        surviving = step_ids(saved)
        for e in [x for x in self._by_id.values() if x.seq == name]:
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
            ctx.save(e, current_step_id=target)
            ctx.log(EnrollmentMoved(from_=removed, to=target), e=e)
            if e.status is EnrollmentStatus.ACTIVE:
                self.enter(e)
