"""Write-behind for the pipeline tables: ids from Python counters, rows buffered as dicts.

The per-step pipeline writes about ten rows per due message. Sending each as its own
``INSERT ... RETURNING`` cost most of a pipeline run, so :class:`WriteBehind` gives the ids in
Python (one counter per table, started from ``max(id)`` on first use, like the event log's
``seq``) and keeps the rows until the unit of work flushes, commits, or a read needs them; then
each table is written with one executemany ``INSERT``, parents before children.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Final, cast

from sqlalchemy import Column, Connection, Table, func, insert, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from teamsim.model import ConflictError
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
from teamsim.store._types import UTCDateTime

__all__ = ["FLUSH_ORDER", "PendingTable", "WriteBehind", "bulk_insert"]

Row = dict[str, Any]

FLUSH_ORDER: Final[tuple[type[Base], ...]] = (
    TaskRow, DraftRow, ReviewRow, DecisionRow, MessageRow, ReplyRow, AttentionRow,
)
"""The buffered tables, every one after the tables its foreign keys point to."""

_INDEXED: Final[dict[type[Base], tuple[str, ...]]] = {
    TaskRow: ("thread_id",),
    DraftRow: ("task_id",),
    ReviewRow: ("task_id",),
    DecisionRow: ("task_id",),
    MessageRow: ("task_id", "contact_id"),
    ReplyRow: (),
    AttentionRow: (),
}
_SETVAL = text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value)")


class _Insert:
    """A table's full-row ``INSERT`` compiled once for a dialect, with its bind processors."""

    __slots__ = ("converted", "keys", "positional", "sql", "values")

    def __init__(self, table: Table, dialect: Dialect) -> None:
        keys = [column.key for column in table.c]
        compiled = insert(table).compile(dialect=dialect, column_keys=keys)
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        order = list(compiled.positiontup or ()) if self.positional else keys
        self.keys: tuple[str, ...] = tuple(order)
        # A row's values in statement order, as one tuple (a C call per row).
        self.values: Callable[[Row], tuple[Any, ...]] = (
            itemgetter(*order) if len(order) > 1 else lambda row: (row[order[0]],))
        # The same conversions SQLAlchemy applies to each parameter (UTC datetimes to naive,
        # JSON to text...), looked up once instead of once per row, and only for the columns
        # that have one.
        columns = {column.key: column for column in table.c}
        self.converted: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (index, process) for index, process in (
                (index, _bind_processor(columns[key], dialect))
                for index, key in enumerate(order))
            if process is not None
        )

    def parameters(self, rows: Sequence[Row]) -> list[Any]:
        values = self.values
        converted = self.converted
        if converted:
            out: list[Any] = []
            append = out.append
            for row in rows:
                params = list(values(row))
                for index, process in converted:
                    params[index] = process(params[index])
                append(params)
        else:
            out = [values(row) for row in rows]
        if self.positional:
            return [tuple(params) for params in out] if converted else out
        keys = self.keys
        return [dict(zip(keys, params, strict=True)) for params in out]


def _bind_processor(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The bind processor SQLAlchemy would apply to ``column``'s values on ``dialect``, with a
    shortcut for :class:`UTCDateTime` values already in UTC (every buffered timestamp is: the
    store checks them with ``require_utc`` when they come in) that gives the same result."""
    kind = column.type
    process = kind.dialect_impl(dialect).bind_processor(dialect)
    if process is None or not isinstance(kind, UTCDateTime):
        return process
    general = process
    impl = cast("TypeDecorator[Any]", kind.dialect_impl(dialect)).impl_instance
    naive = impl.bind_processor(dialect)
    if naive is not None and getattr(impl, "_storage_format", None) == _SQLITE_DATETIME:
        # SQLite's default text form is the naive ISO form with a space and microseconds,
        # which is the aware UTC value's ``isoformat`` without its "+00:00".

        def sqlite_utc(value: Any) -> Any:
            if value is None:
                return None
            if value.__class__ is datetime and value.tzinfo is UTC:
                return value.isoformat(" ", "microseconds")[:-6]
            return general(value)

        return sqlite_utc

    def utc(value: Any) -> Any:
        if value is None:
            return None
        if value.__class__ is datetime and value.tzinfo is UTC:
            plain = value.replace(tzinfo=None)
            return plain if naive is None else naive(plain)
        return general(value)

    return utc


_SQLITE_DATETIME: Final = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


_INSERTS: weakref.WeakKeyDictionary[Dialect, dict[str, _Insert]] = weakref.WeakKeyDictionary()


def bulk_insert(connection: Connection, table: Table, rows: Sequence[Row]) -> None:
    """Insert ``rows`` (each a dict of every column of ``table``) with one executemany.

    The statement is compiled once per dialect and the rows go straight to the driver's
    ``executemany``: SQLAlchemy's per-row parameter handling cost more than the database's
    own work for the small rows teamsim writes.
    """
    dialect = connection.dialect
    compiled = _INSERTS.setdefault(dialect, {})
    statement = compiled.get(table.name)
    if statement is None:
        statement = compiled[table.name] = _Insert(table, dialect)
    connection.exec_driver_sql(statement.sql, statement.parameters(rows))


class PendingTable:
    """The buffered rows of one table, by id (in id order), with lookups by a few columns.

    Indexed columns never change after the insert, so the lookups stay right when buffered
    rows are updated in place.
    """

    __slots__ = ("_index", "last_id", "rows", "table")

    def __init__(self, table: Table, indexed: tuple[str, ...]) -> None:
        """An empty buffer for ``table`` with lookups by the ``indexed`` columns."""
        self.table = table
        self.rows: dict[int, Row] = {}
        self.last_id: int | None = None
        self._index: dict[str, dict[Any, list[int]]] = {name: {} for name in indexed}

    def get(self, row_id: int) -> Row | None:
        """The buffered row ``row_id``, or ``None`` if it is not (or no longer) buffered."""
        return self.rows.get(row_id)

    def where(self, column: str, value: Any) -> Iterator[Row]:
        """Buffered rows whose (indexed) ``column`` equals ``value``, in id order."""
        rows = self.rows
        for row_id in self._index[column].get(value, ()):
            yield rows[row_id]

    def add(self, row: Row) -> None:
        """Buffer ``row`` (its ``id`` already given)."""
        row_id: int = row["id"]
        self.rows[row_id] = row
        for column, index in self._index.items():
            index.setdefault(row[column], []).append(row_id)

    def take(self) -> list[Row]:
        """Remove and return every buffered row, in id order."""
        rows = list(self.rows.values())
        self.rows = {}
        for index in self._index.values():
            index.clear()
        return rows

    def forget(self) -> None:
        """Drop the buffered rows and the id counter (after a rollback)."""
        self.take()
        self.last_id = None


class WriteBehind:
    """The buffered inserts of one unit of work into the pipeline tables.

    One writer per database: the counters assume that no one else inserts into these tables
    while the unit of work is open (a second writer would collide on the primary key at
    flush and fail, never interleave silently).
    """

    def __init__(self, session: Session, *, where: str, batch_size: int = 10_000) -> None:
        """Buffer for ``session``; write everything once ``batch_size`` rows are buffered."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._session = session
        self._where = where
        self._batch_size = batch_size
        self._count = 0
        self.tables: dict[type[Base], PendingTable] = {
            model: PendingTable(cast(Table, model.__table__), _INDEXED[model])
            for model in FLUSH_ORDER
        }

    @property
    def pending(self) -> int:
        """How many rows are buffered."""
        return self._count

    def add(self, model: type[Base], row: Row) -> int:
        """Give ``row`` the next id of its table, buffer it, and return the id."""
        pending = self.tables[model]
        last = pending.last_id
        if last is None:
            last = self._max_id(pending.table)
        row["id"] = pending.last_id = last + 1
        pending.add(row)
        self._count += 1
        if self._count >= self._batch_size:
            self.flush()
        return last + 1

    def flush(self) -> None:
        """Write the buffered rows, one executemany ``INSERT`` per table, parents first.

        Raises:
            ConflictError: the database refused the rows (a unique value repeated, or a
                reference to a row that does not exist). The rows stay buffered, so a later
                commit fails the same way; roll the unit of work back.
            DatabaseError: the database failed (disk full, connection lost; raised by the
                store's error hook, see ``Store.open``); roll the unit of work back.
        """
        if not self._count:
            return
        postgres = self._session.get_bind().dialect.name == "postgresql"
        for pending in self.tables.values():
            if not pending.rows:
                continue
            rows = pending.take()
            self._count -= len(rows)
            try:
                bulk_insert(self._session.connection(), pending.table, rows)
            except IntegrityError as err:
                for row in rows:
                    pending.add(row)
                self._count += len(rows)
                # The first lines name the constraint (and, on PostgreSQL, the clashing key).
                reason = "; ".join(str(err.orig or err).strip().splitlines()[:2])
                raise ConflictError(
                    f"{self._where}: writing {len(rows)} buffered {pending.table.name} rows "
                    f"(ids {rows[0]['id']}..{rows[-1]['id']}) failed: {reason}; a row repeats "
                    "a unique value or refers to a row that does not exist. Roll the unit of "
                    "work back; nothing of it was committed"
                ) from None
            if postgres:
                # Ids were given here, so the serial sequence did not move; keep it ahead so
                # inserts that let the database pick the id (psql, old tools) do not collide.
                self._session.execute(
                    _SETVAL, {"table": pending.table.name, "value": rows[-1]["id"]}
                )

    def discard(self) -> None:
        """Forget every buffered row and every counter (after a rollback)."""
        for pending in self.tables.values():
            pending.forget()
        self._count = 0

    def _max_id(self, table: Table) -> int:
        return int(self._session.scalar(select(func.max(table.c.id))) or 0)

