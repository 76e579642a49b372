"""An in-memory :class:`~teamsim.graph.PipelineStore`: the pipeline without a database.

Like :class:`~teamsim.agents.FakeDrafter` for the drafter, :class:`InMemoryPipelineStore`
stands in for the store in tests, examples and benchmarks. It keeps the store's rules that
the pipeline relies on (one thread id per task, one message per task, only open attention
items resolve, missing ids are :class:`~teamsim.model.NotFoundError`), numbers every kind of
row from 1, and records events as :class:`~teamsim.model.EventRecord` in append order. The
store conformance suite runs the same tests on it and on every database backend.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_args

from teamsim.model import (
    ConflictError,
    Contact,
    EventKind,
    EventRecord,
    NotFoundError,
    Payload,
    Sequence,
    Teammate,
)
from teamsim.store import (
    AttentionItem,
    AttentionKind,
    AttentionStatus,
    DecidedBy,
    DecisionAction,
    DecisionRecord,
    DraftRecord,
    MessageRecord,
    ReviewRecord,
    TaskKind,
    TaskRecord,
)

__all__ = ["InMemoryPipelineStore"]

_T = TypeVar("_T")
_Stored = TypeVar("_Stored", Contact, Sequence, Teammate)

_WHERE = "the in-memory store"
_ATTENTION_KINDS = frozenset(get_args(AttentionKind))
_NEVER = datetime.min.replace(tzinfo=UTC)


def _utc(at: datetime, what: str) -> datetime:
    if not isinstance(at, datetime):
        raise TypeError(f"{what}: expected a datetime, got {type(at).__name__} {at!r}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what}: naive datetime {at.isoformat()}; pass a timezone-aware UTC "
                         "datetime")
    return at.astimezone(UTC)


def _one_of(value: str, allowed: frozenset[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(sorted(allowed))}; got {value!r}")
    return value


def _missing(what: str, key: int) -> NotFoundError:
    return NotFoundError(f"{what} {key} does not exist in {_WHERE}")


class _Records(Generic[_T]):
    """Stored objects by id, numbered from 1."""

    __slots__ = ("by_id",)

    def __init__(self) -> None:
        self.by_id: dict[int, _T] = {}

    def next_id(self) -> int:
        return len(self.by_id) + 1


class MemoryTasks:
    """``tasks`` of :class:`InMemoryPipelineStore`."""

    def __init__(self) -> None:
        """No tasks yet."""
        self._rows = _Records[TaskRecord]()
        self._threads: dict[str, int] = {}

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
        """Record a new task and return its id."""
        _one_of(kind, frozenset({"step", "chat"}), "task kind")
        created_at = _utc(at, "add_task(at=...)")
        other = self._threads.get(thread_id)
        if other is not None:
            raise ConflictError(
                f"a task with thread id {thread_id!r} already exists (id {other}) in "
                f"{_WHERE}; every task needs a thread id of its own")
        task_id = self._rows.next_id()
        self._rows.by_id[task_id] = TaskRecord(
            id=task_id, kind=kind, thread_id=thread_id, status=status, outcome=None,
            contact_id=contact_id, teammate_id=teammate_id, reviewer_id=reviewer_id,
            enrollment_id=enrollment_id, sequence_id=sequence_id, step_id=step_id,
            brief=brief, created_at=created_at, finished_at=None)
        self._threads[thread_id] = task_id
        return task_id

    def get(self, task_id: int, /) -> TaskRecord:
        """A task, by id."""
        task = self._rows.by_id.get(task_id)
        if task is None:
            raise _missing("task", task_id)
        return task

    def set_status(
        self, task_id: int, status: str, at: datetime, outcome: str | None = None
    ) -> None:
        """Set a task's status; an ``outcome`` also marks it finished at ``at``."""
        at = _utc(at, "set_task_status(at=...)")
        task = self.get(task_id)
        if outcome is None:
            self._rows.by_id[task_id] = replace(task, status=status)
        else:
            self._rows.by_id[task_id] = replace(task, status=status, outcome=outcome,
                                                finished_at=at)

    def list(self) -> builtins.list[TaskRecord]:
        """Every task, in order of creation."""
        return builtins.list(self._rows.by_id.values())


class MemoryDrafts:
    """``drafts`` of :class:`InMemoryPipelineStore`: drafts, reviews and decisions."""

    def __init__(self) -> None:
        """No drafts yet."""
        self._drafts = _Records[DraftRecord]()
        self._reviews = _Records[ReviewRecord]()
        self._decisions = _Records[DecisionRecord]()

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
        """Record a draft (``revision`` 0) or a revision; returns its id."""
        draft_id = self._drafts.next_id()
        self._drafts.by_id[draft_id] = DraftRecord(
            id=draft_id, task_id=task_id, revision=revision, author_id=author_id,
            subject=subject, body=body, minutes=minutes,
            created_at=_utc(at, "add_draft(at=...)"))
        return draft_id

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
        review_id = self._reviews.next_id()
        self._reviews.by_id[review_id] = ReviewRecord(
            id=review_id, task_id=task_id, draft_id=draft_id, reviewer_id=reviewer_id,
            verdict=verdict, notes=tuple(notes), minutes=minutes,
            created_at=_utc(at, "add_review(at=...)"))
        return review_id

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
        _one_of(action, frozenset({"approve", "edit", "reject"}), "decision action")
        _one_of(by, frozenset({"human", "rule"}), "decision by")
        if by == "rule" and rule_id is None:
            raise ValueError("a decision by a rule needs the rule_id of that rule")
        decision_id = self._decisions.next_id()
        self._decisions.by_id[decision_id] = DecisionRecord(
            id=decision_id, task_id=task_id, draft_id=draft_id, action=action, by=by,
            rule_id=rule_id, note=note, subject=subject, body=body,
            decided_at=_utc(at, "add_decision(at=...)"))
        return decision_id

    def get(self, draft_id: int, /) -> DraftRecord:
        """A draft, by id."""
        draft = self._drafts.by_id.get(draft_id)
        if draft is None:
            raise _missing("draft", draft_id)
        return draft

    def list(self, task_id: int) -> builtins.list[DraftRecord]:
        """A task's drafts, first draft first."""
        drafts = [d for d in self._drafts.by_id.values() if d.task_id == task_id]
        return sorted(drafts, key=lambda draft: (draft.revision, draft.id))

    def reviews(self, task_id: int) -> builtins.list[ReviewRecord]:
        """A task's reviews, oldest first."""
        return [r for r in self._reviews.by_id.values() if r.task_id == task_id]

    def decisions(self, task_id: int) -> builtins.list[DecisionRecord]:
        """A task's decisions, oldest first."""
        return [d for d in self._decisions.by_id.values() if d.task_id == task_id]


class MemoryAttention:
    """``attention`` of :class:`InMemoryPipelineStore`."""

    def __init__(self) -> None:
        """An empty queue."""
        self._rows = _Records[AttentionItem]()

    def open(
        self,
        *,
        kind: AttentionKind,
        at: datetime,
        task_id: int | None = None,
        reply_id: int | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> int:
        """Open an item; returns its id (the payload is copied, as a database keeps it)."""
        _one_of(kind, _ATTENTION_KINDS, "attention kind")
        item_id = self._rows.next_id()
        self._rows.by_id[item_id] = AttentionItem(
            id=item_id, kind=kind, status="open", task_id=task_id, reply_id=reply_id,
            payload=copy.deepcopy(dict(payload or {})),
            created_at=_utc(at, "open_attention(at=...)"), resolved_at=None)
        return item_id

    def resolve(
        self, item_id: int, *, status: AttentionStatus = "resolved", at: datetime
    ) -> None:
        """Close an open item as ``resolved`` or ``withdrawn``."""
        _one_of(status, frozenset({"resolved", "withdrawn"}), "resolve_attention status")
        at = _utc(at, "resolve_attention(at=...)")
        item = self._rows.by_id.get(item_id)
        if item is None:
            raise _missing("attention item", item_id)
        if item.status != "open":
            raise ConflictError(
                f"attention item {item_id} is already {item.status}; only open items can be "
                f"{status}")
        self._rows.by_id[item_id] = replace(item, status=status, resolved_at=at)

    def get(self, item_id: int, /) -> AttentionItem:
        """An item, by id (its payload a fresh copy)."""
        item = self._rows.by_id.get(item_id)
        if item is None:
            raise _missing("attention item", item_id)
        return replace(item, payload=copy.deepcopy(item.payload))

    def list(
        self, status: AttentionStatus | None = "open", *, kind: AttentionKind | None = None
    ) -> builtins.list[AttentionItem]:
        """Items with ``status`` (``None``: any), oldest first."""
        return [replace(item, payload=copy.deepcopy(item.payload))
                for item in self._rows.by_id.values()
                if (status is None or item.status == status)
                and (kind is None or item.kind == kind)]


class MemoryMessages:
    """``messages`` of :class:`InMemoryPipelineStore`."""

    def __init__(self, tasks: MemoryTasks) -> None:
        """An empty outbox; ``tasks`` tells which sequence a message's task belongs to."""
        self._rows = _Records[MessageRecord]()
        self._by_task: dict[int, int] = {}
        self._tasks = tasks

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
        at = _utc(at, "send_message(at=...)")
        first = self._by_task.get(task_id)
        if first is not None:
            return first, False
        message_id = self._rows.next_id()
        self._rows.by_id[message_id] = MessageRecord(
            id=message_id, task_id=task_id, enrollment_id=enrollment_id, contact_id=contact_id,
            step_id=step_id, channel=channel, subject=subject, body=body,
            teammate_id=teammate_id, status="queued", queued_at=at, sent_at=None,
            cancelled_at=None, cancel_reason=None, opened_at=None, clicked_at=None)
        self._by_task[task_id] = message_id
        return message_id, True

    def deliver(self, message_id: int, *, at: datetime) -> None:
        """Record that a queued message was delivered at ``at``."""
        at = _utc(at, "deliver_message(at=...)")
        message = self.get(message_id)
        if message.status != "queued":
            raise ConflictError(
                f"cannot deliver message {message_id}: it is {message.status}, not queued; "
                "only a queued message can be delivered or cancelled")
        self._rows.by_id[message_id] = replace(message, status="sent", sent_at=at)

    def get(self, message_id: int, /) -> MessageRecord:
        """A message, by id."""
        message = self._rows.by_id.get(message_id)
        if message is None:
            raise _missing("message", message_id)
        return message

    def for_task(self, task_id: int) -> MessageRecord | None:
        """The message a task sent, or ``None``."""
        message_id = self._by_task.get(task_id)
        return None if message_id is None else self._rows.by_id[message_id]

    def thread(self, contact_id: int, sequence_id: int | None) -> builtins.list[MessageRecord]:
        """Messages delivered to a contact in a sequence (``None``: chats), oldest first."""
        found = [m for m in self._rows.by_id.values()
                 if m.contact_id == contact_id and m.status == "sent"
                 and self._tasks.get(m.task_id).sequence_id == sequence_id]
        return sorted(found, key=lambda m: (m.sent_at or _NEVER, m.id))


class _Named(Generic[_Stored]):
    """Contacts, sequences or teammates stored for the pipeline to read."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._rows: dict[int, _Stored] = {}

    def add(self, value: _Stored, at: datetime | None = None) -> _Stored:
        """Store ``value``; returns it with its ``id`` (and, for a sequence, version 1).
        ``at`` is accepted for the store's ``sequences.add(seq, at)`` and not kept."""
        row_id = len(self._rows) + 1
        update: dict[str, Any] = {"id": row_id}
        if isinstance(value, Sequence):
            update["version"] = 1
        stored = value.model_copy(update=update)
        self._rows[row_id] = stored
        return stored

    def get(self, row_id: int, /) -> _Stored:
        """The stored value with id ``row_id``."""
        row = self._rows.get(row_id)
        if row is None:
            raise _missing(self._what, row_id)
        return row


class MemoryContacts(_Named[Contact]):
    """``contacts`` of :class:`InMemoryPipelineStore`: ``add`` them, the pipeline gets them."""


class MemorySequences(_Named[Sequence]):
    """``sequences`` of :class:`InMemoryPipelineStore`: ``add`` them, the pipeline gets them."""


class MemoryTeammates(_Named[Teammate]):
    """``teammates`` of :class:`InMemoryPipelineStore`: ``add`` them, the pipeline gets them."""


class MemoryEvents:
    """``events`` of :class:`InMemoryPipelineStore`: the log as a list."""

    def __init__(self) -> None:
        """An empty log."""
        self.records: builtins.list[EventRecord] = []
        """Every event appended, in order (``seq`` 1, 2, 3...)."""

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
        seq = len(self.records) + 1
        kind = payload.KIND if kind is None else kind
        self.records.append(EventRecord(
            seq=seq, at=_utc(at, f"event {kind.value!r} at"), type=kind.value,
            sequence_id=sequence_id, enrollment_id=enrollment_id, contact_id=contact_id,
            task_id=task_id, payload=payload.to_payload()))
        return seq

    def iter(self) -> builtins.list[EventRecord]:
        """The events in order (as ``uow.events.iter()`` gives them)."""
        return builtins.list(self.records)


class InMemoryPipelineStore:
    """A :class:`~teamsim.graph.PipelineStore` in memory, for tests and benchmarks.

    ``store.contacts.add(...)``, ``store.sequences.add(...)`` and ``store.teammates.add(...)``
    set up what the pipeline reads; then pass the store as ``uow=`` to
    :meth:`Pipeline.start_step` and the other pipeline calls. Nothing is committed or rolled
    back: every write is kept at once. Beyond the protocol it offers the reads a test needs
    (``tasks.list()``, ``drafts.list(task_id)``, ``messages.deliver(...)``,
    ``events.records``...).

    Example::

        store = InMemoryPipelineStore()
        ann = store.teammates.add(Teammate(name="Ann"))
    """

    def __init__(self) -> None:
        """An empty store."""
        self.tasks = MemoryTasks()
        """Pipeline tasks."""
        self.drafts = MemoryDrafts()
        """Drafts, reviews and decisions."""
        self.attention = MemoryAttention()
        """The Needs attention queue."""
        self.messages = MemoryMessages(self.tasks)
        """The outbox."""
        self.contacts = MemoryContacts("contact")
        """Contacts."""
        self.sequences = MemorySequences("sequence")
        """Sequences."""
        self.teammates = MemoryTeammates("teammate")
        """Teammates."""
        self.events = MemoryEvents()
        """The event log."""


if TYPE_CHECKING:
    from teamsim.graph._ports import PipelineStore
    from teamsim.store import UnitOfWork

    def _conforms(uow: UnitOfWork, memory: InMemoryPipelineStore) -> list[PipelineStore]:
        """Never called: the type checker proves both are pipeline stores."""
        return [uow, memory]
