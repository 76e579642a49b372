"""Frozen records the store returns for pipeline rows (tasks, drafts, reviews...) and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "AttentionItem",
    "AttentionKind",
    "AttentionStatus",
    "DecidedBy",
    "DecisionAction",
    "DecisionRecord",
    "DraftRecord",
    "Engagement",
    "MessageRecord",
    "MessageStatus",
    "ReplyKind",
    "ReplyRecord",
    "ReviewRecord",
    "TaskKind",
    "TaskRecord",
]

TaskKind = Literal["step", "chat"]
"""A task drafts a due message step of an enrollment (``step``) or a one-off ``chat``."""
AttentionKind = Literal["draft", "draft_failure", "reply", "rule_suggestion"]
"""What waits in Needs attention (``draft_failure``: a teammate could not draft or review a
step; the task failed and nothing was sent)."""
AttentionStatus = Literal["open", "resolved", "withdrawn"]
"""An attention item is ``open`` until the human acts (``resolved``) or it lapses."""
DecisionAction = Literal["approve", "edit", "reject"]
"""What was decided on a draft (``edit`` approves an edited text)."""
DecidedBy = Literal["human", "rule"]
"""Who decided: the human, or an auto-approve rule."""
ReplyKind = Literal["reply", "out_of_office", "bounce", "unsubscribe"]
"""What came back from a contact."""
Engagement = Literal["opened", "clicked"]
"""How a contact engaged with a sent message."""
MessageStatus = Literal["queued", "sent", "cancelled"]
"""Where an approved message stands: waiting in the outbox, delivered, or cancelled."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRecord:
    """One pipeline thread: a due message step of one enrollment, or a chat."""

    id: int
    kind: str
    thread_id: str
    status: str
    outcome: str | None
    contact_id: int
    teammate_id: int | None
    reviewer_id: int | None
    enrollment_id: int | None
    sequence_id: int | None
    step_id: str | None
    brief: str
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftRecord:
    """A draft of a task's message; ``revision`` 0 is the first draft."""

    id: int
    task_id: int
    revision: int
    author_id: int | None
    subject: str | None
    body: str
    minutes: int
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewRecord:
    """A peer review of one draft."""

    id: int
    task_id: int
    draft_id: int
    reviewer_id: int | None
    verdict: str
    notes: tuple[str, ...]
    minutes: int
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AttentionItem:
    """An item of the Needs attention queue."""

    id: int
    kind: str
    status: str
    task_id: int | None
    reply_id: int | None
    payload: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionRecord:
    """A decision on a draft; ``subject``/``body`` are the final text when approved."""

    id: int
    task_id: int
    draft_id: int | None
    action: str
    by: str
    rule_id: int | None
    note: str
    subject: str | None
    body: str | None
    decided_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRecord:
    """An approved message: ``queued`` when its task approved it, then ``sent`` (delivered to
    the contact) or ``cancelled``; with when (if ever) it was opened and clicked."""

    id: int
    task_id: int
    enrollment_id: int | None
    contact_id: int
    step_id: str | None
    channel: str
    subject: str | None
    body: str
    teammate_id: int | None
    status: MessageStatus
    queued_at: datetime
    sent_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    opened_at: datetime | None
    clicked_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyRecord:
    """Something that came back from a contact."""

    id: int
    contact_id: int
    enrollment_id: int | None
    message_id: int | None
    kind: str
    body: str
    received_at: datetime
