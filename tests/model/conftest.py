"""Every shipped scenario, run once for the tests of this folder: its events and the
enrollments its store holds at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

import teamsim
from teamsim.model import Enrollment, EventRecord

SCENARIOS = Path(__file__).parent.parent.parent / "scenarios"


@pytest.fixture(scope="session")
def shipped_runs() -> dict[str, tuple[tuple[EventRecord, ...], list[Enrollment]]]:
    """Scenario file name -> (its event log, its enrollments as stored at the end)."""
    runs = {}
    for path in sorted(SCENARIOS.glob("*.yaml")):
        result = teamsim.run(path)
        try:
            with result.store.unit_of_work() as uow:
                enrollments = uow.enrollments.list()
            runs[path.name] = (tuple(result.events), enrollments)
        finally:
            result.close()
    return runs
