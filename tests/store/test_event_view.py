"""The event log read back in canonical order, page by page, and the read-only view over it."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from teamsim.store import EventRecord, Store, StoredEvents, canonical_line, events_digest
from teamsim.store._event_view import canonical

from ._helpers import T0


def _append_shuffled(store: Store, n: int, seed: int) -> list[EventRecord]:
    """``n`` events appended at times out of order (some later ones timed earlier, many
    sharing a minute), as a simulator that records decisions at their own minute does."""
    rng = random.Random(seed)
    minute = 0
    with store.unit_of_work() as uow:
        for i in range(n):
            minute += rng.choice((0, 0, 1, 2))
            late = rng.random() < 0.25
            at = T0 + timedelta(minutes=max(0, minute - (rng.randint(1, 40) if late else 0)))
            uow.events.append_raw("tick", at, {"i": i, "late": late})
    with store.unit_of_work() as uow:
        return list(uow.events.iter())


def _sorted(events: list[EventRecord]) -> list[EventRecord]:
    return sorted(events, key=lambda e: (e.at, e.seq))


@pytest.mark.parametrize("page", [1, 3, 7, 64, 5000])
def test_canonical_order_is_time_then_seq_whatever_the_page(store: Store, page: int) -> None:
    appended = _append_shuffled(store, 300, seed=page)
    assert appended != _sorted(appended)  # the log really is out of time order
    with store.unit_of_work() as uow:
        read = list(canonical(uow.events._session, page=page))
    assert read == _sorted(appended)


def test_a_page_may_hold_an_event_timed_before_every_earlier_page(store: Store) -> None:
    with store.unit_of_work() as uow:
        for minute in range(10):
            uow.events.append_raw("tick", T0 + timedelta(minutes=10 + minute))
        uow.events.append_raw("late", T0)  # seq 11, timed before all of them
    with store.unit_of_work() as uow:
        read = list(canonical(uow.events._session, page=2))
    assert [e.seq for e in read] == [11, *range(1, 11)]


def test_canonical_reads_only_the_seq_range_asked(store: Store) -> None:
    appended = _append_shuffled(store, 50, seed=1)
    with store.unit_of_work() as uow:
        part = list(uow.events.canonical(after=10, upto=40))
        assert uow.events.count(after=10, upto=40) == 30
    assert part == _sorted([e for e in appended if 10 < e.seq <= 40])


def test_buffered_events_are_read_too(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.events.append_raw("b", T0 + timedelta(minutes=1))
        uow.events.append_raw("a", T0)
        assert uow.events.last_seq() == 2
        assert [e.type for e in uow.events.canonical()] == ["a", "b"]
        assert uow.events.canonical_at(0, backwards=True).type == "b"


def test_the_view_is_a_read_only_sequence_in_canonical_order(store: Store) -> None:
    appended = _append_shuffled(store, 120, seed=2)
    expected = _sorted(appended)
    view = StoredEvents(store)
    assert len(view) == 120
    assert list(view) == expected
    assert tuple(view) == tuple(expected)
    assert view[0] == expected[0]
    assert view[-1] == expected[-1]
    assert view[70] == expected[70]
    assert view[-31] == expected[-31]
    assert view[5:9] == tuple(expected[5:9])
    assert view[::-40] == tuple(expected[::-40])
    assert view.index(expected[3]) == 3
    assert expected[10] in view
    assert events_digest(view) == events_digest(expected)
    with pytest.raises(IndexError, match="out of range"):
        view[120]
    with pytest.raises(IndexError, match="out of range"):
        view[-121]


def test_a_view_of_part_of_the_log_sees_only_that_part(store: Store) -> None:
    appended = _append_shuffled(store, 40, seed=3)
    view = StoredEvents(store, after=5, upto=25)
    expected = _sorted([e for e in appended if 5 < e.seq <= 25])
    assert len(view) == 20
    assert list(view) == expected
    assert (view[0], view[-1]) == (expected[0], expected[-1])
    assert list(view.on(store)) == expected


def test_a_view_of_a_closed_store_says_so(tmp_path: object) -> None:
    store = Store.open("sqlite://")
    with store.unit_of_work() as uow:
        uow.events.append_raw("tick", T0)
    view = StoredEvents(store)
    store.close()
    with pytest.raises(RuntimeError, match=r"store \(sqlite://\) is closed: read the events"):
        list(view)
    with pytest.raises(RuntimeError, match="is closed"):
        len(view)


def _reference_line(event: EventRecord) -> str:
    """The canonical line as its definition says: the whole object through json.dumps."""
    import json

    def default(value: object) -> str:
        assert isinstance(value, datetime)
        return value.isoformat().replace("+00:00", "Z")

    return json.dumps({"seq": event.seq, "at": default(event.at), "type": event.type,
                       "sequence_id": event.sequence_id, "enrollment_id": event.enrollment_id,
                       "contact_id": event.contact_id, "task_id": event.task_id,
                       "payload": event.payload},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=default)


@pytest.mark.parametrize("event", [
    EventRecord(seq=1, at=T0, type="run.started", payload={}),
    EventRecord(seq=12, at=T0 + timedelta(minutes=3, seconds=1, microseconds=5), type="x.y",
                sequence_id=3, enrollment_id=0, contact_id=7, task_id=None,
                payload={"z": 1.5, "a": [1, "é", None, {"b": True, "a": 2}], "m": "line\n\"q\"",
                         "when": T0, "big": 10**20, "neg": -0.0, "emoji": "\U0001f600"}),
    EventRecord(seq=3, at=T0, type="kind \u2028 with \"quotes\"", task_id=-4,
                payload={"nested": {"k2": {"x": []}, "k1": 1e-05}}),
])
def test_canonical_lines_are_json_dumps_of_the_whole_event(event: EventRecord) -> None:
    assert canonical_line(event) == _reference_line(event)
    assert canonical_line(event) == _reference_line(event)  # the cached time gives the same


def test_an_event_with_odd_ids_still_gets_the_canonical_line() -> None:
    odd = EventRecord(seq=2, at=T0, type="t", contact_id=True, payload={})  # type: ignore[arg-type]
    assert canonical_line(odd) == _reference_line(odd)
