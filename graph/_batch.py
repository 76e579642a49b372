"""What the driver keeps of its graph threads, what it records of a task when an invoke
ends, and the small helpers it shares.

One graph thread holds one batch of tasks (the due steps of one scheduler tick, or one chat
request). :class:`Batch` is the driver's note of a thread: which tasks still wait in it, the
human's decisions recorded but not yet carried in, and the tasks withdrawn since its last
resume.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Final

from teamsim.agents import ThreadMessage
from teamsim.graph._nodes import ItemWork, TaskFailed, TaskInfo, TaskState
from teamsim.graph._ports import PipelineStore
from teamsim.graph._team import Team, TeamMember
from teamsim.graph._types import HumanDecision, PipelineResult, PipelineStatus
from teamsim.model import (
    AttentionOpened,
    Contact,
    DraftFailed,
    MessageStep,
    PipelineError,
    RuleCheck,
    Sequence,
)
from teamsim.store import MessageRecord, TaskRecord

__all__ = ["Batch", "StepStart", "answer", "failed_task", "failure_text", "finished", "opened",
           "pair_ids", "task_of", "thread_of", "utc"]

_AWAITING = "awaiting_approval"
_FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStart:
    """One due message step to start in a batch (:meth:`Pipeline.start_steps`).

    Attributes:
        enrollment_id: the enrollment whose step is due.
        sequence: its sequence (stored).
        step: the due message step.
        contact: the person it is for (stored).
        drafter: the teammate who drafts it.
        reviewer: the teammate who reviews it (not the drafter).
        thread: the messages already sent to the contact in this sequence, oldest first
            (``None``: read from the store).
    """

    enrollment_id: int
    sequence: Sequence
    step: MessageStep
    contact: Contact
    drafter: TeamMember
    reviewer: TeamMember
    thread: tuple[ThreadMessage, ...] | None = None


@dataclass(slots=True)
class Batch:
    """The driver's note of one graph thread.

    Attributes:
        thread_id: the thread (``batch:<first task id>``).
        waiting: the tasks the thread's state still holds (at the gate).
        decided: decisions recorded by :meth:`Pipeline.decide`, not yet carried in, in the
            order they were made, with their times.
        withdrawn: tasks withdrawn since the last resume (the next resume drops them).
    """

    thread_id: str
    waiting: set[int] = field(default_factory=set)
    decided: dict[int, tuple[HumanDecision, datetime]] = field(default_factory=dict)
    withdrawn: list[int] = field(default_factory=list)

    def idle(self) -> bool:
        """Whether nothing is left for the thread to do (every waiting task withdrawn)."""
        return not self.decided and self.waiting <= set(self.withdrawn)


# -- what a task's invoke ended in ---------------------------------------------------------


def opened(w: ItemWork, state: TaskState, attention: dict[str, Any],
           uow: PipelineStore) -> PipelineResult:
    """A task that reached the gate: its Needs attention item, from the gate's payload (the
    caller notes the item's id)."""
    task, ready_at = w.task, w.now()
    item_id: int = uow.attention.open(
        kind="draft", at=ready_at, task_id=task.task_id, payload=attention)
    uow.tasks.set_status(task.task_id, _AWAITING, ready_at)
    rule = attention["rule"]
    w.event(AttentionOpened(
        attention_id=item_id, draft_id=attention["draft"]["id"],
        flagged=attention["flagged"], open_concerns=tuple(attention["open_concerns"]),
        rule=None if rule is None else RuleCheck(**rule),
    ), ready_at)
    return PipelineResult(
        task_id=task.task_id, status="awaiting_approval", attention_id=item_id,
        draft_id=state["draft_id"], work=tuple(w.work), ready_at=ready_at,
        flagged=attention["flagged"],
    )

def finished(w: ItemWork, state: TaskState, uow: PipelineStore) -> PipelineResult:
    """A task sent or discarded: its status (the caller forgets it)."""
    task, ready_at = w.task, w.now()
    decision: dict[str, Any] = state["decision"] or {}
    status: PipelineStatus
    if decision["action"] == "reject":
        status = "skipped" if task.kind == "step" else "discarded"
    else:
        status = "sent"
    uow.tasks.set_status(task.task_id, status, ready_at, outcome=status)
    return PipelineResult(
        task_id=task.task_id, status=status, message_id=decision.get("message_id"),
        draft_id=state["draft_id"], work=tuple(w.work), ready_at=ready_at,
        rule_id=decision["rule_id"], flagged=bool(state["concerns"]),
        subject=decision["subject"] if status == "sent" else None,
        body=decision["body"] if status == "sent" else None,
    )

def failed_task(w: ItemWork, uow: PipelineStore) -> PipelineResult:
    """Record a task whose drafter or reviewer could not work: a ``draft_failure`` item in
    Needs attention, the task ``failed``, a ``draft.failed`` event; nothing is sent (the caller
    forgets it)."""
    task, failed, ready_at = w.task, w.failed, w.now()
    if failed is None:
        raise PipelineError(f"task {task.task_id} did not fail")
    text = failure_text(task, failed)
    item_id: int = uow.attention.open(
        kind="draft_failure", at=ready_at, task_id=task.task_id, payload={
            "task_id": task.task_id,
            "kind": task.kind,
            "text": text,
            "stage": failed.stage,
            "teammate": {"id": failed.teammate_id, "name": failed.teammate},
            "drafter": {"id": task.drafter_id, "name": task.drafter.name},
            "reason": failed.reason,
            "tries": failed.tries,
            "contact": {"id": task.contact.id, "name": task.contact.name},
            "sequence": (None if task.sequence is None
                         else {"id": task.sequence.id, "name": task.sequence.name}),
            "step": (None if task.step is None
                     else {"id": task.step.id, "label": task.step.label}),
            "channel": task.channel,
        })
    uow.tasks.set_status(task.task_id, _FAILED, ready_at, outcome=_FAILED)
    w.event(DraftFailed(
        stage=failed.stage, teammate_id=failed.teammate_id, teammate=failed.teammate,
        reason=failed.reason, tries=failed.tries, attention_id=item_id,
    ), ready_at)
    return PipelineResult(
        task_id=task.task_id, status="failed", attention_id=item_id,
        draft_id=failed.draft_id or None, work=tuple(w.work), ready_at=ready_at,
        failure=text,
    )


def failure_text(task: TaskInfo, failed: TaskFailed) -> str:
    """What the Needs attention item of a failed task says: "Riley could not draft step s3 for
    Ana Lopez: rate limited after 4 tries" (a review: "Sam could not review Riley's draft of
    step s3 for ..."; a chat: "... the chat message for ...")."""
    what = "the chat message" if task.step is None else f"step {task.step.id}"
    if failed.stage == "draft":
        did = f"{failed.teammate} could not draft {what}"
    else:
        did = f"{failed.teammate} could not review {task.drafter.name}'s draft of {what}"
    return f"{did} for {task.contact.name}: {failed.failure}"


def pair_ids(drafter: TeamMember, reviewer: TeamMember) -> tuple[int, int]:
    """The stored ids of a drafter and its reviewer (``ValueError``: unstored, or the same)."""
    ids = []
    for member in (drafter, reviewer):
        if member.teammate.id is None:
            raise ValueError(f"teammate {member.name!r} has no id; add it to the store first "
                             "(uow.teammates.add) and use the returned teammate")
        ids.append(member.teammate.id)
    if ids[0] == ids[1]:
        raise ValueError(
            f"teammate {drafter.name!r} cannot review its own draft; pick another reviewer"
        )
    return ids[0], ids[1]


def thread_of(messages: list[MessageRecord]) -> tuple[ThreadMessage, ...]:
    """The messages already sent, as the agents see them."""
    return tuple(
        ThreadMessage(step_id=m.step_id, channel=m.channel, subject=m.subject, body=m.body,
                      sent_at=m.sent_at or m.queued_at)
        for m in messages
    )


_DECISION_FIELDS: Final = tuple(field.name for field in fields(HumanDecision))


def answer(decision: HumanDecision) -> dict[str, Any]:
    """``dataclasses.asdict(decision)``, built directly when every field is a plain ``str`` or
    ``None`` (which ``asdict`` would return as they are)."""
    values = {name: getattr(decision, name) for name in _DECISION_FIELDS}
    for value in values.values():
        if value is not None and value.__class__ is not str:
            return asdict(decision)
    return values


def utc(at: datetime, where: str) -> datetime:
    """``at`` in UTC (``ValueError`` when naive)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{where}: at={at.isoformat()} is naive; pass a timezone-aware UTC "
                         "datetime (the simulated now)")
    return at.astimezone(UTC)


def task_of(record: TaskRecord, uow: PipelineStore, team: Team | None) -> TaskInfo:
    """The task of a stored task record (to resume a task another ``Pipeline`` started)."""
    if team is None or record.teammate_id is None or record.reviewer_id is None:
        raise PipelineError(
            f"task {record.id} was started by another Pipeline; to resume it here, "
            "create this Pipeline with team=... and the same durable checkpointer"
        )
    drafter = team.member(uow.teammates.get(record.teammate_id).name)
    reviewer = team.member(uow.teammates.get(record.reviewer_id).name)
    contact = uow.contacts.get(record.contact_id)
    if record.kind == "chat" or record.sequence_id is None or record.step_id is None:
        # The task record does not keep a chat's channel; chats default to email.
        task = TaskInfo(
            task_id=record.id, kind="chat", thread_id=record.thread_id, contact=contact,
            channel="email", brief=record.brief,
            thread=thread_of(uow.messages.thread(record.contact_id, None)), drafter=drafter,
            drafter_id=record.teammate_id, reviewer=reviewer, reviewer_id=record.reviewer_id,
        )
    else:
        sequence = uow.sequences.get(record.sequence_id)
        step = sequence.step(record.step_id)
        if not isinstance(step, MessageStep):
            raise PipelineError(f"task {record.id}: step {record.step_id!r} is no longer "
                                "a message step; withdraw the task instead")
        task = TaskInfo.for_step(
            task_id=record.id, thread_id=record.thread_id, sequence=sequence, step=step,
            contact=contact, drafter=drafter, drafter_id=record.teammate_id,
            reviewer=reviewer, reviewer_id=record.reviewer_id,
            enrollment_id=record.enrollment_id,
            thread=thread_of(uow.messages.thread(record.contact_id, sequence.id)),
        )
    return task

