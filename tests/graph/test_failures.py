"""A drafter or reviewer that cannot work fails its task (recorded, in Needs attention, nothing
sent); one that returns the wrong type is a programming error with a clear message."""

from __future__ import annotations

from datetime import timedelta
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
)
from teamsim.graph import (
    HumanDecision,
    InMemoryPipelineStore,
    Pipeline,
    PipelineConfig,
    TeamMember,
)
from teamsim.model import (
    Contact,
    DraftFailed,
    EventKind,
    PipelineError,
    Sequence,
    Teammate,
    ValidationError,
    parse_payload,
)

from .conftest import AT, World, passes, revises, writes


def fails(reason: str = "rate limited", tries: int = 4) -> FakeDrafter:
    def draft(request: DraftRequest) -> Draft:
        raise AgentFailure(reason, tries=tries)

    return FakeDrafter(draft)


def test_a_drafter_that_gives_up_fails_the_task_into_needs_attention(world: World) -> None:
    result = world.start(Pipeline(), drafter=fails())
    assert result.status == "failed"
    assert result.failure == ("Ann could not draft step s1 for Dana Diaz: "
                              "rate limited after 4 tries")
    assert (result.draft_id, result.message_id, result.work) == (None, None, ())
    assert result.attention_id is not None
    item = world.uow.attention.get(result.attention_id)
    assert (item.kind, item.status, item.task_id) == ("draft_failure", "open", result.task_id)
    assert item.payload["text"] == result.failure
    assert (item.payload["stage"], item.payload["reason"], item.payload["tries"]) == (
        "draft", "rate limited", 4)
    task = world.uow.tasks.get(result.task_id)
    assert (task.status, task.outcome) == ("failed", "failed")
    assert world.uow.messages.for_task(result.task_id) is None
    assert world.types() == ["task.started", "draft.failed"]
    *_, last = world.uow.events.iter()
    assert parse_payload(last.type, last.payload) == DraftFailed(
        stage="draft", teammate_id=world.ann.id or 0, teammate="Ann", reason="rate limited",
        tries=4, attention_id=result.attention_id)
    assert last.enrollment_id == world.enrollment_id


def test_any_other_exception_is_one_try_named_by_its_type(world: World) -> None:
    def draft(request: DraftRequest) -> Draft:
        raise TimeoutError("read timed out")

    result = world.start(Pipeline(), drafter=FakeDrafter(draft))
    assert result.failure == ("Ann could not draft step s1 for Dana Diaz: "
                              "TimeoutError: read timed out after 1 try")


def test_a_reviewer_that_gives_up_fails_the_task_after_the_draft(world: World) -> None:
    def review(request: ReviewRequest) -> Review:
        raise AgentFailure("timed out", tries=2)

    result = world.start(Pipeline(), reviewer=FakeReviewer(review))
    assert result.status == "failed"
    assert result.failure == ("Bob could not review Ann's draft of step s1 for Dana Diaz: "
                              "timed out after 2 tries")
    assert [s.kind for s in result.work] == ["draft"]  # the draft's minutes were spent
    assert result.ready_at == AT + timedelta(minutes=10)
    assert result.draft_id is not None
    assert world.types() == ["task.started", "draft.created", "draft.failed"]


def test_a_revision_that_fails_keeps_the_earlier_rounds(world: World) -> None:
    def draft(request: DraftRequest) -> Draft:
        if request.revision == 1:
            raise AgentFailure("rate limited", tries=4)
        return Draft(subject="Hi", body="first", minutes=10)

    result = world.start(Pipeline(), drafter=FakeDrafter(draft), reviewer=revises())
    assert result.status == "failed"
    assert world.types() == ["task.started", "draft.created", "review.done", "draft.failed"]
    assert [s.kind for s in result.work] == ["draft", "review"]


def test_a_redraft_after_a_rejection_that_fails_fails_the_task(world: World) -> None:
    tries: list[int] = []

    def draft(request: DraftRequest) -> Draft:
        tries.append(request.revision)
        if len(tries) > 1:
            raise AgentFailure("rate limited", tries=4)
        return Draft(subject="Hi", body="first")

    pipeline = Pipeline(config=PipelineConfig(on_reject="redraft"))
    waiting = world.start(pipeline, drafter=FakeDrafter(draft))
    result = pipeline.resume(waiting.task_id, HumanDecision(action="reject", note="warmer"),
                             uow=world.uow, at=AT + timedelta(hours=1))
    assert result.status == "failed"
    assert world.uow.attention.get(waiting.attention_id or 0).status == "resolved"
    assert world.uow.attention.get(result.attention_id or 0).kind == "draft_failure"
    assert world.types()[-2:] == ["decision.made", "draft.failed"]
    assert pipeline.live_tasks() == []
    with pytest.raises(PipelineError, match="is not awaiting approval"):
        pipeline.resume(waiting.task_id, HumanDecision(action="approve"), uow=world.uow, at=AT)


def test_a_failed_chat_says_so(world: World) -> None:
    result = Pipeline().start_chat(
        uow=world.uow, contact=world.contact, text="Thanks for the call",
        teammate=TeamMember(teammate=world.ann, drafter=fails("timed out", 1),
                            reviewer=passes()),
        reviewer=TeamMember(teammate=world.bob, drafter=writes(), reviewer=passes()), at=AT)
    assert result.status == "failed"
    assert result.failure == ("Ann could not draft the chat message for Dana Diaz: "
                              "timed out after 1 try")
    item = world.uow.attention.get(result.attention_id or 0)
    assert (item.payload["kind"], item.payload["step"]) == ("chat", None)


def test_teamsims_own_errors_propagate(world: World) -> None:
    def draft(request: DraftRequest) -> Draft:
        raise ValidationError("the cassette has no reply for this prompt")

    with pytest.raises(ValidationError, match="no reply for this prompt"):
        world.start(Pipeline(), drafter=FakeDrafter(draft))


@pytest.mark.parametrize(("returned", "message"), [
    ("Hi Dana", "drafter of teammate 'Ann' returned str, not teamsim.agents.Draft; "
                "return Draft(subject=..., body=...)"),
    (None, "drafter of teammate 'Ann' returned NoneType, not teamsim.agents.Draft"),
])
def test_a_drafter_returning_the_wrong_type_is_a_clear_error(world: World, returned: Any,
                                                             message: str) -> None:
    with pytest.raises(PipelineError) as caught:
        world.start(Pipeline(), drafter=FakeDrafter(lambda request: returned))
    assert str(caught.value).startswith(message)


def test_a_reviewer_returning_the_wrong_type_is_a_clear_error(world: World) -> None:
    with pytest.raises(PipelineError) as caught:
        world.start(Pipeline(), reviewer=FakeReviewer(
            lambda request: {"verdict": "pass"}))  # type: ignore[arg-type, return-value]
    assert str(caught.value) == (
        "reviewer of teammate 'Bob' returned dict, not teamsim.agents.Review; "
        "return Review(verdict=Verdict.PASS or Verdict.REVISE, reasons=(...))")


def test_a_reviewer_returning_an_unknown_verdict_is_a_clear_error(world: World) -> None:
    with pytest.raises(PipelineError, match=r"returned the verdict 'ok'; use Verdict\.PASS"):
        world.start(Pipeline(), reviewer=FakeReviewer(
            lambda request: Review(verdict="ok")))  # type: ignore[arg-type]


def test_the_in_memory_store_records_a_failure_the_same_way() -> None:
    uow = InMemoryPipelineStore()
    sequence = uow.sequences.add(Sequence.new("Welcome"), AT)
    contact = uow.contacts.add(Contact(name="Ana Lopez", email="ana@example.com"))
    riley = uow.teammates.add(Teammate(name="Riley"))
    sam = uow.teammates.add(Teammate(name="Sam"))
    result = Pipeline().start_step(
        uow=uow, enrollment_id=1, sequence=sequence, step=sequence.message_steps()[0],
        contact=contact, at=AT,
        drafter_member=TeamMember(teammate=riley, drafter=fails(), reviewer=passes()),
        reviewer_member=TeamMember(teammate=sam, drafter=writes(), reviewer=passes()))
    assert result.failure == ("Riley could not draft step s1 for Ana Lopez: "
                              "rate limited after 4 tries")
    (item,) = uow.attention.list(kind="draft_failure")
    assert item.payload["text"] == result.failure
    assert uow.tasks.get(result.task_id).outcome == "failed"
    assert [e.type for e in uow.events.iter()] == [EventKind.TASK_STARTED,
                                                   EventKind.DRAFT_FAILED]
