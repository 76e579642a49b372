"""The store operations the pipeline uses, as a narrow protocol.

The pipeline reads and writes through fifteen operations, grouped by the repository that
holds them: ``tasks.add``/``get``/``set_status``, ``drafts.add``/``add_review``/
``add_decision``, ``attention.open``/``resolve``/``list``, ``messages.send``/``thread``,
``contacts.get``, ``sequences.get``, ``teammates.get`` and ``events.append``.
:class:`teamsim.store.UnitOfWork` satisfies :class:`PipelineStore` structurally (the type
checker proves it); :class:`~teamsim.graph.InMemoryPipelineStore` is the in-memory fake for
tests and benchmarks.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from teamsim.model import Contact, EventKind, Payload, Sequence, Teammate
from teamsim.store import (
    AttentionItem,
    AttentionKind,
    AttentionStatus,
    DecidedBy,
    DecisionAction,
    MessageRecord,
    TaskKind,
    TaskRecord,
)

__all__ = [
    "PipelineAttention",
    "PipelineContacts",
    "PipelineDrafts",
    "PipelineEvents",
    "PipelineMessages",
    "PipelineSequences",
    "PipelineStore",
    "PipelineTasks",
    "PipelineTeammates",
]


class PipelineTasks(Protocol):
    """Pipeline tasks, one per graph thread (``uow.tasks``)."""

    def add(
        self,
        *,
        kind: TaskKind,
        thread_id: str,
        contact_id: int,
        teammate_id: int | None,
        at: datetime,
        enrollment_id: int | None = None,
        step_id: str | None = None,
        sequence_id: int | None = None,
        reviewer_id: int | None = None,
        brief: str = "",
        status: str = "open",
    ) -> int:
        """Record a new task and return its id (a thread id taken is a ``ConflictError``)."""
        ...

    def get(self, task_id: int, /) -> TaskRecord:
        """A task, by id (``NotFoundError`` if there is none)."""
        ...

    def set_status(
        self, task_id: int, status: str, at: datetime, outcome: str | None = None
    ) -> None:
        """Set a task's status; an ``outcome`` also marks it finished at ``at``."""
        ...


class PipelineDrafts(Protocol):
    """A task's drafts, reviews and decisions (``uow.drafts``)."""

    def add(
        self,
        *,
        task_id: int,
        revision: int,
        author_id: int | None,
        subject: str | None,
        body: str,
        minutes: int,
        at: datetime,
    ) -> int:
        """Record a draft (or a revision); returns its id."""
        ...

    def add_review(
        self,
        *,
        task_id: int,
        draft_id: int,
        reviewer_id: int | None,
        verdict: str,
        notes: Iterable[str],
        minutes: int,
        at: datetime,
    ) -> int:
        """Record a peer review of a draft; returns its id."""
        ...

    def add_decision(
        self,
        *,
        task_id: int,
        draft_id: int | None,
        action: DecisionAction,
        by: DecidedBy,
        at: datetime,
        rule_id: int | None = None,
        note: str = "",
        subject: str | None = None,
        body: str | None = None,
    ) -> int:
        """Record a decision on a draft; returns its id."""
        ...


class PipelineAttention(Protocol):
    """The Needs attention queue (``uow.attention``)."""

    def open(
        self,
        *,
        kind: AttentionKind,
        at: datetime,
        task_id: int | None = None,
        reply_id: int | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> int:
        """Open an item; returns its id."""
        ...

    def resolve(
        self, item_id: int, *, status: AttentionStatus = "resolved", at: datetime
    ) -> None:
        """Close an open item (``ConflictError`` if it is not open)."""
        ...

    def list(
        self, status: AttentionStatus | None = "open", *, kind: AttentionKind | None = None
    ) -> builtins.list[AttentionItem]:
        """Items with ``status`` (``None``: any), oldest first."""
        ...


class PipelineMessages(Protocol):
    """The outbox (``uow.messages``)."""

    def send(
        self,
        *,
        task_id: int,
        contact_id: int,
        channel: str,
        subject: str | None,
        body: str,
        at: datetime,
        enrollment_id: int | None = None,
        step_id: str | None = None,
        teammate_id: int | None = None,
    ) -> tuple[int, bool]:
        """Queue a task's message, at most once per task: ``(id, sent_now)``."""
        ...

    def thread(self, contact_id: int, sequence_id: int | None) -> list[MessageRecord]:
        """Messages delivered to a contact in a sequence (``None``: chats), oldest first."""
        ...


class PipelineContacts(Protocol):
    """Contacts (``uow.contacts``)."""

    def get(self, contact_id: int, /) -> Contact:
        """A contact, by id."""
        ...


class PipelineSequences(Protocol):
    """Sequences (``uow.sequences``)."""

    def get(self, sequence_id: int, /) -> Sequence:
        """A sequence's current version, by id."""
        ...


class PipelineTeammates(Protocol):
    """Teammates (``uow.teammates``)."""

    def get(self, teammate_id: int, /) -> Teammate:
        """A teammate, by id."""
        ...


class PipelineEvents(Protocol):
    """The event log (``uow.events``)."""

    def append(
        self,
        payload: Payload,
        at: datetime,
        *,
        kind: EventKind | None = None,
        sequence_id: int | None = None,
        enrollment_id: int | None = None,
        contact_id: int | None = None,
        task_id: int | None = None,
    ) -> int:
        """Log one event; returns its sequence number."""
        ...


class PipelineStore(Protocol):
    """Everything the pipeline asks of the store, by repository.

    :class:`teamsim.store.UnitOfWork` is one; :class:`~teamsim.graph.InMemoryPipelineStore`
    is another, in memory.
    """

    @property
    def tasks(self) -> PipelineTasks:
        """Pipeline tasks."""
        ...

    @property
    def drafts(self) -> PipelineDrafts:
        """Drafts, reviews and decisions."""
        ...

    @property
    def attention(self) -> PipelineAttention:
        """The Needs attention queue."""
        ...

    @property
    def messages(self) -> PipelineMessages:
        """The outbox."""
        ...

    @property
    def contacts(self) -> PipelineContacts:
        """Contacts."""
        ...

    @property
    def sequences(self) -> PipelineSequences:
        """Sequences."""
        ...

    @property
    def teammates(self) -> PipelineTeammates:
        """Teammates."""
        ...

    @property
    def events(self) -> PipelineEvents:
        """The event log."""
        ...
