"""The outbox: approved messages waiting for their sending window, daily cap and activation.

The scheduler has the outbox dispatch once a tick: follow-ups before first messages, then by
queue time and message id. A message goes out when its enrollment still stands where it was
approved, its sequence is active, the contact's local time is inside the sending window and
the teammate's daily cap is not reached; it is cancelled when the person replied, ended or
moved on meanwhile.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from teamsim.graph import PipelineResult, ThreadMessage
from teamsim.model import (
    EnrollmentStatus,
    MessageCancelled,
    MessageSent,
    MessageStep,
    SequenceStatus,
    SimMinutes,
)
from teamsim.sim._contacts import Contacts
from teamsim.sim._context import RunContext
from teamsim.sim._enrollments import Enrollments
from teamsim.sim._records import LiveEnrollment, Outgoing, Sent

__all__ = ["Outbox"]


class Outbox:
    """Approved messages until they go out (or are cancelled).

    Args:
        ctx: the run's context.
        enrollments: whose walk goes on once a message is sent.
        contacts: who react to what they receive.
    """

    def __init__(self, ctx: RunContext, enrollments: Enrollments, contacts: Contacts) -> None:
        self._ctx = ctx
        self._enrollments = enrollments
        self._contacts = contacts
        self._waiting: list[Outgoing] = []
        self._sent_today: dict[tuple[str, date], int] = {}

    def queue(self, e: LiveEnrollment | None, result: PipelineResult, token: int, *,
              minute: SimMinutes | None = None) -> None:
        """Put the message of an approved task in the outbox, as queued at ``minute`` (the
        minute it was approved; default: now)."""
        ctx = self._ctx
        queued = ctx.minute() if minute is None else minute
        if result.message_id is None:
            raise RuntimeError(f"task {result.task_id} was sent without a message")
        task = ctx.tasks.pop(result.task_id)
        if e is not None:
            e.task_id = None
        self._waiting.append(Outgoing(
            message_id=result.message_id, task_id=result.task_id, contact=task.contact,
            teammate=task.drafter, channel=task.channel, queued=queued,
            not_before=queued, enrollment=e, token=token, step_id=task.step_id,
            follow_up=e is not None and e.messages > 0, edited=task.edited,
            flagged=result.flagged, rule_id=result.rule_id, subject=result.subject,
            body=result.body or ""))

    def held(self, name: str) -> list[Outgoing]:
        """The messages of sequence ``name``'s enrollments still waiting."""
        return [o for o in self._waiting if o.enrollment is not None and o.enrollment.seq == name]

    def dispatch(self) -> None:
        """Send what may go out now; cancel what may never."""
        if not self._waiting:
            return
        ctx = self._ctx
        now = ctx.minute()
        keep: list[Outgoing] = []
        for out in sorted(self._waiting, key=lambda o: (not o.follow_up, o.queued, o.message_id)):
            verdict = self._verdict(out, now)
            if verdict == "deliver":
                self._deliver(out)
            elif verdict == "wait":
                keep.append(out)
            else:
                ctx.uow.messages.cancel(out.message_id, reason=verdict, at=ctx.now())
                ctx.log(MessageCancelled(message_id=out.message_id, reason=verdict),
                        e=out.enrollment, task_id=out.task_id, contact_id=out.contact.id)
        self._waiting = keep

    def recall(self, rule_id: int) -> None:
        """Cancel the messages a just-disabled rule approved that still wait in the outbox;
        their steps fall due again, so fresh drafts go to the human."""
        ctx = self._ctx
        keep: list[Outgoing] = []
        for out in self._waiting:
            if out.rule_id != rule_id:
                keep.append(out)
                continue
            reason = "its auto-approve rule was disabled"
            ctx.uow.messages.cancel(out.message_id, reason=reason, at=ctx.now())
            # recalled_rule_id: the approval goes with the message, so the metrics and the
            # funnel do not count it as the rule's (the step is drafted again).
            ctx.log(MessageCancelled(message_id=out.message_id, reason=reason,
                                     recalled_rule_id=rule_id),
                    e=out.enrollment, task_id=out.task_id, contact_id=out.contact.id)
            e = out.enrollment
            if (e is not None and e.status is EnrollmentStatus.ACTIVE and e.task_id is None
                    and out.step_id is not None and e.step_id == out.step_id):
                step = ctx.seq(e.seq).step(out.step_id)
                if not isinstance(step, MessageStep):
                    raise RuntimeError(f"message {out.message_id} was for a non-message step")
                self._enrollments.make_due(e, step)
        self._waiting = keep

    def _verdict(self, out: Outgoing, now: SimMinutes) -> str:
        """``deliver``, ``wait``, or why the message is cancelled."""
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
            ctx = self._ctx
            seq = ctx.seq(e.seq)
            if seq.status is not SequenceStatus.ACTIVE or now < out.not_before:
                return "wait"
            window = seq.send_window
            if window is not None:
                local = ctx.now().astimezone(ZoneInfo(out.contact.timezone))
                if not (local.weekday() in window.weekdays
                        and window.start <= local.time() < window.end):
                    return "wait"
            if seq.daily_cap_per_teammate is not None:
                day = ctx.now().astimezone(ctx.tz).date()
                if self._sent_today.get((out.teammate, day), 0) >= seq.daily_cap_per_teammate:
                    return "wait"
        return "deliver"

    def _deliver(self, out: Outgoing) -> None:
        ctx = self._ctx
        now = ctx.now()
        ctx.uow.messages.deliver(out.message_id, at=now)
        day = now.astimezone(ctx.tz).date()
        self._sent_today[(out.teammate, day)] = self._sent_today.get((out.teammate, day), 0) + 1
        e = out.enrollment
        index = e.messages if e is not None else 0
        ctx.log(MessageSent(message_id=out.message_id, step_id=out.step_id,
                            channel=out.channel, index=index, teammate=out.teammate,
                            follow_up=out.follow_up, contact_timezone=out.contact.timezone),
                e=e, task_id=out.task_id, contact_id=out.contact.id)
        if e is None:
            self._contacts.react_to_chat(out)
            return
        if out.step_id is None:
            raise RuntimeError(f"message {out.message_id} of an enrollment has no step")
        e.messages += 1
        e.sent[out.step_id] = Sent(message_id=out.message_id, minute=ctx.minute())
        e.thread.append(ThreadMessage(step_id=out.step_id, channel=out.channel,
                                      subject=out.subject, body=out.body, sent_at=now))
        self._contacts.react(e, out, index)
        self._enrollments.advance(e, out.step_id, save=True)
