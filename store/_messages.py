"""Messages: queued, delivered, cancelled, opened, clicked (``uow.messages``).

Write-behind (Core, buffered) for the hot path, and a raw DB-API probe for the thread read:
most contacts have no delivered message yet, and asking the driver costs a fifth of a
SQLAlchemy execution.
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.engine import Dialect

from teamsim.model import ConflictError, NotFoundError
from teamsim.store._models import MessageRow, TaskRow
from teamsim.store._records import Engagement, MessageRecord
from teamsim.store._repository import Repository, one_of
from teamsim.store._types import require_utc

__all__ = ["MessageRepository"]

_ENGAGEMENTS = frozenset({"opened", "clicked"})
_NEVER = datetime.min.replace(tzinfo=UTC)
_TASKS = cast(Table, TaskRow.__table__)
_MESSAGES = cast(Table, MessageRow.__table__)
_THREAD = (
    select(_MESSAGES)
    .join(_TASKS, _TASKS.c.id == _MESSAGES.c.task_id)
    .where(_MESSAGES.c.contact_id == bindparam("contact_id"), _MESSAGES.c.status == "sent")
    .order_by(_MESSAGES.c.sent_at, _MESSAGES.c.id)
)
_THREAD_IN_SEQUENCE = _THREAD.where(_TASKS.c.sequence_id == bindparam("sequence_id"))
_THREAD_IN_CHATS = _THREAD.where(_TASKS.c.sequence_id.is_(None))

_PROBES: weakref.WeakKeyDictionary[Dialect, dict[Select[Any], _Probe]] = (
    weakref.WeakKeyDictionary())


class MessageRepository(Repository):
    """The outbox and what happened to each message (``uow.messages``)."""

    __slots__ = ()

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
        """Queue a task's approved message for delivery, at most once per task.

        The message is ``queued`` at ``at``; :meth:`deliver` records that it went out
        and :meth:`cancel` that it never will.

        Returns:
            ``(message_id, True)`` when this call sent it; ``(first_message_id, False)`` when
            the task had already sent one (nothing is written). A unique constraint on
            ``task_id`` backs this up in the database.
        """
        at = require_utc(at, "send_message(at=...)")
        first = next(iter(self._of_task(MessageRow, task_id)), None)
        if first is not None:
            return int(first["id"]), False
        return self._pending.add(MessageRow, {
            "task_id": task_id, "enrollment_id": enrollment_id, "contact_id": contact_id,
            "step_id": step_id, "channel": channel, "subject": subject, "body": body,
            "teammate_id": teammate_id, "status": "queued", "queued_at": at, "sent_at": None,
            "cancelled_at": None, "cancel_reason": None, "opened_at": None, "clicked_at": None,
        }), True

    def deliver(self, message_id: int, *, at: datetime) -> None:
        """Record that a queued message was delivered to the contact at ``at``.

        Raises:
            NotFoundError: no such message.
            ConflictError: the message is not queued (already sent, or cancelled).
        """
        at = require_utc(at, "deliver_message(at=...)")
        self._change_queued(message_id, {"status": "sent", "sent_at": at}, "deliver")

    def cancel(self, message_id: int, *, reason: str, at: datetime) -> None:
        """Record that a queued message will never be delivered, and why.

        Raises:
            NotFoundError: no such message.
            ConflictError: the message is not queued (already sent, or cancelled).
        """
        at = require_utc(at, "cancel_message(at=...)")
        values = {"status": "cancelled", "cancelled_at": at, "cancel_reason": reason}
        self._change_queued(message_id, values, "cancel")

    def _change_queued(self, message_id: int, values: dict[str, Any], verb: str) -> None:
        row = self._pending.tables[MessageRow].get(message_id)
        if row is not None:
            status: str = row["status"]
            if status == "queued":
                row.update(values)
                return
        elif self._update(MessageRow, message_id, values, _MESSAGES.c.status == "queued"):
            return
        else:
            status = self._load(MessageRow, message_id, "message")["status"]
        raise ConflictError(
            f"cannot {verb} message {message_id}: it is {status}, not queued; only a "
            "queued message can be delivered or cancelled"
        )

    def mark_engagement(self, message_id: int, kind: Engagement, at: datetime) -> bool:
        """Record that a message was ``opened`` or ``clicked``; only the first time counts.

        Returns:
            ``True`` if recorded now, ``False`` if it had been already.
        """
        column = f"{one_of(kind, _ENGAGEMENTS, 'engagement')}_at"
        at = require_utc(at, "mark_engagement(at=...)")
        row = self._pending.tables[MessageRow].get(message_id)
        if row is not None:
            if row[column] is not None:
                return False
            row[column] = at
            return True
        if self._update(MessageRow, message_id, {column: at}, _MESSAGES.c[column].is_(None)):
            return True
        if not self._exists(MessageRow, message_id):
            raise NotFoundError(f"message {message_id} does not exist in {self._where}")
        return False

    def get(self, message_id: int) -> MessageRecord:
        """A sent message, by id."""
        return _message_record(self._load(MessageRow, message_id, "message"))

    def for_task(self, task_id: int) -> MessageRecord | None:
        """The message a task sent, or ``None`` if it sent none."""
        row = next(iter(self._of_task(MessageRow, task_id)), None)
        return None if row is None else _message_record(row)

    def list(
        self, *, contact_id: int | None = None, enrollment_id: int | None = None
    ) -> builtins.list[MessageRecord]:
        """Sent messages matching every filter given, in order of sending."""
        query = select(_MESSAGES).order_by(_MESSAGES.c.queued_at, _MESSAGES.c.id)
        if contact_id is not None:
            query = query.where(_MESSAGES.c.contact_id == contact_id)
        if enrollment_id is not None:
            query = query.where(_MESSAGES.c.enrollment_id == enrollment_id)
        return [_message_record(row) for row in self._written(query)]

    def thread(self, contact_id: int, sequence_id: int | None) -> builtins.list[MessageRecord]:
        """Messages delivered to a contact in one sequence (``None``: in chats), oldest first."""
        tasks = self._pending.tables[TaskRow].rows
        buffered = [
            row for row in self._pending.tables[MessageRow].where("contact_id", contact_id)
            if row["status"] == "sent"
        ]
        if any(row["task_id"] not in tasks for row in buffered):
            # A buffered message of a task already written: let the database do the join.
            self._pending.flush()
            buffered = []
        if sequence_id is None:
            statement, values = _THREAD_IN_CHATS, {"contact_id": contact_id}
        else:
            statement = _THREAD_IN_SEQUENCE
            values = {"contact_id": contact_id, "sequence_id": sequence_id}
        # Most contacts have no delivered message yet: ask the driver directly whether any
        # row matches, and only then read the rows through SQLAlchemy (which converts them).
        written = self._fetch(statement, values) if self._any(statement, values) else []
        found = [_message_record(row) for row in written]
        mine = [
            _message_record(row) for row in buffered
            if tasks[row["task_id"]]["sequence_id"] == sequence_id
        ]
        if not mine:
            return found
        return sorted(found + mine, key=lambda message: (message.sent_at or _NEVER, message.id))

    def _any(self, statement: Select[Any], values: Mapping[str, Any]) -> bool:
        """Whether ``statement`` finds any row, asked of the DB-API cursor directly (a fifth
        of the cost of a SQLAlchemy execution); ``True`` whenever that cannot answer, so the
        caller then runs the statement the usual way (and gets its errors)."""
        connection = self._conn()
        dialect = connection.dialect
        probes = _PROBES.setdefault(dialect, {})
        probe = probes.get(statement)
        if probe is None:
            probe = probes[statement] = _Probe(statement, dialect)
        try:
            cursor = connection.connection.cursor()
            try:
                cursor.execute(probe.sql, probe.parameters(values))
                return cursor.fetchone() is not None
            finally:
                cursor.close()
        except Exception:
            return True



def _message_record(row: Mapping[str, Any]) -> MessageRecord:
    return MessageRecord(**row)


class _Probe:
    """A ``SELECT`` compiled once for a dialect, to run on the DB-API cursor: its SQL, its
    parameters in the driver's order, and the values of its literal binds."""

    __slots__ = ("defaults", "names", "sql")

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names = list(compiled.positiontup or ()) if compiled.positional else None
        self.defaults = {name: bind.value for name, bind in compiled.binds.items()}

    def parameters(self, values: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **values}
        if self.names is None:
            return merged
        return tuple(merged[name] for name in self.names)
