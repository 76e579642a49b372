"""The contacts: how people react to what they receive.

Each delivered message gets the person's reactions (bounce, out of office, open, click, reply,
unsubscribe), every one drawn from the keyed random streams by who they are and which step it
was, so adding a contact or changing a probability leaves unrelated draws alone. A reaction
happens after its delay; a reply lands in Needs attention and pauses the person.
"""

from __future__ import annotations

from teamsim.model import (
    EnrollmentStatus,
    MessageClicked,
    MessageOpened,
    ReplyReceived,
)
from teamsim.sim._context import RunContext
from teamsim.sim._enrollments import Enrollments
from teamsim.sim._records import AttentionItem, LiveEnrollment, Outgoing
from teamsim.store import ReplyKind

__all__ = ["Contacts"]


class Contacts:
    """The people on the other end.

    Reactions are timeout callbacks (:meth:`RunContext.later`), not processes: a person may
    react to each message in five ways, and a process each would cost an extra event and
    reorder the minute (see :meth:`RunContext.later`).

    Args:
        ctx: the run's context.
        enrollments: whose walk a reaction pauses, ends or decides.
    """

    def __init__(self, ctx: RunContext, enrollments: Enrollments) -> None:
        self._ctx = ctx
        self._enrollments = enrollments

    def react(self, e: LiveEnrollment, out: Outgoing, index: int) -> None:
        """Draw the person's reactions to a delivered message, keyed by who and which step."""
        ctx = self._ctx
        p, rng, later = e.persona, ctx.rng, ctx.later
        key = (e.contact.email, e.seq, out.step_id)
        sent = e.sent[str(out.step_id)]
        if rng.chance(p.bounce, "bounce", *key):
            later(1, lambda: self._ends(e, out, "bounce", EnrollmentStatus.BOUNCED, "bounced"))
            return
        if rng.chance(p.out_of_office, "ooo", *key):
            later(2, lambda: self._reply(e, out, "out_of_office"))
        if rng.chance(p.open, "open", *key):
            opened = p.open_delay.minutes(rng.uniform("open-delay", *key))

            def open_() -> None:
                sent.opened = ctx.minute()
                ctx.uow.messages.mark_engagement(out.message_id, "opened", ctx.now())
                ctx.log(MessageOpened(message_id=out.message_id, step_id=out.step_id), e=e)
                self._enrollments.engaged(e, out.step_id)
            later(opened, open_)
            if rng.chance(p.click, "click", *key):
                clicked = opened + p.click_delay.minutes(rng.uniform("click-delay", *key))

                def click() -> None:
                    sent.clicked = ctx.minute()
                    ctx.uow.messages.mark_engagement(out.message_id, "clicked", ctx.now())
                    ctx.log(MessageClicked(message_id=out.message_id, step_id=out.step_id),
                            e=e)
                    self._enrollments.engaged(e, out.step_id)
                later(clicked, click)
        chance = p.reply_chance(index, out.channel, out.edited, out.flagged)
        if rng.chance(chance, "reply", *key):
            delay = p.reply_delay.minutes(rng.uniform("reply-delay", *key))
            later(delay, lambda: self._reply(e, out, "reply"))
        if rng.chance(p.unsubscribe, "unsubscribe", *key):
            delay = p.unsubscribe_delay.minutes(rng.uniform("unsubscribe-delay", *key))
            later(delay, lambda: self._ends(e, out, "unsubscribe",
                                            EnrollmentStatus.UNSUBSCRIBED, "unsubscribed"))

    def react_to_chat(self, out: Outgoing) -> None:
        """A one-off chat message: the person may open it and reply (keyed by the chat task);
        the reply lands in Needs attention, and there is no sequence to pause."""
        ctx = self._ctx
        contact = out.contact
        p, rng = ctx.persona_of[contact.email], ctx.rng
        key = ("chat", contact.email, out.task_id)
        if rng.chance(p.open, "open", *key):
            def open_() -> None:
                ctx.uow.messages.mark_engagement(out.message_id, "opened", ctx.now())
                ctx.log(MessageOpened(message_id=out.message_id, step_id=None),
                        contact_id=contact.id, task_id=out.task_id)
            ctx.later(p.open_delay.minutes(rng.uniform("open-delay", *key)), open_)
        if rng.chance(p.reply_chance(0, out.channel, out.edited, out.flagged), "reply", *key):
            def reply() -> None:
                body = (f"Hi {out.teammate}, thanks for the note. Yes, let's talk. "
                        f"- {contact.first_name}")
                reply_id = ctx.uow.replies.add(contact_id=contact.id or 0, kind="reply",
                                             at=ctx.now(), message_id=out.message_id,
                                             body=body)
                item_id = ctx.uow.attention.open(
                    kind="reply", at=ctx.now(), reply_id=reply_id,
                    payload={"contact": contact.email, "sequence": None, "body": body,
                             "message_id": out.message_id})
                ctx.log(ReplyReceived(kind="reply", reply_id=reply_id,
                                      message_id=out.message_id, attention_id=item_id),
                        contact_id=contact.id, task_id=out.task_id)
                ctx.attention.add(AttentionItem(item_id=item_id, kind="reply",
                                                created=ctx.minute()))
            ctx.later(p.reply_delay.minutes(rng.uniform("reply-delay", *key)), reply)

    def _ends(self, e: LiveEnrollment, out: Outgoing, kind: ReplyKind,
              status: EnrollmentStatus, reason: str) -> None:
        """A bounce or an unsubscribe: recorded as a reply, and the enrollment ends."""
        ctx = self._ctx
        ctx.uow.replies.add(contact_id=e.contact.id or 0, kind=kind, at=ctx.now(),
                          enrollment_id=e.id, message_id=out.message_id)
        ctx.log(ReplyReceived(kind=kind, message_id=out.message_id), e=e)
        self._enrollments.finish(e, status, reason)

    def _reply(self, e: LiveEnrollment, out: Outgoing, kind: ReplyKind) -> None:
        ctx = self._ctx
        body = ("Thanks, I'm out of the office this week." if kind == "out_of_office" else
                f"Hi {out.teammate}, thanks for reaching out. Can we talk next week? "
                f"- {e.contact.first_name}")
        reply_id = ctx.uow.replies.add(contact_id=e.contact.id or 0, kind=kind, at=ctx.now(),
                                     enrollment_id=e.id, message_id=out.message_id, body=body)
        if kind != "reply":
            ctx.log(ReplyReceived(kind=kind, reply_id=reply_id, message_id=out.message_id),
                    e=e)
            return
        item_id = ctx.uow.attention.open(
            kind="reply", at=ctx.now(), reply_id=reply_id,
            payload={"contact": e.contact.email, "sequence": e.seq, "body": body,
                     "message_id": out.message_id})
        ctx.log(ReplyReceived(kind=kind, reply_id=reply_id, message_id=out.message_id,
                              attention_id=item_id), e=e)
        ctx.attention.add(AttentionItem(item_id=item_id, kind="reply", created=ctx.minute(),
                                        enrollment=e))
        self._enrollments.pause(e, "replied")
