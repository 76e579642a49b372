"""Pipeline tasks (``uow.tasks``).

Write-behind (Core, buffered): the pipeline adds a task per due step, the hot path.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select

from teamsim.model import ConflictError, NotFoundError
from teamsim.store._models import TaskRow
from teamsim.store._records import TaskKind, TaskRecord
from teamsim.store._repository import Repository, one_of
from teamsim.store._types import require_utc

__all__ = ["TaskRepository"]

_TASK_KINDS = frozenset({"step", "chat"})
_TASKS = cast(Table, TaskRow.__table__)


class TaskRepository(Repository):
    """Pipeline tasks, one per LangGraph thread (``uow.tasks``)."""

    __slots__ = ()

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
        """Record a new pipeline task (one LangGraph thread) and return its id.

        Raises:
            ConflictError: a task with that ``thread_id`` is buffered in this unit of work.
                (A clash with a task already written is refused by the database's unique
                constraint when the buffer is flushed, also as a ``ConflictError``; checking
                here would cost a query per task.)
        """
        one_of(kind, _TASK_KINDS, "task kind")
        created_at = require_utc(at, "add_task(at=...)")
        other = next(self._pending.tables[TaskRow].where("thread_id", thread_id), None)
        if other is not None:
            raise ConflictError(
                f"a task with thread id {thread_id!r} already exists (id {other['id']}) in "
                f"{self._where}; every task needs a thread id of its own"
            )
        return self._pending.add(TaskRow, {
            "kind": kind, "thread_id": thread_id, "enrollment_id": enrollment_id,
            "sequence_id": sequence_id, "step_id": step_id, "contact_id": contact_id,
            "teammate_id": teammate_id, "reviewer_id": reviewer_id, "brief": brief,
            "status": status, "outcome": None, "created_at": created_at, "finished_at": None,
        })

    def get(self, task_id: int) -> TaskRecord:
        """A task, by id."""
        return _task_record(self._load(TaskRow, task_id, "task"))

    def by_thread(self, thread_id: str) -> TaskRecord:
        """A task, by its LangGraph thread id."""
        row = next(self._pending.tables[TaskRow].where("thread_id", thread_id), None)
        if row is not None:
            return _task_record(row)
        found = self._fetch(select(_TASKS).where(_TASKS.c.thread_id == thread_id))
        if not found:
            raise NotFoundError(f"no task with thread id {thread_id!r} in {self._where}")
        return _task_record(found[0])

    def list(
        self,
        *,
        enrollment_id: int | None = None,
        status: str | None = None,
        kind: TaskKind | None = None,
    ) -> builtins.list[TaskRecord]:
        """The tasks matching every filter given, in order of creation."""
        query = select(_TASKS).order_by(_TASKS.c.id)
        if enrollment_id is not None:
            query = query.where(_TASKS.c.enrollment_id == enrollment_id)
        if status is not None:
            query = query.where(_TASKS.c.status == status)
        if kind is not None:
            query = query.where(_TASKS.c.kind == kind)
        return [_task_record(row) for row in self._written(query)]

    def set_status(
        self, task_id: int, status: str, at: datetime, outcome: str | None = None
    ) -> None:
        """Set a task's status; giving an ``outcome`` also marks it finished at ``at``."""
        at = require_utc(at, "set_task_status(at=...)")
        values: dict[str, Any] = {"status": status}
        if outcome is not None:
            values.update(outcome=outcome, finished_at=at)
        self._change_task(task_id, values)

    def assign_reviewer(self, task_id: int, reviewer_id: int) -> None:
        """Record which teammate reviews a task."""
        self._change_task(task_id, {"reviewer_id": reviewer_id})

    def _change_task(self, task_id: int, values: dict[str, Any]) -> None:
        row = self._pending.tables[TaskRow].get(task_id)
        if row is not None:
            row.update(values)
        elif not self._update(TaskRow, task_id, values):
            raise NotFoundError(f"task {task_id} does not exist in {self._where}")



def _task_record(row: Mapping[str, Any]) -> TaskRecord:
    return TaskRecord(**row)
