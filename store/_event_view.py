"""The event log read back in canonical order, page by page, and a read-only view over it.

The canonical order of a log is (simulated time, sequence number). Appends come in sequence
order, and a writer may append an event timed before one it appended earlier (the simulator
records a human's decision at its own minute but carries it into the pipeline at the next
tick: about a quarter of a campaign's events come after a later-timed one). The log has no
index on time, and sorting the whole table in SQL (or in Python) holds or rescans it all, so
:func:`canonical` reads the log in sequence order, one page of sequence numbers at a time
(the primary key), and releases an event once no later page can hold an earlier one: one
aggregate query gives each page's earliest time first. Memory is one page plus the events
still waiting for an earlier-timed one.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from teamsim.model import EventRecord
from teamsim.store._models import EventRow

if TYPE_CHECKING:
    from teamsim.store._store import Store

__all__ = ["PAGE", "StoredEvents", "canonical", "count", "nth"]

PAGE = 5_000
"""Sequence numbers per page read."""

_COLUMNS = "seq, at, type, sequence_id, enrollment_id, contact_id, task_id, payload"
_PAGE_ROWS = text(f"SELECT {_COLUMNS} FROM events WHERE seq > :low AND seq <= :high "
                  "ORDER BY seq")
# json.loads without its wrapper (half the cost); scan_once is set on each decoder.
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_iso = datetime.fromisoformat


class _Rows:
    """Raw rows to :class:`EventRecord` values, without SQLAlchemy's type processing (the
    driver's values are converted here, at about half the cost of the typed read).

    A run logs about 34 events per contact at a few hundred distinct minutes a day: each
    minute's text is parsed once and its datetime shared, as the writer shared it.
    """

    __slots__ = ("_times",)

    def __init__(self) -> None:
        self._times: dict[Any, datetime] = {}

    def record(self, row: Any) -> EventRecord:
        seq, at, type_, sequence_id, enrollment_id, contact_id, task_id, payload = row
        when = self._times.get(at)
        if when is None:
            # SQLite gives naive UTC text, PostgreSQL a naive datetime.
            when = (_iso(at) if at.__class__ is str else at).replace(tzinfo=UTC)
            if len(self._times) > _TIMES_KEPT:
                self._times.clear()
            self._times[at] = when
        if payload.__class__ is str:
            payload = _scan(payload, 0)[0]
        elif payload.__class__ is bytes:
            payload = json.loads(payload)
        return EventRecord(seq=seq, at=when, type=type_, sequence_id=sequence_id,
                           enrollment_id=enrollment_id, contact_id=contact_id,
                           task_id=task_id, payload=payload)


_TIMES_KEPT = 10_000


def _bounds(after: int, upto: int | None) -> list[Any]:
    seq = EventRow.__table__.c.seq
    where = [seq > after]
    if upto is not None:
        where.append(seq <= upto)
    return where


def _page_minima(session: Session, after: int, upto: int | None, page: int
                 ) -> list[tuple[int, datetime]]:
    """(page number, earliest time in it) of every non-empty page, in page order; page ``k``
    holds the sequence numbers ``k * page + 1`` to ``(k + 1) * page``."""
    columns = EventRow.__table__.c
    number = (columns.seq - 1) // page
    query = (select(number, func.min(columns.at)).where(*_bounds(after, upto))
             .group_by(number).order_by(number))
    return [(int(k), at) for k, at in session.execute(query)]


def count(session: Session, *, after: int = 0, upto: int | None = None) -> int:
    """How many events have ``after < seq <= upto``."""
    query = select(func.count()).select_from(EventRow).where(*_bounds(after, upto))
    return int(session.scalar(query) or 0)


def canonical(session: Session, *, after: int = 0, upto: int | None = None,
              page: int = PAGE) -> Iterator[EventRecord]:
    """The events with ``after < seq <= upto`` in canonical order ((at, seq)), read a page of
    sequence numbers at a time (see the module's docstring)."""
    minima = _page_minima(session, after, upto, page)
    # later[i]: the earliest time in the pages after page i (None after the last one).
    later: list[datetime | None] = [None] * len(minima)
    earliest: datetime | None = None
    for i in range(len(minima) - 1, -1, -1):
        later[i] = earliest
        at = minima[i][1]
        earliest = at if earliest is None or at < earliest else earliest
    waiting: list[tuple[datetime, int, EventRecord]] = []
    connection = session.connection()
    make = _Rows().record
    for (number, _), bound in zip(minima, later, strict=True):
        low = max(after, number * page)
        high = (number + 1) * page if upto is None else min(upto, (number + 1) * page)
        records = [make(row) for row in connection.execute(
            _PAGE_ROWS, {"low": low, "high": high})]
        if not waiting and _in_order(records) and (
                bound is None or not records or records[-1].at <= bound):
            yield from records  # the common page: in order, nothing later is earlier
            continue
        for record in records:
            heapq.heappush(waiting, (record.at, record.seq, record))
        # Every unread event has a larger seq: one timed at or before them all goes first.
        while waiting and (bound is None or waiting[0][0] <= bound):
            yield heapq.heappop(waiting)[2]


def _in_order(records: list[EventRecord]) -> bool:
    return all(a.at <= b.at for a, b in itertools.pairwise(records))


class StoredEvents(Sequence[EventRecord]):
    """A run's event log as a read-only sequence in canonical order, read from its store.

    Nothing is held: ``len()`` counts in the database once, iterating reads the log page by
    page (:func:`canonical`), ``events[i]`` asks the database for the one event (or, for a
    slice, iterates up to it). Each read opens its own unit of work on ``store``, which must
    stay open (an in-memory SQLite store is also bound to the thread that made it).

    Args:
        store: the store that holds the log.
        after: the log starts after this sequence number (0: the table's first event).
        upto: and ends with this one (``None``: the table's last).
    """

    __slots__ = ("_length", "after", "store", "upto")

    def __init__(self, store: Store, *, after: int = 0, upto: int | None = None) -> None:
        self.store = store
        self.after = after
        self.upto = upto
        self._length: int | None = None

    def on(self, store: Store) -> StoredEvents:
        """The same log (the same sequence numbers) read from ``store``, a copy of this one's
        database (a run folder's ``store.db`` reopened read-only)."""
        view = StoredEvents(store, after=self.after, upto=self.upto)
        view._length = self._length
        return view

    def _check_open(self) -> None:
        if self.store.closed:
            raise RuntimeError(
                f"the event log's store ({self.store.url}) is closed: read the events before "
                "closing it (tuple(result.events) holds them all)")

    def __len__(self) -> int:
        if self._length is None:
            self._check_open()
            with self.store.unit_of_work() as uow:
                self._length = uow.events.count(after=self.after, upto=self.upto)
        return self._length

    def __iter__(self) -> Iterator[EventRecord]:
        self._check_open()
        with self.store.unit_of_work() as uow:
            yield from uow.events.canonical(after=self.after, upto=self.upto)

    @overload
    def __getitem__(self, index: int) -> EventRecord: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[EventRecord, ...]: ...

    def __getitem__(self, index: int | slice) -> EventRecord | tuple[EventRecord, ...]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step < 0:
                return tuple(self)[index]
            return tuple(itertools.islice(self, start, stop, step))
        if not isinstance(index, int):
            raise TypeError(f"event log indices must be integers or slices, not "
                            f"{type(index).__name__}")
        length = len(self)
        position = index + length if index < 0 else index
        if not 0 <= position < length:
            raise IndexError(f"event index {index} out of range ({length} events)")
        # From the nearer end, so events[-1] (the run's end) costs a scan, not a sort.
        backwards = position >= length // 2
        self._check_open()
        offset = length - 1 - position if backwards else position
        with self.store.unit_of_work() as uow:
            return uow.events.canonical_at(offset, after=self.after, upto=self.upto,
                                           backwards=backwards)

    def __repr__(self) -> str:
        return f"StoredEvents({self.store!r}, after={self.after}, upto={self.upto})"


def nth(session: Session, offset: int, *, after: int, upto: int | None, backwards: bool
        ) -> EventRecord | None:
    """The event at ``offset`` in canonical order (from the end when ``backwards``), or
    ``None`` past the end: one query, which scans the log and keeps one row."""
    order = "at DESC, seq DESC" if backwards else "at, seq"
    within = "" if upto is None else " AND seq <= :upto"
    query = text(f"SELECT {_COLUMNS} FROM events WHERE seq > :after{within} "
                 f"ORDER BY {order} LIMIT 1 OFFSET :offset")
    params: dict[str, int] = {"after": after, "offset": offset}
    if upto is not None:
        params["upto"] = upto
    row = session.connection().execute(query, params).first()
    return None if row is None else _Rows().record(row)
