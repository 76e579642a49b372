"""The event log: bulk appends in order, canonical lines, stable digests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from teamsim.model import SendWindowLimits, SequenceCreated
from teamsim.store import EventRecord, Store, canonical_line, events_digest

from ._helpers import T0, at


def test_events_come_back_in_append_order_with_their_fields(store: Store) -> None:
    with store.unit_of_work() as uow:
        first = uow.events.append_raw("sequence.created", T0, {"name": "Welcome"}, sequence_id=1)
        second = uow.events.append_raw("draft.created", at(5), {"revision": 0}, sequence_id=1,
                                   enrollment_id=2, contact_id=3, task_id=4)
    with store.unit_of_work() as uow:
        assert list(uow.events.iter()) == [
            EventRecord(seq=first, at=T0, type="sequence.created", sequence_id=1,
                        payload={"name": "Welcome"}),
            EventRecord(seq=second, at=at(5), type="draft.created", sequence_id=1,
                        enrollment_id=2, contact_id=3, task_id=4, payload={"revision": 0}),
        ]
    assert (first, second) == (1, 2)


def test_appends_are_buffered_until_flush(store: Store) -> None:
    with store.unit_of_work() as uow:
        for minute in range(3):
            uow.events.append_raw("tick", at(minute))
        assert uow.events.pending == 3
        uow.flush()
        assert uow.events.pending == 0
        assert uow.events.count() == 3


def test_many_events_keep_their_order_across_batches_and_commits(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.events._batch_size = 1_000  # several bulk inserts in one unit of work
        for i in range(7_500):
            uow.events.append_raw("tick", at(i % 50), {"i": i})
            if i % 3_000 == 2_999:
                uow.commit()
    with store.unit_of_work() as uow:
        events = list(uow.events.iter())
    assert [e.seq for e in events] == list(range(1, 7_501))
    assert [e.payload["i"] for e in events] == list(range(7_500))


def test_sequence_numbers_continue_in_a_new_unit_of_work(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.events.append_raw("a", T0)
    with store.unit_of_work() as uow:
        assert uow.events.append_raw("b", T0) == 2


def test_rolled_back_events_are_gone_and_numbers_reused(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.events.append_raw("kept", T0)
        uow.commit()
        uow.events.append_raw("dropped", T0)
        uow.flush()
        uow.events.append_raw("dropped too", T0)
        uow.rollback()
        assert uow.events.append_raw("after", T0) == 2
    with store.unit_of_work() as uow:
        assert [e.type for e in uow.events.iter()] == ["kept", "after"]


def test_iter_filters_by_type_and_position(store: Store) -> None:
    with store.unit_of_work() as uow:
        for kind in ("a", "b", "a", "b"):
            uow.events.append_raw(kind, T0)
        assert [e.seq for e in uow.events.iter(type="a")] == [1, 3]
        assert [e.seq for e in uow.events.iter(after=2)] == [3, 4]


def test_canonical_line_is_compact_sorted_and_utc() -> None:
    event = EventRecord(
        seq=7, at=datetime(2025, 1, 6, 10, 0, tzinfo=timezone(timedelta(hours=1))),
        type="reply.received", contact_id=3,
        payload={"z": 1, "a": "café", "when": datetime(2025, 1, 6, 9, 30, tzinfo=UTC)},
    )
    assert canonical_line(event) == (
        '{"at":"2025-01-06T09:00:00Z","contact_id":3,"enrollment_id":null,'
        '"payload":{"a":"café","when":"2025-01-06T09:30:00Z","z":1},"seq":7,'
        '"sequence_id":null,"task_id":null,"type":"reply.received"}'
    )


def test_digest_is_sha256_of_the_lines_each_ending_in_a_newline() -> None:
    events = [EventRecord(seq=i, at=T0, type="t", payload={}) for i in (1, 2)]
    lines = "".join(canonical_line(e) + "\n" for e in events)
    assert events_digest(events) == hashlib.sha256(lines.encode()).hexdigest()
    assert events_digest([]) == hashlib.sha256(b"").hexdigest()


def _record_run(store: Store) -> str:
    with store.unit_of_work() as uow:
        for i in range(200):
            uow.events.append_raw("step", at(i), {"i": i, "ratio": i / 7, "name": f"ünï {i}",
                                               "nested": {"b": [1, 2], "a": None}},
                              contact_id=i % 9 or None)
    with store.unit_of_work() as uow:
        return events_digest(uow.events.iter())


def test_digest_is_stable_across_backends(store: Store) -> None:
    expected = events_digest(
        EventRecord(seq=i + 1, at=at(i), type="step", contact_id=i % 9 or None,
                    payload={"i": i, "ratio": i / 7, "name": f"ünï {i}",
                             "nested": {"b": [1, 2], "a": None}})
        for i in range(200)
    )
    assert _record_run(store) == expected


def test_event_with_a_naive_time_is_refused(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(ValueError, match="naive datetime"):
        uow.events.append_raw("tick", datetime(2025, 1, 6, 9, 0))


def test_retained_events_equal_what_the_store_reads_back(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.events.retain()
        for n in range(7):
            uow.events.append_raw("thing.happened", at(n), {"n": n, "tags": ["a", "b"]},
                              contact_id=n)
        uow.events.flush()
        uow.events.append_raw("thing.happened", at(9), {"n": 9})
        kept = uow.events.retained()
        assert [canonical_line(e) for e in kept] == [canonical_line(e) for e in uow.events.iter()]
        uow.rollback()
        with pytest.raises(RuntimeError, match="retention is off"):
            uow.events.retained()


def test_a_payload_changed_by_its_caller_after_the_append_is_kept_as_appended(
    store: Store,
) -> None:
    payload = {"steps": ["s1", "s2"], "more": {"reasons": ["too long"]}}
    with store.unit_of_work() as uow:
        uow.events.append_raw("sequence.edited", T0, payload)
        payload["steps"].clear()
        payload["more"]["reasons"].append("changed later")
        [buffered] = uow.events.iter()
        assert buffered.payload == {"steps": ["s1", "s2"], "more": {"reasons": ["too long"]}}
    with store.unit_of_work() as uow:
        [written] = uow.events.iter()
    assert written.payload == buffered.payload


def test_copying_a_payload_checks_no_scalar_against_the_mapping_abc(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from collections.abc import Mapping

    from teamsim.store import _events

    checked: list[object] = []

    class Counting(type):
        def __instancecheck__(cls, value: object) -> bool:
            checked.append(value)
            return isinstance(value, Mapping)

    class CountingMapping(metaclass=Counting):
        pass

    monkeypatch.setattr(_events, "Mapping", CountingMapping)
    payload = {"a": [1, "x", [2.5, None, True]], "b": ({"c": "d"}, 3)}
    copied = _events._nested_copy(payload)
    assert copied == payload
    assert copied["a"] is not payload["a"]
    assert copied["a"][2] is not payload["a"][2]
    assert checked == []


@dataclass(frozen=True, slots=True, kw_only=True)
class _Annotated(SequenceCreated):
    """A payload whose JSON is more than its fields (to_payload overridden)."""

    def to_payload(self) -> dict[str, Any]:
        data = SequenceCreated.to_payload(self)
        data["annotated"] = True
        return data


def test_the_fast_path_is_trusted_only_after_a_plain_instance_matched_to_payload() -> None:
    """The log builds plain payloads' JSON itself (cheaper than to_payload), but only for a
    class whose first plain instance gave exactly to_payload's JSON; a first instance with a
    nested part proves nothing."""
    store = Store.open("sqlite://")
    window = SendWindowLimits(weekdays=(0, 1), start="09:00:00", end="17:00:00")
    nested = _Annotated(name="A", status="active", version=1, send_window=window,
                        daily_cap_per_teammate=None, cap_timezone="UTC")
    plain = _Annotated(name="B", status="active", version=1, send_window=None,
                       daily_cap_per_teammate=None, cap_timezone="UTC")
    with store.unit_of_work() as uow:
        uow.events.append(nested, T0)
        uow.events.append(plain, T0)
        uow.events.append(plain, T0)
        stored = [e.payload for e in uow.events.iter()]
    assert [p.get("annotated") for p in stored] == [True, True, True]
