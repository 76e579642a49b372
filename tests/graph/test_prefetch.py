"""Pipeline.prefetch: the calls the graph will make, made ahead of time in waves, concurrently,
for agents that prefetch; nothing at all otherwise."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from teamsim.agents import (
    AgentFailure,
    Draft,
    DraftRequest,
    Review,
    ReviewRequest,
    Verdict,
)
from teamsim.graph import (
    Pipeline,
    PipelineConfig,
    PrefetchItem,
    StepStart,
    Team,
    TeamMember,
)
from teamsim.model import Contact, Teammate

from .conftest import AT, World, passes, writes


class Recording:
    """A prefetching drafter and reviewer that records every request and the thread it came
    from (results are computed again each time: the requests are what is checked here)."""

    prefetch: ClassVar[bool] = True

    def __init__(self, draft: Callable[[DraftRequest], Draft],
                 review: Callable[[ReviewRequest], Review]) -> None:
        self._draft, self._review = draft, review
        self.calls: list[tuple[bool, Any]] = []
        self._lock = threading.Lock()

    def _note(self, request: Any) -> None:
        with self._lock:
            self.calls.append((threading.current_thread() is threading.main_thread(), request))

    def draft(self, request: DraftRequest) -> Draft:
        self._note(request)
        return self._draft(request)

    def review(self, request: ReviewRequest) -> Review:
        self._note(request)
        return self._review(request)

    def made(self, *, by_graph: bool) -> list[Any]:
        return [request for main, request in self.calls if main is by_graph]


class NotPrefetching(Recording):
    prefetch: ClassVar[bool] = False


def draft(request: DraftRequest) -> Draft:
    return Draft(subject="Hi", body=f"r{request.revision} [{'; '.join(request.review_notes)}]",
                 minutes=10)


def revise_twice(request: ReviewRequest) -> Review:
    if request.request.revision < 2:
        return Review(verdict=Verdict.REVISE, reasons=(f"tone r{request.request.revision}",))
    return Review(verdict=Verdict.PASS)


def members(world: World, agent: Recording, reviewer: Recording | None = None
            ) -> tuple[TeamMember, TeamMember]:
    ann = TeamMember(teammate=world.ann, drafter=agent, reviewer=agent)
    bob_agent = reviewer or agent
    return ann, TeamMember(teammate=world.bob, drafter=bob_agent, reviewer=bob_agent)


def item(world: World, drafter: TeamMember, reviewer: TeamMember) -> PrefetchItem:
    return PrefetchItem(enrollment_id=world.enrollment_id, sequence=world.sequence,
                        step=world.step, contact=world.contact, drafter=drafter,
                        reviewer=reviewer)


def start(world: World, pipeline: Pipeline, drafter: TeamMember, reviewer: TeamMember) -> Any:
    return pipeline.start_step(
        uow=world.uow, enrollment_id=world.enrollment_id, sequence=world.sequence,
        step=world.step, contact=world.contact, drafter_member=drafter,
        reviewer_member=reviewer, at=AT, thread=())


def test_prefetch_makes_exactly_the_calls_the_graph_then_makes(world: World) -> None:
    agent = Recording(draft, revise_twice)
    ann, bob = members(world, agent)
    with Pipeline(config=PipelineConfig(max_concurrency=4, max_review_rounds=2)) as pipeline:
        pipeline.prefetch([item(world, ann, bob)])
        ahead = agent.made(by_graph=False)
        assert agent.made(by_graph=True) == []
    # One call at a time, so the graph's own calls are the main thread's.
    start(world, Pipeline(config=PipelineConfig(max_review_rounds=2)), ann, bob)
    # draft r0, review, revision r1 (notes: the reasons, previous: r0), review, r2, review.
    graph = agent.made(by_graph=True)
    assert len(graph) == 6
    assert ahead == graph
    assert [(r.revision, r.review_notes) for r in graph[2:3]] == [(1, ("tone r0",))]
    assert graph[2].previous == Draft(subject="Hi", body="r0 []")


def test_prefetch_stops_where_the_review_rounds_stop(world: World) -> None:
    agent = Recording(draft, revise_twice)
    ann, bob = members(world, agent)
    with Pipeline(config=PipelineConfig(max_concurrency=4, max_review_rounds=1)) as pipeline:
        pipeline.prefetch([item(world, ann, bob)])
    assert [getattr(r, "revision", None) for r in agent.made(by_graph=False)] == [
        0, None, 1, None]


def test_prefetch_makes_no_call_at_concurrency_1(world: World) -> None:
    agent = Recording(draft, revise_twice)
    ann, bob = members(world, agent)
    Pipeline().prefetch([item(world, ann, bob)])
    assert agent.calls == []


def test_a_reviewer_that_does_not_prefetch_is_never_called_ahead(world: World) -> None:
    agent = Recording(draft, revise_twice)
    plain = NotPrefetching(draft, revise_twice)
    ann, bob = members(world, agent, reviewer=plain)
    with Pipeline(config=PipelineConfig(max_concurrency=4)) as pipeline:
        pipeline.prefetch([item(world, ann, bob)])
    assert plain.calls == []
    assert len(agent.made(by_graph=False)) == 1  # the first draft only: no verdict to foresee


def test_a_failure_in_a_wave_is_swallowed_and_ends_that_items_waves(world: World) -> None:
    def flaky(request: DraftRequest) -> Draft:
        if request.contact.email == world.contact.email:
            raise AgentFailure("rate limited", tries=4)
        return draft(request)

    agent = Recording(flaky, revise_twice)
    ann, bob = members(world, agent)
    with Pipeline(config=PipelineConfig(max_concurrency=4)) as pipeline:
        pipeline.prefetch([item(world, ann, bob)])
    assert len(agent.calls) == 1


def test_calls_of_a_wave_run_at_once(world: World) -> None:
    barrier = threading.Barrier(4, timeout=10)

    def waits_for_the_others(request: DraftRequest) -> Draft:
        barrier.wait()  # only returns once four calls are in flight together
        return draft(request)

    agent = Recording(waits_for_the_others, lambda request: Review(verdict=Verdict.PASS))
    ann, bob = members(world, agent)
    steps = [item(world, ann, bob)]
    contacts = [world.contact.model_copy(update={"email": f"p{n}@example.com"})
                for n in range(3)]
    steps += [PrefetchItem(enrollment_id=n, sequence=world.sequence, step=world.step,
                           contact=contact, drafter=ann, reviewer=bob)
              for n, contact in enumerate(contacts)]
    with Pipeline(config=PipelineConfig(max_concurrency=4)) as pipeline:
        pipeline.prefetch(steps)
    assert len(agent.made(by_graph=False)) == 8  # four drafts, four reviews


def test_close_stops_the_worker_threads_and_is_idempotent(world: World) -> None:
    agent = Recording(draft, revise_twice)
    ann, bob = members(world, agent)
    pipeline = Pipeline(config=PipelineConfig(max_concurrency=4))
    pipeline.prefetch([item(world, ann, bob)])
    assert any(t.name.startswith("teamsim-prefetch") for t in threading.enumerate())
    pipeline.close()
    pipeline.close()
    assert not any(t.name.startswith("teamsim-prefetch") for t in threading.enumerate())
    pipeline.prefetch([item(world, ann, bob)])  # a later batch starts new ones
    pipeline.close()


@pytest.mark.parametrize("bad", [0, -2, 2.0, False])
def test_max_concurrency_must_be_an_int_of_at_least_1(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_concurrency must be an int >= 1"):
        PipelineConfig(max_concurrency=bad)


def test_upcoming_reviewers_peek_without_moving_the_round_robin() -> None:
    agent = Recording(draft, revise_twice)
    team = Team([TeamMember(teammate=Teammate(name=n), drafter=agent, reviewer=agent)
                 for n in ("Alex", "Riley", "Sam")])
    team.next_reviewer("Riley")
    peeked = [m.name for m in team.upcoming_reviewers("Riley", 3)]
    assert peeked == [m.name for m in team.upcoming_reviewers("Riley", 3)]
    assert peeked == [team.next_reviewer("Riley").name for _ in range(3)]
    assert team.upcoming_reviewers("Riley", 0) == ()
    assert team.prefetches


def test_a_team_of_plain_agents_does_not_prefetch(world: World) -> None:
    team = Team([TeamMember(teammate=world.ann, drafter=writes(), reviewer=passes()),
                 TeamMember(teammate=world.bob, drafter=writes(), reviewer=passes())])
    assert not team.prefetches


def test_a_batch_makes_its_calls_concurrently_and_each_once(world: World) -> None:
    agent = Recording(draft, revise_twice)
    ann, bob = members(world, agent)
    steps = []
    for n in range(3):
        contact = world.uow.contacts.add(Contact(name=f"Lee {n}", email=f"lee{n}@example.com"))
        assert world.sequence.id is not None
        assert contact.id is not None
        enrollment = world.uow.enrollments.add(world.sequence.id, contact.id, AT,
                                               current_step_id=world.step.id, next_due_at=AT)
        assert enrollment.id is not None
        steps.append(StepStart(enrollment_id=enrollment.id, sequence=world.sequence,
                               step=world.step, contact=contact, drafter=ann, reviewer=bob,
                               thread=()))
    with Pipeline(config=PipelineConfig(max_concurrency=4, max_review_rounds=2)) as pipeline:
        results = pipeline.start_steps(steps, uow=world.uow, at=AT)
    assert [r.status for r in results] == ["awaiting_approval"] * 3
    # Three tasks, each: draft, review, two revisions and their reviews, made ahead from
    # workers; the graph's own calls (which a prefetching agent answers from what it made,
    # settling its cassette and accounting in task order) ask for exactly the same.
    ahead = agent.made(by_graph=False)
    assert len(ahead) == 3 * 6
    assert sorted(map(repr, agent.made(by_graph=True))) == sorted(map(repr, ahead))
