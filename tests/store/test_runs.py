"""``uow.runs``: runs recorded whole, kept apart by their id, read back, deleted (both
backends)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from teamsim.model import Contact, NotFoundError, StepDue
from teamsim.store import NewRun, RunStatus, Store
from teamsim.store._runs import flat_metrics

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _about(status: RunStatus = RunStatus.FINISHED, scenario: str = "A") -> NewRun:
    return NewRun(scenario=scenario, scenario_hash="a" * 64, seed=7, teamsim_version="test",
                  until_days=2.0, sim_start=T0, sim_end=T0 + timedelta(days=2),
                  started_at=T0, finished_at=T0, status=status, digest="d" * 64, events=3)


@pytest.fixture
def scratch() -> Iterator[Store]:
    """A run's own store, as the runner simulates into: a contact, a sequence, events."""
    with Store.open("sqlite://") as store:
        with store.unit_of_work() as uow:
            contact = uow.contacts.add(Contact(name="Ada", email="ada@example.com"))
            for minute in range(3):
                uow.events.append(StepDue(step_id=f"s{minute}"), T0 + timedelta(minutes=minute),
                                  contact_id=contact.id)
            uow.meta.set("run.world", "A")
        yield store


def _record(store: Store, scratch: Store, about: NewRun | None = None,
            metrics: dict[str, object] | None = None) -> int:
    with store.unit_of_work() as uow, scratch.unit_of_work() as rows:
        return uow.runs.record(about or _about(), metrics or {"sent": 3, "reply_rate": 0.5},
                               rows)


def test_a_run_is_recorded_with_its_metrics(store: Store, scratch: Store) -> None:
    run_id = _record(store, scratch)
    with store.unit_of_work() as uow:
        record = uow.runs.get(run_id)
        assert (record.id, record.scenario, record.status, record.events) == (
            1, "A", RunStatus.FINISHED, 3)
        assert record.sim_end == T0 + timedelta(days=2)
        assert uow.runs.metrics(run_id) == {"reply_rate": 0.5, "sent": 3.0}
        assert uow.events.count() == 0  # the database's own log is not the run's
        assert uow.contacts.list() == []


def test_runs_are_kept_apart_and_read_back_whole(store: Store, scratch: Store) -> None:
    first, second = _record(store, scratch), _record(store, scratch, _about(scenario="B"))
    assert (first, second) == (1, 2)
    with scratch.unit_of_work() as uow:
        expected = list(uow.events.iter())
    with Store.open("sqlite://") as copy:
        with store.unit_of_work() as uow, copy.unit_of_work() as into:
            assert uow.runs.restore(second, into) == 3 + 1 + 1  # events, contact, meta
        with copy.unit_of_work() as uow:
            assert list(uow.events.iter()) == expected
            assert [c.email for c in uow.contacts.list()] == ["ada@example.com"]
            assert uow.meta.get("run.world") == "A"
    with store.unit_of_work() as uow:
        assert [r.scenario for r in uow.runs.list()] == ["A", "B"]
        assert [r.id for r in uow.runs.list(scenario="B")] == [2]


def test_a_run_not_committed_is_seen_by_no_one(store: Store, scratch: Store) -> None:
    with store.unit_of_work() as uow, scratch.unit_of_work() as rows:
        uow.runs.record(_about(), {"sent": 1}, rows)
        assert uow.runs.count() == 1
        with store.unit_of_work() as other:  # another connection
            assert other.runs.count() == 0
        uow.rollback()
    with store.unit_of_work() as uow:
        assert uow.runs.count() == 0


def test_delete_removes_that_run_only(store: Store, scratch: Store) -> None:
    _record(store, scratch)
    _record(store, scratch)
    with store.unit_of_work() as uow:
        uow.runs.delete(1)
    with store.unit_of_work() as uow:
        assert [r.id for r in uow.runs.list()] == [2]
        with pytest.raises(NotFoundError, match=r"no run 1 in .*`teamsim runs list --db URL`"):
            uow.runs.metrics(1)
    with Store.open("sqlite://") as copy, store.unit_of_work() as uow, \
            copy.unit_of_work() as into:
        assert uow.runs.restore(2, into) == 5


def test_a_status_changes_and_decides_whether_the_run_is_readable(
    store: Store, scratch: Store
) -> None:
    run_id = _record(store, scratch, _about(RunStatus.RUNNING))
    with store.unit_of_work() as uow:
        assert not uow.runs.get(run_id).readable
        uow.runs.set_status(run_id, RunStatus.STOPPED, finished_at=T0, digest="e" * 64)
    with store.unit_of_work() as uow:
        record = uow.runs.get(run_id)
        assert (record.status, record.digest, record.readable) == (
            RunStatus.STOPPED, "e" * 64, True)
        with pytest.raises(NotFoundError):
            uow.runs.set_status(99, RunStatus.FAILED)


def test_a_naive_time_is_refused(store: Store) -> None:
    naive = NewRun(**{**{f: getattr(_about(), f) for f in NewRun.__dataclass_fields__},
                      "started_at": datetime(2026, 1, 1)})
    with store.unit_of_work() as uow, pytest.raises(ValueError, match="naive datetime"):
        uow.runs.record(naive, {}, None)


def test_metrics_are_flattened_to_numbers() -> None:
    assert flat_metrics({"sent": 3, "rate": 0.5, "ok": True, "none": None, "nan": math.nan,
                         "label": "x", "list": [1], "model_usage": {"Riley": {"calls": 2}}}) \
        == {"sent": 3.0, "rate": 0.5, "ok": 1.0, "none": None, "nan": None,
            "model_usage.Riley.calls": 2.0}


@pytest.mark.parametrize("run_id", [2**63, 10**30, -(2**63) - 1])
def test_an_id_no_row_can_have_is_no_run(store: Store, run_id: int) -> None:
    with store.unit_of_work() as uow, pytest.raises(NotFoundError, match=f"no run {run_id} in"):
        uow.runs.get(run_id)
