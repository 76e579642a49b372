"""The ``run_*`` tables: every row a run wrote, kept under its run id.

A run is simulated in a store of its own (the run's ids start at 1 there, whatever the
database it is recorded in holds), then its rows are copied here in the same transaction that
marks it finished: ``run_events``, ``run_tasks``, ``run_contacts``... mirror the tables of
:mod:`teamsim.store._models` column for column, with a ``run_id`` first and the primary key
``(run_id, id)``. Reading a run back copies its rows into an empty store
(:meth:`teamsim.store.RunRepository.restore`), where every reader of a single run works as
it does on a run folder's ``store.db``.

Core statements only: the mirrors are not ORM classes (the repositories never query them),
and the copy streams rows page by page with one executemany per page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final, cast

from sqlalchemy import Column, Connection, Integer, Table, delete, select

from teamsim.store._models import Base, MetaRow, RunMetricRow, RunRow
from teamsim.store._pending import bulk_insert

__all__ = ["ARCHIVE_PREFIX", "RUN_TABLES", "copy_in", "copy_out", "delete_rows", "mirror"]

ARCHIVE_PREFIX: Final = "run_"
"""The prefix of a mirror table's name: ``events`` is kept as ``run_events``."""

_PAGE: Final = 5_000
_NOT_RUN_SCOPED: Final = frozenset({RunRow.__tablename__, RunMetricRow.__tablename__})
_SCHEMA_KEY: Final = "schema_version"


def _source_tables() -> list[Table]:
    """The tables one run writes, parents before children (the order to insert them in)."""
    return [table for table in Base.metadata.sorted_tables
            if table.name not in _NOT_RUN_SCOPED and not table.name.startswith(ARCHIVE_PREFIX)]


def _mirror_of(table: Table) -> Table:
    columns: list[Column[Any]] = [
        Column("run_id", Integer, primary_key=True, autoincrement=False)]
    columns += [
        Column(column.name, column.type, primary_key=column.primary_key,
               nullable=column.nullable, autoincrement=False)
        for column in table.columns]
    return Table(f"{ARCHIVE_PREFIX}{table.name}", Base.metadata, *columns)


RUN_TABLES: Final[tuple[tuple[Table, Table], ...]] = tuple(
    (table, _mirror_of(table)) for table in _source_tables())
"""(table, its ``run_*`` mirror) for every table a run writes, parents first."""


def mirror(name: str) -> Table:
    """The ``run_*`` mirror of the table called ``name`` (``events``: ``run_events``)."""
    for table, copy in RUN_TABLES:
        if table.name == name:
            return copy
    raise ValueError(f"no run table mirrors {name!r}")


def _pages(connection: Connection, table: Table, *where: Any) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``table`` (matching ``where``) in primary-key order, a page at a time."""
    query = select(table).where(*where).order_by(*table.primary_key.columns)
    result = connection.execution_options(yield_per=_PAGE).execute(query)
    for page in result.mappings().partitions(_PAGE):
        yield [dict(cast(Mapping[str, Any], row)) for row in page]


def copy_in(source: Connection, target: Connection, run_id: int) -> int:
    """Copy every row of the store behind ``source`` into ``target``'s mirrors as run
    ``run_id``; return how many rows were copied. The schema version is the database's, not
    the run's: it is left out."""
    copied = 0
    for table, copy in RUN_TABLES:
        where = (table.c.key != _SCHEMA_KEY,) if table.name == MetaRow.__tablename__ else ()
        for rows in _pages(source, table, *where):
            for row in rows:
                row["run_id"] = run_id
            bulk_insert(target, copy, rows)
            copied += len(rows)
    return copied


def copy_out(source: Connection, target: Connection, run_id: int) -> int:
    """Copy run ``run_id``'s rows from ``source``'s mirrors into the tables of ``target`` (a
    store that holds no run yet); return how many rows were copied."""
    copied = 0
    for table, copy in RUN_TABLES:
        for rows in _pages(source, copy, copy.c.run_id == run_id):
            for row in rows:
                del row["run_id"]
            if table.name == MetaRow.__tablename__:
                rows = [row for row in rows if row["key"] != _SCHEMA_KEY]
                if not rows:
                    continue
            bulk_insert(target, table, rows)
            copied += len(rows)
    return copied


def delete_rows(connection: Connection, run_id: int) -> None:
    """Delete run ``run_id``'s rows from every mirror (children first)."""
    for _table, copy in reversed(RUN_TABLES):
        connection.execute(delete(copy).where(copy.c.run_id == run_id))
