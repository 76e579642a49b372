"""What every repository of a unit of work shares: its session, its write-behind buffer, the
name of its database for messages, and the row-level helpers built on them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, CursorResult, Select, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from teamsim.model import NotFoundError
from teamsim.store._models import (
    AttentionRow,
    Base,
    DecisionRow,
    DraftRow,
    MessageRow,
    ReplyRow,
    ReviewRow,
    TaskRow,
)
from teamsim.store._pending import WriteBehind

__all__ = ["Repository", "one_of"]

_Row = TypeVar("_Row", bound=Base)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


# Hot-path reads built once, with bound parameters, so SQLAlchemy compiles each one once.
_BY_ID: dict[type[Base], Select[Any]] = {
    model: select(_table(model)).where(_table(model).c.id == bindparam("row_id_"))
    for model in (TaskRow, DraftRow, ReviewRow, AttentionRow, DecisionRow, MessageRow, ReplyRow)
}
_OF_TASK: dict[type[Base], Select[Any]] = {
    model: select(_table(model)).where(_table(model).c.task_id == bindparam("task_id"))
    .order_by(_table(model).c.id)
    for model in (DraftRow, ReviewRow, DecisionRow, MessageRow)
}


def one_of(value: str, allowed: frozenset[str], what: str) -> str:
    """``value`` if it is one of ``allowed``, else a ``ValueError`` naming ``what``."""
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(sorted(allowed))}; got {value!r}")
    return value


class Repository:
    """The base of ``uow.tasks``, ``uow.messages``...: one table's (or a few related
    tables') reads and writes inside the unit of work that owns it.

    A repository holds no state of its own: the session (the transaction) and the write-behind
    buffer belong to the unit of work, which commits, flushes and rolls back for all of them.
    """

    __slots__ = ("_pending", "_session", "_where")

    def __init__(self, session: Session, pending: WriteBehind, *, where: str) -> None:
        """Work in ``session`` with ``pending`` as the buffer; ``where`` names the database."""
        self._session = session
        self._pending = pending
        self._where = where

    def _insert(self, model: type[Base], values: dict[str, Any]) -> int:
        """Insert one row with a single ``INSERT ... RETURNING id`` (no ORM object, no re-read)."""
        # A Core INSERT on the table, values passed as parameters: SQLAlchemy compiles it once
        # per column set and caches it (an ORM insert with .values() is several times slower).
        table = _table(model)
        return int(self._session.execute(
            insert(table).returning(table.c.id), values
        ).scalar_one())

    def _update(self, model: type[Base], row_id: int, values: dict[str, Any], *extra: Any) -> int:
        table = _table(model)
        statement = update(table).where(table.c.id == bindparam("row_id_"), *extra).values(
            {name: bindparam(f"v_{name}") for name in values})
        parameters = {"row_id_": row_id, **{f"v_{k}": v for k, v in values.items()}}
        result = self._conn().execute(statement, parameters)
        return int(cast(CursorResult[Any], result).rowcount)

    def _conn(self) -> Connection:
        """The transaction's connection, for Core statements (no ORM identity-map work)."""
        return self._session.connection()

    def _load(self, model: type[Base], row_id: int, what: str) -> Mapping[str, Any]:
        """A pipeline row by id, buffered or written."""
        row = self._pending.tables[model].get(row_id)
        if row is not None:
            return row
        found = self._fetch(_BY_ID[model], {"row_id_": row_id})
        if not found:
            raise NotFoundError(f"{what} {row_id} does not exist in {self._where}")
        return found[0]

    def _fetch(
        self, statement: Select[Any], parameters: Mapping[str, Any] | None = None
    ) -> list[Mapping[str, Any]]:
        """The rows of a Core ``SELECT`` as mappings of column name to value."""
        rows = self._conn().execute(statement, parameters or {}).mappings().all()
        return cast("list[Mapping[str, Any]]", rows)

    def _of_task(self, model: type[Base], task_id: int) -> list[Mapping[str, Any]]:
        """The rows of ``model`` that belong to task ``task_id``, in id order."""
        rows: list[Mapping[str, Any]] = []
        # While a task is buffered no written row can refer to it (foreign keys are enforced
        # on both backends), so its rows are all in the buffer and the database need not be
        # asked.
        if task_id not in self._pending.tables[TaskRow].rows:
            rows.extend(self._fetch(_OF_TASK[model], {"task_id": task_id}))
        rows.extend(self._pending.tables[model].where("task_id", task_id))
        return rows

    def _written(self, query: Select[Any]) -> list[Mapping[str, Any]]:
        """Write the buffer, then run ``query`` (for reads the buffer cannot answer)."""
        self._pending.flush()
        return self._fetch(query)

    def _get(self, model: type[_Row], row_id: int, what: str) -> _Row:
        row = self._session.get(model, row_id)
        if row is None:
            raise NotFoundError(f"{what} {row_id} does not exist in {self._where}")
        return row

    def _get_by(
        self, model: type[_Row], key: int | str, column: Any, what: str, hint: str
    ) -> _Row:
        """A row by its id (an int) or by its natural key ``column`` (a str); ``what`` and
        ``hint`` word the error: ``no {what} {key!r} in <database>; {hint}``."""
        if isinstance(key, int):
            return self._get(model, key, what.split()[0])
        row = self._session.scalars(select(model).where(column == key)).one_or_none()
        if row is None:
            raise NotFoundError(f"no {what} {key!r} in {self._where}; {hint}")
        return row

    def _exists(self, model: type[Base], row_id: int) -> bool:
        table = model.__table__
        return self._session.scalar(select(table.c.id).where(table.c.id == row_id)) is not None

    def _forget_loaded(self, model: type[Base], row_ids: Iterable[int]) -> None:
        """Expire ORM objects of rows just changed with a Core UPDATE, so reads are fresh."""
        for row_id in row_ids:
            loaded = self._session.identity_map.get(identity_key(model, row_id))
            if loaded is not None:
                self._session.expire(loaded)
