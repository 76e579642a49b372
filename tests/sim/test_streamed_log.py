"""The run's event log is streamed: read back from its store page by page, never held.

``SimulationResult.events`` is a :class:`~teamsim.store.StoredEvents` view; the audit, the
metrics and the digest are computed in one walk of the log read back in canonical order.
These tests check the view against the log as stored (sorted by time, then seq, in Python),
the one-walk metrics against the separate passes, and that no event record outlives the run.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

import teamsim
from teamsim.assembly import simulation
from teamsim.model import EventRecord, fold
from teamsim.scenario import load_scenario
from teamsim.sim import audit, audit_and_measure, compute_metrics
from teamsim.store import Store, StoredEvents, canonical_line, events_digest

from ..strategies import world

SCENARIOS = Path(__file__).parent.parent.parent / "scenarios"
SHIPPED = sorted(p.name for p in SCENARIOS.glob("*.yaml"))


def _stored_in_canonical_order(store: Store) -> list[EventRecord]:
    """The whole log as the store holds it, sorted here: the order the run used to hold."""
    with store.unit_of_work() as uow:
        return sorted(uow.events.iter(), key=lambda e: (e.at, e.seq))


@pytest.mark.parametrize("name", SHIPPED)
def test_the_view_is_the_stored_log_in_canonical_order(name: str) -> None:
    scenario = load_scenario(SCENARIOS / name)
    result = simulation(scenario).run(check=False)
    try:
        expected = _stored_in_canonical_order(result.store)
        assert isinstance(result.events, StoredEvents)
        held = tuple(result.events)
        assert held == tuple(expected)
        assert len(result.events) == len(expected)
        assert (result.events[0], result.events[-1]) == (expected[0], expected[-1])
        assert result.digest == events_digest(expected)
        # One walk (audit + fold + tally) gives what the separate passes give.
        counters, problems = audit(held)
        separate = compute_metrics(held, scenario, scenario.minutes, invariants=counters,
                                   histories=fold(held))
        assert result.metrics == separate
        assert list(result.violations) == problems
        assert audit_and_measure(held, scenario, scenario.minutes) == (
            counters, problems, separate)
    finally:
        result.store.close()


def test_the_run_result_reads_the_run_folders_store(tmp_path: Path) -> None:
    """``teamsim.run(..., out=...)`` reopens the folder's store.db read-only: its events are
    read from there, and are the lines of events.jsonl."""
    result = teamsim.run(SCENARIOS / "replies-pause-people.yaml", out=tmp_path / "run")
    try:
        assert isinstance(result.events, StoredEvents)
        assert result.events.store is result.store
        lines = (tmp_path / "run" / "events.jsonl").read_text(encoding="utf-8").splitlines()
        assert [canonical_line(e) for e in result.events] == lines
        assert len(result.events) == len(lines)
    finally:
        result.close()


def _event_records_alive() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is EventRecord)


def test_the_run_holds_no_event_record_once_it_is_done() -> None:
    """The log lives in the store only: a finished run (its result still alive) keeps no
    :class:`EventRecord` in memory; reading the view makes them one page at a time."""
    w = world(contacts=[{"name": f"Lead{i} Test", "email": f"lead{i}@example.com",
                         "persona": "replier", "enroll_in": ["Welcome"], "enroll_at": 0}
                        for i in range(20)],
              days=6)
    before = _event_records_alive()
    result = simulation(w, seed=3).run()
    try:
        assert len(result.events) > 200
        assert _event_records_alive() == before
        first = result.events[0]
        assert first.type == "run.started"
        assert _event_records_alive() == before + 1
    finally:
        result.store.close()
