"""Team assembly: the template drafter and rule reviewer by default, plug-ins by name."""

from __future__ import annotations

import pytest

from teamsim.agents import (
    Draft,
    FakeDrafter,
    FakeReviewer,
    Review,
    RuleReviewer,
    TemplateDrafter,
    Verdict,
)
from teamsim.assembly import simulation, team_builder
from teamsim.graph import Pipeline
from teamsim.model import Teammate, ValidationError
from teamsim.sim import World

from .strategies import QUIET, world


def stored(w: World) -> list[Teammate]:
    """The world's teammates as the store gives them back (with ids)."""
    return [Teammate(id=i, name=t.name, roles=t.roles, capacity=t.capacity)
            for i, t in enumerate(w.teammates, start=1)]


def test_every_teammate_gets_the_template_drafter_and_the_rule_reviewer_by_default() -> None:
    w = world(personas=[QUIET])
    team = team_builder(w)(stored(w))
    assert [m.name for m in team.members] == sorted(t.name for t in w.teammates)
    assert all(isinstance(m.drafter, TemplateDrafter) for m in team.members)
    assert all(isinstance(m.reviewer, RuleReviewer) for m in team.members)


def test_a_drafter_and_a_reviewer_given_by_name_replace_the_defaults() -> None:
    w = world(personas=[QUIET])
    name = w.teammates[0].name
    drafter = FakeDrafter(lambda request: Draft(subject="Hi", body="Hello"))
    reviewer = FakeReviewer(lambda request: Review(verdict=Verdict.PASS))
    team = team_builder(w, drafters={name: drafter}, reviewers={name: reviewer})(stored(w))
    assert team.member(name).drafter is drafter
    assert team.member(name).reviewer is reviewer


def test_the_team_has_the_stored_teammates_with_their_ids() -> None:
    w = world(personas=[QUIET])
    given = stored(w)
    team = team_builder(w)(given)
    assert {m.name: m.teammate.id for m in team.members} == {t.name: t.id for t in given}


@pytest.mark.parametrize("option", ["drafters", "reviewers"])
def test_a_name_that_is_not_a_teammate_is_refused_with_the_known_names(option: str) -> None:
    w = world(personas=[QUIET])
    known = ", ".join(repr(t.name) for t in w.teammates)
    plug = {"Zed": FakeDrafter(lambda request: Draft(subject=None, body=""))}
    with pytest.raises(ValidationError, match=rf"{option}: 'Zed' is not a teammate of "
                                              rf".*; its teammates are {known}"):
        simulation(w, **{option: plug})


def test_simulation_runs_the_world_with_its_seed_unless_one_is_given() -> None:
    w = world(personas=[QUIET], days=1)
    assert simulation(w).seed == w.seed
    assert simulation(w, seed=w.seed + 1).seed == w.seed + 1


def test_max_concurrency_reaches_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    original = Pipeline.close

    def close(self: Pipeline) -> None:
        seen.append(self.config.max_concurrency)
        original(self)

    monkeypatch.setattr(Pipeline, "close", close)
    simulation(world(personas=[QUIET]), max_concurrency=8).run().store.close()
    simulation(world(personas=[QUIET])).run().store.close()
    assert seen == [8, 1]
