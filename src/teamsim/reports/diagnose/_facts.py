"""The store as it stood at the moment diagnosed: the facts every check of the checklist reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from teamsim.model import Contact, Sequence, SequenceVersion, WaitStep
from teamsim.reports.diagnose._reads import Person, Reads
from teamsim.reports.diagnose._wording import relative, stamp, tick_after
from teamsim.store import AttentionItem, ReplyRecord, TaskRecord, UnitOfWork

__all__ = ["Facts"]


@dataclass(kw_only=True)
class Facts:
    """The store as it stood at ``at``, for one sequence: what the checks ask about."""

    uow: UnitOfWork
    at: datetime
    tick: int
    run_start: datetime | None
    run_end: datetime | None
    seq: Sequence
    versions: list[SequenceVersion]
    reads: Reads
    people: list[Person]
    contacts: dict[int | None, Contact]

    @property
    def current(self) -> Sequence:
        """The sequence as last saved by ``at``."""
        return self.versions[-1].sequence

    def name_of(self, person: Contact | None) -> str:
        return f"'{self.seq.name}'" if person is None else person.name

    def contact_of(self, person: Person) -> Contact:
        contact = self.contacts.get(person.enrollment.contact_id)
        if contact is None:
            contact = self.uow.contacts.get(person.enrollment.contact_id)
            self.contacts[contact.id] = contact
        return contact

    def step_text(self, step_id: str | None) -> str:
        if step_id is None:
            return "no step"
        label = next((s.label for s in self.current.iter_steps() if s.id == step_id), "")
        return f"step {step_id} '{label}'" if label else f"step {step_id}"

    def is_wait(self, step_id: str | None) -> bool:
        return any(isinstance(s, WaitStep) and s.id == step_id
                   for s in self.current.iter_steps())

    def open_items(self, kind: str) -> list[AttentionItem]:
        """Needs attention items of ``kind`` that were open at ``at``, oldest first."""
        return [
            item for item in self.reads.attention
            if item.kind == kind and item.created_at <= self.at
            and (item.status == "open"
                 or (item.resolved_at is not None and item.resolved_at > self.at))
        ]

    def task(self, task_id: int | None) -> TaskRecord | None:
        return next((t for t in self.reads.tasks if t.id == task_id), None)

    def draft_id(self, item: AttentionItem) -> int | None:
        draft = item.payload.get("draft")
        if isinstance(draft, dict) and isinstance(draft.get("id"), int):
            return int(draft["id"])
        if item.task_id is None:
            return None
        drafts = [d for d in self.uow.drafts.list(item.task_id) if d.created_at <= self.at]
        return drafts[-1].id if drafts else None

    def drafting(self, person: Person) -> list[TaskRecord]:
        """The person's tasks a teammate was still drafting (or reviewing) at ``at``."""
        waiting = {item.task_id for item in self.open_items("draft")}
        return [
            t for t in self.reads.tasks
            if t.enrollment_id == person.id and t.created_at <= self.at
            and t.id not in waiting and (t.finished_at is None or t.finished_at > self.at)
        ]

    def replies(self, person: Person) -> list[ReplyRecord]:
        return [r for r in self.reads.replies
                if r.enrollment_id == person.id and r.received_at <= self.at]

    def when(self, moment: datetime) -> str:
        return f"{stamp(moment)} ({relative(moment, self.at)})"

    def next_tick(self, due: datetime | None) -> datetime:
        """The scheduler's next tick at or after ``due`` that has not run by ``at``.

        A run covers the minutes before its end: nothing scheduled at the closing minute runs
        (SimPy's ``run(until=T)`` stops before events at ``T``), so from the run's end on, the
        tick at ``at`` itself is still to come.
        """
        ended = self.run_end is not None and self.at >= self.run_end
        return tick_after(after=self.at, due=due, anchor=self.run_start, tick=self.tick,
                          inclusive=ended)

    def describe_draft(self, item: AttentionItem) -> str:
        """``draft 7 of step s3 'Follow up' for Ann Lee`` (the draft the item shows)."""
        task = self.task(item.task_id)
        draft = self.draft_id(item)
        step = self.step_text(task.step_id if task is not None else None)
        who = ""
        if task is not None and task.contact_id in self.contacts:
            who = f" for {self.contacts[task.contact_id].name}"
        return f"{'draft ' + str(draft) if draft is not None else 'a draft'} of {step}{who}"

    def reply_of(self, person: Person) -> ReplyRecord | None:
        return next((r for r in reversed(self.replies(person)) if r.kind == "reply"), None)

    def queued(self, person: Person) -> tuple[int, datetime, str | None] | None:
        """An approved message of the person that was queued, not yet sent, at ``at``."""
        for message in self.uow.messages.list(enrollment_id=person.id):
            # Messages carry queued/sent/cancelled times once the outbox records them.
            queued_at: Any = getattr(message, "queued_at", None)
            if not isinstance(queued_at, datetime) or queued_at > self.at:
                continue
            gone: list[Any] = [message.sent_at, getattr(message, "cancelled_at", None)]
            if all(t is None or t > self.at for t in gone):
                return message.id, queued_at, message.step_id
        return None
