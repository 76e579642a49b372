"""A small run of the welcome scenario (five simulated days), kept in a folder, and a small
paired sweep, shared by the notebook tests (each costs seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import teamsim
from teamsim.runner import RunResult, SweepResult

ROOT = Path(__file__).resolve().parent.parent.parent
WELCOME = ROOT / "scenarios" / "welcome-renovation-leads.yaml"
WAITING = ROOT / "scenarios" / "troubleshoot-waiting-on-you.yaml"


@pytest.fixture(scope="session")
def welcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunResult]:
    """The welcome scenario, seed 7, five simulated days, written to a run folder."""
    out = tmp_path_factory.mktemp("notebook") / "welcome"
    result = teamsim.run(WELCOME, until_days=5, out=out)
    yield result
    result.close()


@pytest.fixture(scope="session")
def paired_sweep(tmp_path_factory: pytest.TempPathFactory) -> SweepResult:
    """The waiting-on-you scenario with the human away (baseline) or at the desk, 3 seeds."""
    out = tmp_path_factory.mktemp("notebook") / "sweep"
    return teamsim.sweep(WAITING, seeds=range(3), workers=1, out=out,
                         variants={"away": {}, "at the desk": {"approver.away": []}},
                         metrics=["sent", "human_minutes", "drafts", "replies"])
