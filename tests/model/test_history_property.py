"""Property: in any small random world (pauses, resumes, ends, edits, rule switches...), the
fold's final state of every enrollment is what the store holds for it at the end."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from teamsim.assembly import simulation
from teamsim.model import fold
from teamsim.sim import World

from ..strategies import examples, worlds


@settings(max_examples=examples(dev=10, ci=60, soak=2000),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(worlds())
def test_the_folds_final_states_are_the_stores(world: World) -> None:
    result = simulation(world).run(check=False)
    try:
        histories = fold(result.events)
        with result.store.unit_of_work() as uow:
            rows = uow.enrollments.list()
        assert sorted(histories) == sorted(row.id for row in rows)
        for row in rows:
            history = histories[row.id]
            assert (history.status, history.paused_at, history.ended_reason) == (
                row.status, row.paused_at, row.ended_reason), f"enrollment {row.id}"
            assert history.step_id == row.current_step_id, f"enrollment {row.id}"
    finally:
        result.store.close()
