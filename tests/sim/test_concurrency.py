"""Concurrent model calls: the digest never depends on max_concurrency or on which call
finished first, the calls really overlap, and without prefetching agents nothing changes."""

from __future__ import annotations

import zlib
from typing import Any

import pytest

import teamsim.graph._prefetch
from teamsim.agents import (
    AgentFailure,
    Draft,
    DraftRequest,
    FakeDrafter,
    FakeReviewer,
    Review,
    ReviewRequest,
    RuleReviewer,
    TemplateDrafter,
    Verdict,
)
from teamsim.assembly import simulation
from teamsim.graph import Pipeline
from teamsim.model import PipelineError
from teamsim.sim import SimulationResult, World

from ..prefetching import Gauge, Latency, SlowDrafter, SlowReviewer
from ..strategies import world

_TEMPLATE = TemplateDrafter()
_RULES = RuleReviewer()


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


def model_draft(request: DraftRequest) -> Draft:
    """The "model": the template drafter, but some people's first step fails (rate limited)
    and revisions say what they answered."""
    email = request.contact.email
    if request.step is not None and request.step.id == "s1" and _crc(email) % 7 == 0:
        raise AgentFailure("rate limited", tries=4)
    written = _TEMPLATE.draft(request)
    if request.revision:
        return Draft(subject=written.subject,
                     body=f"{written.body}\n\n(r{request.revision}: "
                          f"{'; '.join(request.review_notes)})", minutes=written.minutes)
    return written


def model_review(request: ReviewRequest) -> Review:
    """The "model" reviewer: asks some people's drafts to be revised twice, else the rules."""
    revision = request.request.revision
    if _crc(request.request.contact.email) % 3 == 0 and revision < 2:
        return Review(verdict=Verdict.REVISE, reasons=(f"warmer, round {revision}",), minutes=3)
    return _RULES.review(request)


def campaign(contacts: int = 40) -> World:
    """Everyone enrolled at once (their first steps fall due in the same tick), three
    teammates taking turns reviewing, failures skipped by the human."""
    return world(
        days=5,
        teammates=[{"name": name, "capacity": 3} for name in ("Alex", "Riley", "Sam")],
        populations=[{"count": contacts, "enroll_in": ["Welcome"], "enroll_over_days": 0,
                      "personas": {"quiet": 3.0, "replier": 1.0}}],
        approver={"on_draft_failure": "skip"},
    )


def run(w: World, *, concurrency: int, seed: int, prefetching: bool = True, hold: int = 0
        ) -> tuple[SimulationResult, Gauge]:
    gauge = Gauge(hold=hold)
    latency = Latency(seed)
    names = [t.name for t in w.teammates]
    if prefetching:
        drafters: dict[str, Any] = {n: SlowDrafter(FakeDrafter(model_draft), gauge=gauge,
                                                   latency=latency) for n in names}
        reviewers: dict[str, Any] = {n: SlowReviewer(FakeReviewer(model_review), gauge=gauge,
                                                     latency=latency) for n in names}
    else:
        drafters = {n: FakeDrafter(model_draft) for n in names}
        reviewers = {n: FakeReviewer(model_review) for n in names}
    result = simulation(w, seed=3, drafters=drafters, reviewers=reviewers,
                        max_concurrency=concurrency).run(check=False)
    result.store.close()
    assert result.violations == ()
    return result, gauge


def test_the_digest_is_the_same_at_any_concurrency_and_latency_seed() -> None:
    w = campaign()
    plain, _ = run(w, concurrency=1, seed=0, prefetching=False)
    assert plain.metrics["draft_failures"] > 0
    assert plain.metrics["revisions"] > 0
    digests = {(concurrency, seed): run(w, concurrency=concurrency, seed=seed)[0].digest
               for concurrency in (1, 4, 16) for seed in (11, 12)}
    assert set(digests.values()) == {plain.digest}, digests


def test_calls_overlap_at_concurrency_16_and_are_served_from_memory() -> None:
    _, one_by_one = run(campaign(), concurrency=1, seed=5)
    result, gauge = run(campaign(), concurrency=16, seed=5, hold=16)
    assert gauge.peak == 16, gauge
    # Every call was made ahead of time, from a worker, and the graph's own call found it:
    # the prefetch asked exactly what the graph asks (revisions and their notes included),
    # and no call was made twice.
    assert gauge.calls == gauge.from_workers == gauge.hits == one_by_one.calls, gauge
    assert result.metrics["revisions"] > 0
    assert result.metrics["sent"] > 0


def test_at_concurrency_1_every_call_is_the_graphs_own() -> None:
    _, gauge = run(campaign(10), concurrency=1, seed=5)
    assert (gauge.peak, gauge.from_workers, gauge.hits) == (1, 0, 0)


def test_without_prefetching_agents_no_thread_pool_is_made(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a thread pool was made for agents that do not prefetch")

    monkeypatch.setattr(teamsim.graph._prefetch, "ThreadPoolExecutor", refuse)
    w = campaign(10)
    plain = simulation(w, seed=3).run()
    wide = simulation(w, seed=3, max_concurrency=16).run()
    assert wide.digest == plain.digest
    for result in (plain, wide):
        result.store.close()


def test_the_pipeline_is_closed_at_the_end_of_a_run_and_on_error(monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    closed: list[Pipeline] = []
    original = Pipeline.close

    def close(self: Pipeline) -> None:
        closed.append(self)
        original(self)

    monkeypatch.setattr(Pipeline, "close", close)
    w = campaign(3)
    simulation(w, seed=3, max_concurrency=4).run().store.close()
    assert len(closed) == 1
    broken = {t.name: FakeDrafter(lambda request: "Hi")  # type: ignore[arg-type, return-value]
              for t in w.teammates}
    with pytest.raises(PipelineError, match="returned str"):
        simulation(w, seed=3, drafters=broken, max_concurrency=4).run()
    assert len(closed) == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_max_concurrency_must_be_a_positive_int(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_concurrency must be an int >= 1"):
        simulation(campaign(1), max_concurrency=bad)
