"""A teammate that cannot draft or review never crashes a run: the task fails, the failure
waits in Needs attention, the person pauses, and the human's policy retries, skips or ends.

The world is tests/sim/test_simulation.py's: one quiet person (Ann Lee) on Welcome (s1, wait
2 days, s3), Riley drafts and Sam reviews, the human checks in at 09:00, 13:00 and 17:00 UTC
(minutes 60, 300, 540) and spends 2 minutes per item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

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
)
from teamsim.assembly import simulation
from teamsim.model import PipelineError, ValidationError
from teamsim.sim import SimulationResult, World

from ..strategies import world
from .test_simulation import person, when

_TEMPLATE = TemplateDrafter()
_RULES = RuleReviewer()
ANN = person("Ann")
TEXT_S1 = "Riley could not draft step s1 for Ann Lee: rate limited after 4 tries"


def failing_at(step: str, error: Callable[[], Exception], *, times: int | None = None
               ) -> FakeDrafter:
    """The template drafter, except that drafting ``step`` raises ``error()`` (the first
    ``times`` tries, or always)."""
    tries: list[str] = []

    def draft(request: DraftRequest) -> Draft:
        if request.step is not None and request.step.id == step:
            tries.append(step)
            if times is None or len(tries) <= times:
                raise error()
        return _TEMPLATE.draft(request)

    return FakeDrafter(draft)


def rate_limited() -> Exception:
    return AgentFailure("rate limited", tries=4)


@pytest.fixture
def run() -> Iterator[Callable[..., SimulationResult]]:
    """Run a world with Riley's drafter (and Sam's reviewer) replaced; no invariant may break."""
    results: list[SimulationResult] = []

    def go(w: World, *, drafter: Any = None, reviewer: Any = None) -> SimulationResult:
        result = simulation(w, seed=1, drafters={"Riley": drafter} if drafter else None,
                            reviewers={"Sam": reviewer} if reviewer else None).run(check=False)
        results.append(result)
        assert result.violations == ()
        return result

    yield go
    for result in results:
        result.store.close()


def items(result: SimulationResult, kind: str = "draft_failure") -> list[Any]:
    with result.store.unit_of_work() as uow:
        return uow.attention.list(None, kind=kind)  # type: ignore[arg-type]


def test_a_failing_drafter_fails_the_task_into_needs_attention(run: Any) -> None:
    result = run(world(contacts=[ANN], approver={"workdays": [6]}, days=1),  # nobody checks in
                 drafter=failing_at("s1", rate_limited))
    assert when(result, "draft.failed", stage="draft", teammate="Riley", reason="rate limited",
                tries=4) == [0]
    assert when(result, "enrollment.paused", reason="draft_failed", step_id="s1") == [0]
    assert when(result, "draft.created") == []
    assert when(result, "message.queued") == []
    (item,) = items(result)
    assert item.status == "open"
    assert item.payload["text"] == TEXT_S1
    assert result.metrics["draft_failures"] == 1
    assert result.metrics["attention_open_at_end"] == 1
    assert result.metrics["paused_by_reply"] == 0
    with result.store.unit_of_work() as uow:
        (task,) = uow.tasks.list()
        assert (task.status, task.outcome) == ("failed", "failed")
        assert uow.messages.list() == []


def test_a_timeout_is_one_try(run: Any) -> None:
    result = run(world(contacts=[ANN], days=1),
                 drafter=failing_at("s1", lambda: TimeoutError("model timed out"), times=1))
    (item, *_) = items(result)
    assert item.payload["text"] == ("Riley could not draft step s1 for Ann Lee: "
                                    "TimeoutError: model timed out after 1 try")
    assert item.payload["tries"] == 1


def test_retry_resumes_the_person_and_the_step_is_drafted_again_at_the_next_tick(run: Any
                                                                                ) -> None:
    result = run(world(contacts=[ANN], approver={"on_draft_failure": "retry"}),
                 drafter=failing_at("s1", rate_limited, times=1))
    # The 09:00 session (minute 60) handles the failure in 2 minutes: the step falls due
    # again at once and the scheduler's next tick (75) drafts it.
    assert when(result, "attention.resolved", kind="draft_failure") == [62]
    assert when(result, "enrollment.resumed", by="human", step_id="s1") == [62]
    assert when(result, "step.due", step_id="s1") == [0, 62]
    assert when(result, "task.started", step_id="s1") == [0, 75]
    assert len(when(result, "message.sent", step_id="s1")) == 1
    assert len(when(result, "message.sent", step_id="s3")) == 1
    assert result.metrics["draft_failures"] == 1
    assert [i.status for i in items(result)] == ["resolved"]


def test_retry_of_a_step_that_keeps_failing_fails_again_each_time(run: Any) -> None:
    result = run(world(contacts=[ANN], days=1), drafter=failing_at("s1", rate_limited))
    # Failed at 0, retried after each session (60, 300, 540): failed again each time.
    assert when(result, "draft.failed") == [0, 75, 315, 555]
    assert result.metrics["draft_failures"] == 4
    assert result.metrics["sent"] == 0


def test_skip_moves_on_to_the_next_step(run: Any) -> None:
    result = run(world(contacts=[ANN], approver={"on_draft_failure": "skip"}),
                 drafter=failing_at("s1", rate_limited))
    assert when(result, "enrollment.resumed", by="human", step_id="s1") == [62]
    assert when(result, "step.skipped", step_id="s1") == [62]
    assert when(result, "wait.started", step_id="s2") == [62]
    assert when(result, "message.sent", step_id="s1") == []
    assert len(when(result, "message.sent", step_id="s3")) == 1
    assert result.metrics["draft_failures"] == 1


def test_end_ends_the_enrollment(run: Any) -> None:
    result = run(world(contacts=[ANN], approver={"on_draft_failure": "end"}),
                 drafter=failing_at("s1", rate_limited))
    assert when(result, "enrollment.ended", status="ended",
                reason="ended by the human after a draft failure") == [62]
    assert result.metrics["sent"] == 0
    with result.store.unit_of_work() as uow:
        (enrollment,) = uow.enrollments.list()
        assert enrollment.status.value == "ended"


def test_the_policy_leaves_a_person_alone_who_was_resumed_meanwhile(run: Any) -> None:
    # s3 falls due after the 2-day wait (2955) and its draft fails; a timeline action
    # resumes Ann (3168) before the human's 13:00 session reads the failure (3180), which
    # then leaves her be, whatever the policy says.
    w = world(contacts=[ANN], approver={"on_draft_failure": "end"},
              timeline=[{"action": "resume", "at": 2.2, "sequence": "Welcome",
                         "contact": "ann@example.com"}])
    result = run(w, drafter=failing_at("s3", rate_limited, times=1))
    (failed,) = when(result, "draft.failed")
    (resumed,) = when(result, "enrollment.resumed")
    (read,) = when(result, "attention.resolved", kind="draft_failure")
    assert failed < resumed < read
    assert when(result, "enrollment.ended") == []
    assert len(when(result, "message.sent", step_id="s3")) == 1


def test_a_failing_reviewer_fails_the_task(run: Any) -> None:
    def review(request: ReviewRequest) -> Review:
        raise AgentFailure("kept answering in a shape that cannot be used", tries=3)

    result = run(world(contacts=[ANN], days=1), reviewer=FakeReviewer(review))
    assert when(result, "draft.created") == [15, 90, 330, 570]
    assert when(result, "draft.failed", stage="review", teammate="Sam") == [15, 90, 330, 570]
    (item, *_) = items(result)
    assert item.payload["text"] == (
        "Sam could not review Riley's draft of step s1 for Ann Lee: kept answering in a shape "
        "that cannot be used after 3 tries")
    assert result.metrics["sent"] == 0


def test_a_failing_chat_lands_in_needs_attention_and_nothing_else(run: Any) -> None:
    w = world(contacts=[person("Ann", enroll_in=())], days=1,
              timeline=[{"action": "chat", "at": 0.1, "contact": "ann@example.com",
                         "text": "Thanks for the call!", "teammate": "Riley"}])

    def draft(request: DraftRequest) -> Draft:
        raise AgentFailure("timed out", tries=4)

    result = run(w, drafter=FakeDrafter(draft))
    (item,) = items(result)
    assert item.payload["text"] == ("Riley could not draft the chat message for Ann Lee: "
                                    "timed out after 4 tries")
    assert item.status == "resolved"  # read in the 09:00 session
    assert result.metrics["draft_failures"] == 1
    assert when(result, "enrollment.paused") == []


def test_a_drafter_returning_a_string_stops_the_run_with_a_clear_error() -> None:
    with pytest.raises(PipelineError) as caught:
        simulation(world(contacts=[ANN]), drafters={"Riley": FakeDrafter(
            lambda request: "Hi Ann")}).run()  # type: ignore[arg-type, return-value]
    assert str(caught.value) == (
        "drafter of teammate 'Riley' returned str, not teamsim.agents.Draft; "
        "return Draft(subject=..., body=...)")


def test_a_reviewer_returning_a_dict_stops_the_run_with_a_clear_error() -> None:
    with pytest.raises(PipelineError, match=r"reviewer of teammate 'Sam' returned dict, not "
                                            r"teamsim\.agents\.Review; return Review\("):
        simulation(world(contacts=[ANN]), reviewers={"Sam": FakeReviewer(
            lambda request: {"verdict": "pass"})}).run()  # type: ignore[arg-type, return-value]


def test_teamsims_own_errors_are_not_taken_for_a_failure() -> None:
    def draft(request: DraftRequest) -> Draft:
        raise ValidationError("drafter settings: no such template 'welcome'")

    with pytest.raises(ValidationError, match="no such template"):
        simulation(world(contacts=[ANN]), drafters={"Riley": FakeDrafter(draft)}).run()
