"""The collector's settings during a run are the run's own: tuned inside, restored after."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from teamsim.assembly import simulation
from teamsim.sim import Simulation, World
from teamsim.sim._gc import GEN0_THRESHOLD

from ..strategies import world

CUSTOM = (1234, 11, 12)


@pytest.fixture
def custom_thresholds() -> Iterator[None]:
    """Thresholds no run would choose, put back as they were after the test."""
    before = gc.get_threshold()
    gc.set_threshold(*CUSTOM)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _world() -> World:
    return world(days=2)


@pytest.mark.usefixtures("custom_thresholds")
def test_a_run_raises_the_youngest_threshold_while_it_runs() -> None:
    seen: list[tuple[int, int, int]] = []
    sim = simulation(_world(), progress=lambda day: seen.append(gc.get_threshold()))
    sim.run().store.close()
    assert seen
    assert set(seen) == {(GEN0_THRESHOLD, 11, 12)}


@pytest.mark.usefixtures("custom_thresholds")
def test_the_collectors_settings_are_restored_after_a_run() -> None:
    simulation(_world()).run().store.close()
    assert gc.get_threshold() == CUSTOM
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("custom_thresholds")
def test_the_collectors_settings_are_restored_after_a_failed_run() -> None:
    def broken(teammates: object) -> object:
        raise RuntimeError("the team could not be built")

    with pytest.raises(RuntimeError, match="could not be built"):
        Simulation(_world(), team=broken).run()  # type: ignore[arg-type]
    assert gc.get_threshold() == CUSTOM
