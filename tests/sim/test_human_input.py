"""A person plays the human: inputs at their minutes, stepping, refusals, replay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from teamsim.assembly import simulation
from teamsim.scenario import load_scenario
from teamsim.sim import HumanAction, HumanInput, ListDecisions

SCENARIO = Path(__file__).parents[1] / "web" / "play-the-human.yaml"


def _play(sim, world):  # type: ignore[no-untyped-def]
    """Step to each of the first three sessions; answer every open item; hand over."""
    made = []
    answer = {"draft": HumanAction.APPROVE, "reply": HumanAction.RESUME,
              "rule_suggestion": HumanAction.ACCEPT, "draft_failure": HumanAction.RETRY}
    for _ in range(3):
        session = sim.next_check_in()
        sim.advance(world.start_utc + timedelta(minutes=session))
        for item in sim.uow.attention.list("open"):
            given = HumanInput(minute=sim.minute, action=answer[item.kind], item_id=item.id)
            sim.decide(given)
            made.append(given)
    made.append(HumanInput(minute=sim.minute, action=HumanAction.HAND_OVER))
    sim.decide(made[-1])
    return made


def test_a_stepped_run_replays_to_the_same_digest() -> None:
    world = load_scenario(SCENARIO)
    sim = simulation(world, decisions=ListDecisions())
    made = _play(sim, world)
    assert sim.advance(None) is True
    served = sim.finish()
    replayed = simulation(world, decisions=ListDecisions(made)).run()
    assert len(made) > 3
    assert replayed.digest == served.digest
    assert served.metrics["approvals_human"] >= 1


def test_the_scripted_approver_waits_while_a_person_plays() -> None:
    world = load_scenario(SCENARIO)
    result = simulation(world, decisions=ListDecisions()).run()
    assert result.metrics["approvals_human"] == 0
    assert result.metrics["sent"] == 0
    assert simulation(world).run().metrics["sent"] > 0


def test_a_decided_item_is_refused_and_never_applied_twice() -> None:
    world = load_scenario(SCENARIO)
    sim = simulation(world, decisions=ListDecisions())
    sim.advance(world.start_utc + timedelta(minutes=sim.next_check_in()))
    item = sim.uow.attention.list("open")[0]
    given = HumanInput(minute=sim.minute, action=HumanAction.APPROVE, item_id=item.id)
    sim.decide(given)
    assert "already decided" in (sim.refusal(given) or "")
    with pytest.raises(ValueError, match="already decided"):
        sim.decide(given)
    wrong = HumanInput(minute=sim.minute, action=HumanAction.RESUME,
                       item_id=sim.uow.attention.list("open")[0].id)
    assert "does not answer a draft" in (sim.refusal(wrong) or "")
    sim.close()


def test_inputs_need_a_person_to_play() -> None:
    world = load_scenario(SCENARIO)
    sim = simulation(world)
    sim.advance(world.start_utc + timedelta(hours=2))
    given = HumanInput(minute=sim.minute, action=HumanAction.APPROVE, item_id=1)
    assert "scripted approver" in (sim.refusal(given) or "")
    sim.close()


def test_a_replay_of_an_input_for_an_unknown_item_fails_with_its_number() -> None:
    world = load_scenario(SCENARIO)
    bad = [HumanInput(minute=60, action=HumanAction.APPROVE, item_id=999)]
    with pytest.raises(ValueError, match=r"decision 1 \(minute 60, approve\)"):
        simulation(world, decisions=ListDecisions(bad)).run()


@pytest.mark.parametrize("past", [0, 1, 10**9])
def test_an_input_at_or_past_the_runs_end_is_refused_not_dropped(past: int) -> None:
    world = load_scenario(SCENARIO)
    late = [HumanInput(minute=world.minutes + past, action=HumanAction.APPROVE, item_id=1)]
    with pytest.raises(ValueError, match=r"decision 1: minute \d+ is not before the run's end"):
        simulation(world, decisions=ListDecisions(late)).run()


def test_an_input_checks_its_fields() -> None:
    with pytest.raises(ValueError, match="needs the new body"):
        HumanInput(minute=1, action=HumanAction.EDIT, item_id=1, body=" ")
    with pytest.raises(ValueError, match="sequence"):
        HumanInput(minute=1, action=HumanAction.PAUSE)
    with pytest.raises(ValueError, match="only an edit"):
        HumanInput(minute=1, action=HumanAction.APPROVE, item_id=1, body="x")
