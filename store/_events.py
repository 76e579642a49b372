"""The append-only event log: buffered appends, bulk inserts, canonical lines and digests."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from teamsim.model import EventKind, EventRecord, Payload
from teamsim.store import _event_view as _view
from teamsim.store._models import EventRow
from teamsim.store._pending import bulk_insert
from teamsim.store._types import require_utc

__all__ = ["EventLog", "canonical_line", "events_digest"]

_PAGE = 5_000
_EVENTS = cast(Table, EventRow.__table__)


def _iso(value: datetime) -> str:
    return require_utc(value, "event timestamp").isoformat().replace("+00:00", "Z")


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return _iso(value)
    raise TypeError(f"event payload: {type(value).__name__} {value!r} is not JSON data")


_canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                   default=_json_default).encode
_last_iso: tuple[datetime | None, str] = (None, "")
"""The last event time converted (events come in time order, many sharing a minute)."""


def canonical_line(event: EventRecord) -> str:
    """One event as a canonical JSON line: sorted keys, no spaces, UTC times ending in ``Z``.

    Two runs that produced the same events produce the same lines, byte for byte.
    """
    ids = (event.contact_id, event.enrollment_id, event.sequence_id, event.task_id)
    if event.seq.__class__ is not int or any(
            i is not None and i.__class__ is not int for i in ids):
        return _generic_line(event)
    # The fields are written out in sorted key order around the payload's own JSON: exactly
    # what json.dumps of the whole object gives (checked against it in the tests), at two
    # thirds of its cost (every event of a run is hashed and written to events.jsonl).
    global _last_iso
    at, iso = _last_iso
    if event.at is not at:
        iso = _iso(event.at)
        _last_iso = (event.at, iso)
    contact, enrollment, sequence, task = ("null" if i is None else str(i) for i in ids)
    return (f'{{"at":"{iso}","contact_id":{contact},"enrollment_id":{enrollment},'
            f'"payload":{_canonical_json(event.payload)},"seq":{event.seq},'
            f'"sequence_id":{sequence},"task_id":{task},"type":{_canonical_json(event.type)}}}')


def _generic_line(event: EventRecord) -> str:
    return json.dumps(
        {
            "seq": event.seq,
            "at": _iso(event.at),
            "type": event.type,
            "sequence_id": event.sequence_id,
            "enrollment_id": event.enrollment_id,
            "contact_id": event.contact_id,
            "task_id": event.task_id,
            "payload": event.payload,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_json_default,
    )


def events_digest(events: Iterable[EventRecord]) -> str:
    """The SHA-256 (hex) of the events' canonical lines, each ending in a newline: exactly the
    bytes of ``events.jsonl``, so ``sha256sum events.jsonl`` prints the run's digest."""
    digest = hashlib.sha256()
    for event in events:
        digest.update(canonical_line(event).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


_SCALARS: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def _nested_copy(value: Any) -> Any:
    """``value`` with every list, tuple and dict in it copied (other values shared)."""
    kind = value.__class__
    if kind in _SCALARS:
        return value  # the common case, without an ABC isinstance check
    if kind is list or kind is tuple:
        return kind(_nested_copy(item) for item in value)
    if kind is dict or isinstance(value, Mapping):
        return {key: _nested_copy(item) for key, item in value.items()}
    return value


_SHAREABLE: frozenset[type] = frozenset({str, bool, type(None)})
_SHARED_KEYS = 3
"""Payloads of at most this many keys are looked up for sharing."""
_SHARED_MAX = 4096
"""Distinct shared payloads kept per log (the rest are stored as they come)."""

_Fields = tuple[tuple[str, str, bool], ...]
_FIELDS: dict[type, _Fields | None] = {}


def _fields_of(payload: Payload) -> _Fields | None:
    """(attribute, JSON key, left out when None) of a payload class whose fields are all
    plain; ``None`` for a class with nested parts, which ``to_payload`` converts."""
    cls = payload.__class__
    omit: frozenset[str] = getattr(cls, "_OMIT_NONE", frozenset())
    fields = tuple((f.name, f.name.rstrip("_"), f.name.rstrip("_") in omit)
                   for f in dataclasses.fields(payload))
    try:
        plain = _plain_payload(payload, fields)
    except _NotPlain:
        # This instance has a nested part (to_payload converts it): nothing is cached, so the
        # class is checked again on its first plain instance before the fast path is trusted.
        return None
    found = fields if plain == payload.to_payload() else None
    _FIELDS[cls] = found
    return found


class _NotPlain(Exception):
    """A payload value :func:`_plain_payload` leaves to ``to_payload``."""


def _plain_payload(payload: Payload, fields: _Fields) -> dict[str, Any]:
    """``payload.to_payload()`` for scalars and tuples of scalars, at a third of its cost (the
    pipeline logs half a dozen events per due step)."""
    out: dict[str, Any] = {}
    for name, key, omit in fields:
        value = getattr(payload, name)
        kind = value.__class__
        if kind in _SCALARS:
            if value is None and omit:
                continue
            out[key] = value
        elif kind is tuple:
            for item in value:
                if item.__class__ not in _SCALARS:
                    raise _NotPlain
            out[key] = list(value)
        else:
            raise _NotPlain
    return out


def _payload_json(payload: Payload) -> dict[str, Any]:
    """The JSON object the log stores for ``payload`` (exactly ``payload.to_payload()``)."""
    cls = payload.__class__
    fields = _FIELDS[cls] if cls in _FIELDS else _fields_of(payload)
    if fields is not None:
        try:
            return _plain_payload(payload, fields)
        except _NotPlain:
            pass
    return payload.to_payload()


class EventLog:
    """The event log of one unit of work (``uow.events``).

    :meth:`append` only buffers; the buffer is written with one bulk ``INSERT`` per flush
    (``uow.flush()``, ``uow.commit()``, reading the log, or every ``batch_size`` events).
    Sequence numbers are given in Python in append order, so they are the same on every
    backend. One writer at a time: a second unit of work appending concurrently would collide
    on ``seq`` (the primary key) and fail rather than interleave.
    """

    def __init__(self, session: Session, *, batch_size: int = 10_000) -> None:
        """Wrap ``session``; write the buffer whenever it holds ``batch_size`` events."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._session = session
        self._batch_size = batch_size
        self._buffer: list[dict[str, Any]] = []
        self._last_seq: int | None = None
        self._flushed_seq: int | None = None
        self._retained: list[EventRecord] | None = None
        self._shared: dict[tuple[Any, ...], dict[str, Any]] = {}

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
        """Buffer one event and return its sequence number.

        ``uow.events.append(StepDue(step_id="s1"), at, enrollment_id=7)``: the log stores
        ``payload.to_payload()`` under the type ``payload.KIND``.

        Args:
            payload: what happened, as its typed payload (:mod:`teamsim.model.events`).
            at: when, in simulated time (a timezone-aware datetime).
            kind: the event kind, for the payload classes that serve two kinds
                (``EnrollmentEnded`` is ``enrollment.completed`` or ``enrollment.ended``);
                ``payload.KIND`` by default.
            sequence_id: the sequence it concerns, if any.
            enrollment_id: the enrollment it concerns, if any.
            contact_id: the contact it concerns, if any.
            task_id: the pipeline task it concerns, if any.
        """
        # The plain string, as a read from the database gives it back; fresh JSON data (tuples
        # as new lists): nothing to copy.
        type = (payload.KIND if kind is None else kind).value
        data = _payload_json(payload)
        if len(data) <= _SHARED_KEYS:
            data = self._share(type, data)
        return self._add(type, at, data, sequence_id, enrollment_id, contact_id, task_id)

    def _share(self, type: str, data: dict[str, Any]) -> dict[str, Any]:
        """One dict for every equal payload of only strings, booleans and ``None``.

        A fifth of a run's events carry one of a handful of such payloads (``step.due``
        ``{"step_id": "s1"}``, ``wait.done``, ``enrollment.created``...); sharing them saves
        the ~200 bytes of a dict each while the log is retained. Nothing mutates a logged
        payload. Payloads with numbers are nearly all unique and are not looked up.
        """
        for value in data.values():
            if value.__class__ not in _SHAREABLE:
                return data
        key = (type, *data.items())
        shared = self._shared.get(key)
        if shared is not None:
            return shared
        if len(self._shared) < _SHARED_MAX:
            self._shared[key] = data
        return data

    def append_raw(
        self,
        type: str,
        at: datetime,
        data: Mapping[str, Any] | None = None,
        *,
        sequence_id: int | None = None,
        enrollment_id: int | None = None,
        contact_id: int | None = None,
        task_id: int | None = None,
    ) -> int:
        """Buffer an event of any ``type`` with JSON ``data`` (copied), outside the vocabulary.

        For logs that are not a simulation's (the store's own tests, copying a log); the
        simulator and the pipeline write typed payloads with :meth:`append`.
        """
        if not type:
            raise ValueError("event type must not be empty")
        # Nested lists and dicts are copied too: a caller changing one after the append
        # must not change the buffered event (the flushed one would keep the old value).
        copied = (
            {key: value if value.__class__ in _SCALARS else _nested_copy(value)
             for key, value in data.items()} if data else {})
        return self._add(type, at, copied, sequence_id, enrollment_id, contact_id, task_id)

    def _add(self, type: str, at: datetime, copied: dict[str, Any], sequence_id: int | None,
             enrollment_id: int | None, contact_id: int | None, task_id: int | None) -> int:
        if at.__class__ is not datetime or at.tzinfo is not UTC:
            # Only a value that is not already a UTC datetime needs the checks (the message
            # naming the event is built only then).
            at = require_utc(at, f"event {type!r} at")
        seq = self._last_seq
        if seq is None:
            seq = self._flushed_seq = self._max_seq()
        self._last_seq = seq = seq + 1
        buffer = self._buffer
        buffer.append({
            "seq": seq,
            "at": at,
            "type": type,
            "sequence_id": sequence_id,
            "enrollment_id": enrollment_id,
            "contact_id": contact_id,
            "task_id": task_id,
            "payload": copied,
        })
        if self._retained is not None:
            self._retained.append(EventRecord(
                seq=seq, at=at, type=type, sequence_id=sequence_id,
                enrollment_id=enrollment_id, contact_id=contact_id, task_id=task_id,
                payload=copied,
            ))
        if len(buffer) >= self._batch_size:
            self.flush()
        return seq

    def flush(self) -> None:
        """Write the buffered events in one bulk insert (inside the open transaction)."""
        if not self._buffer:
            return
        rows, self._buffer = self._buffer, []
        # One executemany straight to the driver, without the ORM bulk-insert bookkeeping.
        bulk_insert(self._session.connection(), _EVENTS, rows)
        self._flushed_seq = rows[-1]["seq"]

    def discard(self) -> None:
        """Forget buffered events and the seq counter (after a rollback); retention stops."""
        self._buffer = []
        self._last_seq = self._flushed_seq = None
        self._retained = None

    def retain(self) -> None:
        """Also keep every event appended from now on in memory, as :meth:`retained` returns
        them: a writer that needs its whole log at the end (the simulator) then need not read
        it back. A rollback stops the retention (the retained events would no longer match
        the database)."""
        if self._retained is None:
            self._retained = []

    def retained(self) -> list[EventRecord]:
        """The events appended since :meth:`retain`, in append order.

        Raises:
            RuntimeError: retention is off (never started, or stopped by a rollback).
        """
        if self._retained is None:
            raise RuntimeError("event retention is off: call retain() before appending")
        return list(self._retained)

    @property
    def pending(self) -> int:
        """How many appended events are still only in the buffer."""
        return len(self._buffer)

    def count(self, *, after: int = 0, upto: int | None = None) -> int:
        """How many events the log holds (buffered ones included), or those with
        ``after < seq <= upto``."""
        self.flush()
        return _view.count(self._session, after=after, upto=upto)

    def last_seq(self) -> int:
        """The sequence number of the last event appended (buffered ones included); 0 for
        an empty log. A writer notes it before and after its appends to name its part of
        the log (see :class:`~teamsim.store.StoredEvents`)."""
        if self._last_seq is None:
            self._last_seq = self._flushed_seq = self._max_seq()
        return self._last_seq

    def canonical(self, *, after: int = 0, upto: int | None = None) -> Iterator[EventRecord]:
        """The events with ``after < seq <= upto`` in canonical order (time, then sequence
        number): what ``events.jsonl`` holds and the digest covers.

        Read page by page (one page of sequence numbers at a time, released in time order
        once no later page holds an earlier event), so the log is never all in memory.
        """
        self.flush()
        return _view.canonical(self._session, after=after, upto=upto)

    def canonical_at(self, index: int, *, after: int = 0, upto: int | None = None,
                     backwards: bool = False) -> EventRecord:
        """The event at ``index`` of :meth:`canonical` (counted from the end, 0 the last,
        when ``backwards``), with one query.

        Raises:
            IndexError: there are not that many events.
        """
        self.flush()
        found = _view.nth(self._session, index, after=after, upto=upto, backwards=backwards)
        if found is None:
            raise IndexError(f"event index {index} out of range")
        return found

    def iter(self, *, after: int = 0, type: str | None = None) -> Iterator[EventRecord]:
        """The events with ``seq > after`` in order, optionally only one ``type``.

        Reads page by page, so a log of millions of events does not sit in memory.
        """
        self.flush()
        columns = EventRow.__table__.c
        last = after
        while True:
            query = select(
                columns.seq, columns.at, columns.type, columns.sequence_id,
                columns.enrollment_id, columns.contact_id, columns.task_id, columns.payload,
            ).where(columns.seq > last)
            if type is not None:
                query = query.where(columns.type == type)
            page = self._session.execute(query.order_by(columns.seq).limit(_PAGE)).all()
            for row in page:
                yield EventRecord(
                    seq=row.seq, at=row.at, type=row.type, sequence_id=row.sequence_id,
                    enrollment_id=row.enrollment_id, contact_id=row.contact_id,
                    task_id=row.task_id, payload=row.payload,
                )
            if len(page) < _PAGE:
                return
            last = page[-1].seq

    def _max_seq(self) -> int:
        return int(self._session.scalar(select(func.max(EventRow.seq))) or 0)
