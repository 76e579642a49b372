"""The Prefetching contract: work asked for ahead of time from worker threads is kept and handed
to the next equal request, so results (and recordings) do not depend on which call finished
first, and no prompt is sent twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from teamsim.agents import (
    AgentFailure,
    Cassette,
    Draft,
    DraftRequest,
    ModelSettings,
    ModelTeammate,
    Prefetching,
)
from teamsim.model import Contact

from .llm_fakes import Echo, RateLimited, Scripted, threads_run

Make = Callable[..., DraftRequest]

PEOPLE = [Contact(name=f"Person{i} Example", email=f"p{i}@example.com", company=f"Co {i}")
          for i in range(12)]


def requests(make_request: Make) -> list[DraftRequest]:
    return [make_request(step, contact=person) for person in PEOPLE for step in ("s1", "s2")]


def run(make_request: Make, *, ahead: bool, seed: int,
        cassette: Cassette | None = None) -> tuple[list[Draft], Echo, ModelTeammate]:
    model = Echo(seed=seed)
    mate = ModelTeammate(model, name="Robin", model_id="echo", cassette=cassette)
    asked = requests(make_request)
    if ahead:
        threads_run([lambda r=r: mate.drafter.draft(r) for r in asked])
    return [mate.drafter.draft(r) for r in asked], model, mate


def test_both_agents_promise_prefetching() -> None:
    mate = ModelTeammate(Echo(), name="Robin", model_id="echo")

    assert isinstance(mate.drafter, Prefetching)
    assert isinstance(mate.reviewer, Prefetching)
    assert mate.drafter.prefetch
    assert mate.reviewer.prefetch


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_results_are_the_same_with_calls_made_ahead_in_any_order(make_request: Make,
                                                                 seed: int) -> None:
    plain, plain_model, plain_mate = run(make_request, ahead=False, seed=seed)
    ahead, ahead_model, ahead_mate = run(make_request, ahead=True, seed=seed)

    assert ahead == plain
    assert len(ahead_model.calls) == len(plain_model.calls) == len(plain)  # no second call
    assert ahead_mate.usage() == plain_mate.usage()
    assert ahead_mate.usage().prefetch_unused == 0


def test_a_recording_made_ahead_is_saved_in_the_order_it_was_used(make_request: Make,
                                                                  tmp_path: Path) -> None:
    texts = []
    for ahead in (False, True):
        cassette = Cassette("record")
        run(make_request, ahead=ahead, seed=7, cassette=cassette)
        cassette.save(tmp_path / "c.json")
        texts.append((tmp_path / "c.json").read_text(encoding="utf-8"))

    assert texts[0] == texts[1]


def test_work_done_ahead_and_never_asked_for_is_counted_unused(make_request: Make) -> None:
    model = Echo()
    mate = ModelTeammate(model, name="Robin", model_id="echo")
    asked = requests(make_request)[:3]
    threads_run([lambda r=r: mate.drafter.draft(r) for r in asked])

    mate.drafter.draft(asked[0])

    assert mate.usage().prefetch_unused == 2
    assert len(model.calls) == 3


def test_a_failure_made_ahead_is_handed_over_without_another_call(make_request: Make) -> None:
    model = Scripted(script=[RateLimited()] * 2)
    mate = ModelTeammate(model, name="Robin", model_id="x", sleep=lambda _: None,
                         settings=ModelSettings(max_tries=2))
    request = make_request("s1")

    [early] = threads_run([lambda: mate.drafter.draft(request)])
    assert isinstance(early, AgentFailure)
    assert mate.usage().failures == 0  # not yet consumed

    with pytest.raises(AgentFailure, match=r"^rate limited after 2 tries$"):
        mate.drafter.draft(request)
    assert len(model.prompts) == 2
    assert mate.usage().failures == 1


def test_replaying_ahead_makes_no_call_and_settles_on_use(make_request: Make,
                                                          tmp_path: Path) -> None:
    recorded, _, _ = run(make_request, ahead=False, seed=0, cassette=Cassette("record"))
    cassette = Cassette("record")
    run(make_request, ahead=False, seed=0, cassette=cassette)
    cassette.save(tmp_path / "c.json")
    player = ModelTeammate(None, name="Robin", model_id="echo",
                           cassette=Cassette.load(tmp_path / "c.json", "replay"))
    asked = requests(make_request)

    threads_run([lambda r=r: player.drafter.draft(r) for r in asked])
    assert player.usage().cache_hits == 0
    replayed = [player.drafter.draft(r) for r in asked]

    assert replayed == recorded
    assert player.usage().cache_hits == len(asked)
    assert player.usage().prefetch_unused == 0


def test_work_ahead_of_a_recorded_prompt_only_reads_the_cassette(make_request: Make,
                                                                 tmp_path: Path) -> None:
    recorder = Cassette("record")
    run(make_request, ahead=False, seed=0, cassette=recorder)
    recorder.save(tmp_path / "c.json")
    model = Echo()
    mate = ModelTeammate(model, name="Robin", model_id="echo",
                         cassette=Cassette.load(tmp_path / "c.json", "auto"))
    asked = requests(make_request)

    # the same work asked for twice ahead of time (a guess made in two ticks) takes nothing
    threads_run([lambda: mate.drafter.draft(asked[0]), lambda: mate.drafter.draft(asked[0])])
    [mate.drafter.draft(r) for r in asked]

    assert model.calls == []
    assert mate.usage().cache_hits == len(asked)
    assert mate.usage().prefetch_unused == 0
