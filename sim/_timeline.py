"""The timeline: the world's scripted actions, applied at their minutes in file order.

Enroll people, pause or activate a sequence (activation spreads the backlog over the catch-up
window), edit a running sequence, switch rules, start a chat, resume or end one person.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from teamsim.model import (
    EnrollmentStatus,
    EventKind,
    SequenceCatchUp,
    SequenceEdited,
    SequenceStatus,
    SequenceStatusChanged,
)
from teamsim.sim._actions import (
    ActivateAction,
    ChatAction,
    DisableRuleAction,
    EditAction,
    EnableRuleAction,
    EndAction,
    EnrollAction,
    PauseAction,
    ResumeAction,
    TimelineAction,
)
from teamsim.sim._approver import Approver
from teamsim.sim._catch_up import release_minutes
from teamsim.sim._context import ProcessGenerator, RunContext
from teamsim.sim._enrollments import Enrollments
from teamsim.sim._outbox import Outbox
from teamsim.sim._records import LiveEnrollment, Outgoing
from teamsim.sim._work import Work

__all__ = ["Timeline"]


class Timeline:
    """The world's scripted actions.

    Args:
        ctx: the run's context.
        enrollments: who is enrolled, resumed, ended or moved.
        work: who starts chats and holds the parked steps.
        outbox: which messages wait for a sequence's activation.
        approver: who switches rules.
    """

    def __init__(self, ctx: RunContext, enrollments: Enrollments, work: Work, outbox: Outbox,
                 approver: Approver) -> None:
        self._ctx = ctx
        self._enrollments = enrollments
        self._work = work
        self._outbox = outbox
        self._approver = approver

    def run(self) -> ProcessGenerator:
        """Apply the world's scripted actions at their minutes, in file order on ties."""
        ctx = self._ctx
        for action in sorted(ctx.world.timeline, key=lambda a: a.minute):
            if action.minute > ctx.minute():
                yield ctx.env.timeout(action.minute - ctx.minute())
            self.apply(action)

    def apply(self, action: TimelineAction) -> None:
        """Apply ``action`` now (its ``at`` is not looked at)."""
        people = self._enrollments
        if isinstance(action, EnrollAction):
            for email in action.contacts:
                people.enroll(email, action.sequence)
        elif isinstance(action, PauseAction):
            self._set_status(action.sequence, SequenceStatus.PAUSED)
        elif isinstance(action, ActivateAction):
            self._activate(action.sequence)
        elif isinstance(action, EditAction):
            self._edit(action)
        elif isinstance(action, EnableRuleAction | DisableRuleAction):
            self._approver.switch_rule(action.rule, isinstance(action, EnableRuleAction))
        elif isinstance(action, ChatAction):
            self._ctx.env.process(self._work.chat(action))
        elif isinstance(action, ResumeAction):
            e = people.find(action.contact, action.sequence)
            if e is not None:
                people.resume(e, "timeline")
        elif isinstance(action, EndAction):
            e = people.find(action.contact, action.sequence)
            if e is not None:
                people.finish(e, EnrollmentStatus.ENDED, "ended by the human")

    def _set_status(self, name: str, status: SequenceStatus) -> None:
        ctx = self._ctx
        seq = ctx.seq(name)
        if seq.status is status:
            return
        seq.status = status
        saved = ctx.sequences[name] = ctx.uow.sequences.save(seq, ctx.now())
        kind = EventKind.SEQUENCE_PAUSED if status is SequenceStatus.PAUSED \
            else EventKind.SEQUENCE_ACTIVATED
        ctx.log(SequenceStatusChanged(status=status.value, version=saved.version), kind=kind,
                sequence_id=seq.id)

    def _activate(self, name: str) -> None:
        """Activate a sequence; steps that fell due meanwhile are spread over the catch-up
        (``catch_up_hours`` of open sending-window time, see :mod:`teamsim.sim._catch_up`)
        instead of all firing at once, and so are approved messages held back."""
        ctx = self._ctx
        seq = ctx.seq(name)
        seq.check_activatable()
        if seq.status is SequenceStatus.ACTIVE:
            return
        self._set_status(name, SequenceStatus.ACTIVE)
        parked = self._work.take_parked(name)
        held = self._outbox.held(name)
        backlog: list[LiveEnrollment | Outgoing] = [*held, *parked]
        window = round(ctx.world.settings.catch_up_hours * 60)
        # One spread over the whole backlog (item i at i*window//n open minutes); with a
        # sending window each item's offset is read in the open hours of its contact's zone.
        zones = [ZoneInfo(item.contact.timezone) if seq.send_window is not None else ctx.tz
                 for item in backlog]
        released = release_minutes(zones, over=window, now=ctx.minute(), end=ctx.until,
                                   origin=ctx.start, window=seq.send_window)
        for item, when in zip(backlog, released, strict=True):
            if isinstance(item, Outgoing):
                item.not_before = when
            else:
                item.parked = False
                ctx.due_at(when, item)
        if backlog:
            ctx.log(SequenceCatchUp(steps=len(parked), messages=len(held), over_minutes=window),
                    sequence_id=seq.id)

    def _edit(self, action: EditAction) -> None:
        ctx = self._ctx
        old = ctx.seq(action.sequence)
        new = old.model_copy(deep=True)
        for op in action.ops:
            op.apply(new)
        saved = ctx.sequences[action.sequence] = ctx.uow.sequences.save(new, ctx.now())
        ctx.log(SequenceEdited(version=saved.version,
                               ops=tuple(op.model_dump(exclude_none=True) for op in action.ops),
                               **ctx.send_limits(saved)),
                sequence_id=saved.id)
        self._enrollments.move_off_removed(action.sequence, old, saved)
