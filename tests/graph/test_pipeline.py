"""The per-step pipeline: draft, peer review, approval gate, send or discard."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

import teamsim.graph
from teamsim.agents import Draft, DraftRequest, FakeDrafter
from teamsim.graph import (
    ApprovalRequest,
    FakeRules,
    HumanDecision,
    Pipeline,
    PipelineConfig,
    RuleDecision,
    Team,
    TeamMember,
    ThreadIndexedSaver,
    WorkSegment,
)
from teamsim.model import PipelineError
from teamsim.store import Store, events_digest

from .conftest import AT, World, make_world, passes, revises, writes

APPROVE = HumanDecision(action="approve")


def test_a_due_step_waits_for_approval_with_the_draft_and_review(world: World) -> None:
    result = world.start(Pipeline())
    assert result.status == "awaiting_approval"
    assert result.attention_id is not None
    item = world.uow.attention.get(result.attention_id)
    assert item.status == "open"
    assert item.task_id == result.task_id
    payload = item.payload
    assert payload["draft"]["body"] == "r0 Introduce yourself and why you are reaching out. []"
    assert payload["drafter"]["name"] == "Ann"
    assert payload["reviewer"]["name"] == "Bob"
    assert [r["verdict"] for r in payload["reviews"]] == ["pass"]
    assert payload["flagged"] is False
    assert world.uow.tasks.get(result.task_id).status == "awaiting_approval"


def test_approve_sends_the_draft(world: World) -> None:
    pipeline = Pipeline()
    waiting = world.start(pipeline)
    result = pipeline.resume(waiting.task_id, APPROVE, uow=world.uow, at=AT + timedelta(hours=1))
    assert result.status == "sent"
    assert result.message_id is not None
    message = world.uow.messages.get(result.message_id)
    assert message.body == "r0 Introduce yourself and why you are reaching out. []"
    assert message.subject == "Hello Dana"
    assert message.enrollment_id == world.enrollment_id
    assert message.step_id == world.step.id
    assert world.uow.attention.get(waiting.attention_id or 0).status == "resolved"
    [decision] = world.uow.drafts.decisions(waiting.task_id)
    assert (decision.action, decision.by, decision.rule_id) == ("approve", "human", None)
    assert world.types() == ["task.started", "draft.created", "review.done",
                             "attention.opened", "decision.made", "message.queued"]


def test_edit_sends_the_edited_text(world: World) -> None:
    pipeline = Pipeline()
    waiting = world.start(pipeline)
    edit = HumanDecision(action="edit", body="Hi Dana, a shorter note.")
    result = pipeline.resume(waiting.task_id, edit, uow=world.uow, at=AT)
    assert result.status == "sent"
    message = world.uow.messages.get(result.message_id or 0)
    assert message.body == "Hi Dana, a shorter note."
    assert message.subject == "Hello Dana"  # no new subject given: the draft's is kept
    [decision] = world.uow.drafts.decisions(waiting.task_id)
    assert decision.action == "edit"
    assert decision.body == "Hi Dana, a shorter note."


def test_reject_skips_the_step_when_configured_to(world: World) -> None:
    pipeline = Pipeline(config=PipelineConfig(on_reject="skip"))
    waiting = world.start(pipeline)
    reject = HumanDecision(action="reject", note="not now")
    result = pipeline.resume(waiting.task_id, reject, uow=world.uow, at=AT)
    assert result.status == "skipped"
    assert result.message_id is None
    assert world.uow.messages.for_task(waiting.task_id) is None
    assert world.uow.tasks.get(waiting.task_id).outcome == "skipped"
    assert world.types()[-2:] == ["decision.made", "task.discarded"]


def test_reject_redrafts_once_with_the_note_then_asks_again(world: World) -> None:
    pipeline = Pipeline(config=PipelineConfig(on_reject="redraft"))
    first = world.start(pipeline)
    reject = HumanDecision(action="reject", note="mention the renovation")
    second = pipeline.resume(first.task_id, reject, uow=world.uow, at=AT + timedelta(hours=2))
    assert second.status == "awaiting_approval"
    assert second.attention_id not in (None, first.attention_id)
    payload = world.uow.attention.get(second.attention_id or 0).payload
    assert payload["draft"]["revision"] == 1
    assert payload["draft"]["body"].endswith("[mention the renovation]")
    assert payload["redraft"] is True
    assert [s.kind for s in second.work] == ["revision", "review"]


def test_a_second_rejection_after_the_redraft_skips(world: World) -> None:
    pipeline = Pipeline(config=PipelineConfig(on_reject="redraft"))
    first = world.start(pipeline)
    reject = HumanDecision(action="reject")
    pipeline.resume(first.task_id, reject, uow=world.uow, at=AT)
    result = pipeline.resume(first.task_id, reject, uow=world.uow, at=AT)
    assert result.status == "skipped"
    assert [d.action for d in world.uow.drafts.decisions(first.task_id)] == ["reject", "reject"]
    assert world.uow.messages.for_task(first.task_id) is None


def test_the_redraft_can_be_approved_and_sent(world: World) -> None:
    pipeline = Pipeline(config=PipelineConfig(on_reject="redraft"))
    first = world.start(pipeline)
    pipeline.resume(first.task_id, HumanDecision(action="reject", note="warmer"),
                    uow=world.uow, at=AT)
    result = pipeline.resume(first.task_id, APPROVE, uow=world.uow, at=AT)
    assert result.status == "sent"
    assert world.uow.messages.get(result.message_id or 0).body.endswith("[warmer]")


def test_revision_loop_stops_after_max_rounds_and_flags_the_open_concerns(world: World) -> None:
    pipeline = Pipeline(config=PipelineConfig(max_review_rounds=2))
    result = world.start(pipeline, reviewer=revises())
    assert result.status == "awaiting_approval"
    assert result.flagged
    assert [s.kind for s in result.work] == [
        "draft", "review", "revision", "review", "revision", "review"]
    assert [d.revision for d in world.uow.drafts.list(result.task_id)] == [0, 1, 2]
    payload = world.uow.attention.get(result.attention_id or 0).payload
    assert payload["flagged"] is True
    assert payload["open_concerns"] == ["tone: r2"]
    assert [r["verdict"] for r in payload["reviews"]] == ["revise"] * 3


def test_a_revision_answers_the_reviewers_notes(world: World) -> None:
    result = world.start(Pipeline(), reviewer=revises(until=1))
    assert not result.flagged
    drafts = world.uow.drafts.list(result.task_id)
    assert drafts[1].body.endswith("[tone: r0]")


def test_work_is_scheduled_from_at_and_the_item_opens_when_the_draft_is_ready(
    world: World,
) -> None:
    result = world.start(Pipeline(), drafter=writes(minutes=12), reviewer=revises(until=1))
    assert result.work == (
        WorkSegment(teammate_id=world.ann.id or 0, teammate="Ann", kind="draft", start=0,
                    minutes=12, draft_id=result.work[0].draft_id),
        WorkSegment(teammate_id=world.bob.id or 0, teammate="Bob", kind="review", start=12,
                    minutes=5, draft_id=result.work[0].draft_id),
        WorkSegment(teammate_id=world.ann.id or 0, teammate="Ann", kind="revision", start=17,
                    minutes=12, draft_id=result.draft_id or 0),
        WorkSegment(teammate_id=world.bob.id or 0, teammate="Bob", kind="review", start=29,
                    minutes=5, draft_id=result.draft_id or 0),
    )
    assert result.ready_at == AT + timedelta(minutes=34)
    drafts = world.uow.drafts.list(result.task_id)
    assert [d.created_at for d in drafts] == [AT + timedelta(minutes=12),
                                             AT + timedelta(minutes=29)]
    assert world.uow.attention.get(result.attention_id or 0).created_at == result.ready_at


def test_an_auto_approve_rule_sends_without_asking(world: World) -> None:
    seen: list[ApprovalRequest] = []

    rule_id = world.rule("Routine hellos")

    def rule(request: ApprovalRequest) -> RuleDecision:
        seen.append(request)
        return RuleDecision(rule_id=rule_id, approves=True)

    result = world.start(Pipeline(rules=FakeRules(rule)))
    assert result.status == "sent"
    assert result.rule_id == rule_id
    assert world.uow.attention.list("open") == []
    [decision] = world.uow.drafts.decisions(result.task_id)
    assert (decision.by, decision.rule_id) == ("rule", rule_id)
    [request] = seen
    assert (request.sequence, request.step_id, request.channel, request.teammate) == (
        "Welcome new leads", "s1", "email", "Ann")
    assert request.clean_review
    assert "attention.opened" not in world.types()


def test_a_rule_whose_cap_is_used_up_falls_back_to_the_human(world: World) -> None:
    rule_id = world.rule("Capped")
    capped = FakeRules(lambda r: RuleDecision(rule_id=rule_id, approves=False,
                                              reason="max_per_day 5 reached"))
    result = world.start(Pipeline(rules=capped))
    assert result.status == "awaiting_approval"
    payload = world.uow.attention.get(result.attention_id or 0).payload
    assert payload["rule"] == {"rule_id": rule_id, "approves": False,
                               "reason": "max_per_day 5 reached"}


def test_a_repeated_resume_sends_once(world: World) -> None:
    pipeline = Pipeline()
    waiting = world.start(pipeline)
    pipeline.resume(waiting.task_id, APPROVE, uow=world.uow, at=AT)
    with pytest.raises(PipelineError, match=r"task \d+ is not awaiting approval \(it is sent"):
        pipeline.resume(waiting.task_id, APPROVE, uow=world.uow, at=AT)
    assert len(world.uow.messages.list(contact_id=world.contact.id)) == 1
    assert world.types().count("message.queued") == 1


def test_a_task_started_elsewhere_needs_the_team_to_resume(world: World) -> None:
    saver = InMemorySaver()
    waiting = world.start(Pipeline(checkpointer=saver))
    with pytest.raises(PipelineError, match="started by another Pipeline"):
        Pipeline(checkpointer=saver).resume(waiting.task_id, APPROVE, uow=world.uow, at=AT)
    assert world.uow.messages.for_task(waiting.task_id) is None


def test_a_task_resumes_in_a_new_pipeline_from_a_sqlite_checkpoint(
    world: World, tmp_path: Path,
) -> None:
    team = Team.of([world.ann, world.bob], drafters={"Ann": writes(), "Bob": writes()},
                   reviewers={"Ann": passes(), "Bob": passes()})
    with closing(sqlite3.connect(tmp_path / "checkpoints.db", check_same_thread=False)) as conn:
        durable = PipelineConfig(durability="sync")
        waiting = world.start(Pipeline(checkpointer=SqliteSaver(conn), config=durable))
        restarted = Pipeline(checkpointer=SqliteSaver(conn), config=durable, team=team)
        result = restarted.resume(waiting.task_id, APPROVE, uow=world.uow, at=AT)
        assert result.status == "sent"
        with pytest.raises(PipelineError, match="not awaiting approval"):
            restarted.resume(waiting.task_id, APPROVE, uow=world.uow, at=AT)
        left = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
    assert left == 0
    assert len(world.uow.messages.list(contact_id=world.contact.id)) == 1


def test_the_reviewer_is_never_the_drafter(world: World) -> None:
    ann = TeamMember(teammate=world.ann, drafter=writes(), reviewer=passes())
    with pytest.raises(ValueError, match="'Ann' cannot review its own draft"):
        Pipeline().start_step(
            uow=world.uow, enrollment_id=world.enrollment_id, sequence=world.sequence,
            step=world.step, contact=world.contact, drafter_member=ann, reviewer_member=ann,
            at=AT,
        )


def test_the_review_is_recorded_as_the_reviewers(world: World) -> None:
    result = world.start(Pipeline())
    [review] = world.uow.drafts.reviews(result.task_id)
    [draft] = world.uow.drafts.list(result.task_id)
    assert review.reviewer_id == world.bob.id
    assert draft.author_id == world.ann.id
    assert review.reviewer_id != draft.author_id


def test_a_chat_request_runs_end_to_end(world: World) -> None:
    pipeline = Pipeline()
    waiting = pipeline.start_chat(
        uow=world.uow, contact=world.contact, text="Ask Dana for a call on Friday",
        teammate=TeamMember(teammate=world.bob, drafter=writes(), reviewer=passes()),
        reviewer=TeamMember(teammate=world.ann, drafter=writes(), reviewer=passes()), at=AT,
    )
    assert waiting.status == "awaiting_approval"
    payload = world.uow.attention.get(waiting.attention_id or 0).payload
    assert payload["kind"] == "chat"
    assert payload["sequence"] is None
    assert payload["drafter"]["name"] == "Bob"
    result = pipeline.resume(waiting.task_id, APPROVE, uow=world.uow, at=AT)
    assert result.status == "sent"
    message = world.uow.messages.get(result.message_id or 0)
    assert message.enrollment_id is None
    assert message.step_id is None
    assert message.body == "r0 Ask Dana for a call on Friday []"
    assert world.uow.tasks.get(waiting.task_id).kind == "chat"


def test_a_rejected_chat_request_is_discarded(world: World) -> None:
    pipeline = Pipeline()
    waiting = pipeline.start_chat(
        uow=world.uow, contact=world.contact, text="Say hi",
        teammate=TeamMember(teammate=world.bob, drafter=writes(), reviewer=passes()),
        reviewer=TeamMember(teammate=world.ann, drafter=writes(), reviewer=passes()), at=AT,
    )
    result = pipeline.resume(waiting.task_id, HumanDecision(action="reject"), uow=world.uow,
                             at=AT)
    assert result.status == "discarded"


@pytest.mark.parametrize("make_saver", [InMemorySaver, ThreadIndexedSaver])
def test_finished_tasks_leave_no_thread_in_the_in_memory_saver(
    world: World, make_saver: type[InMemorySaver]
) -> None:
    saver = make_saver()
    pipeline = Pipeline(checkpointer=saver, config=PipelineConfig(on_reject="redraft"))
    sent = world.start(pipeline)
    pipeline.resume(sent.task_id, APPROVE, uow=world.uow, at=AT)
    skipped = world.start(pipeline, at=AT + timedelta(days=1))
    pipeline.resume(skipped.task_id, HumanDecision(action="reject"), uow=world.uow, at=AT)
    pipeline.resume(skipped.task_id, HumanDecision(action="reject"), uow=world.uow, at=AT)
    withdrawn = world.start(pipeline, at=AT + timedelta(days=2))
    pipeline.withdraw(withdrawn.task_id, "the contact replied", uow=world.uow, at=AT)
    rule_id = world.rule("Everything")
    auto = Pipeline(checkpointer=saver, rules=FakeRules(
        lambda r: RuleDecision(rule_id=rule_id, approves=True)))
    world.start(auto, at=AT + timedelta(days=3))
    assert dict(saver.storage) == {}
    assert dict(saver.writes) == {}
    assert dict(saver.blobs) == {}
    waiting = world.start(pipeline, at=AT + timedelta(days=4))
    assert list(saver.storage) == [f"batch:{waiting.task_id}"]  # a batch of one
    assert pipeline.live_tasks() == [waiting.task_id]


def test_withdraw_drops_a_waiting_task_without_sending(world: World) -> None:
    pipeline = Pipeline()
    waiting = world.start(pipeline)
    pipeline.withdraw(waiting.task_id, "the contact replied", uow=world.uow, at=AT)
    assert world.uow.attention.get(waiting.attention_id or 0).status == "withdrawn"
    assert world.uow.tasks.get(waiting.task_id).outcome == "withdrawn"
    with pytest.raises(PipelineError, match="not awaiting approval"):
        pipeline.resume(waiting.task_id, APPROVE, uow=world.uow, at=AT)
    assert world.uow.messages.for_task(waiting.task_id) is None


def test_an_edit_needs_the_new_text() -> None:
    with pytest.raises(ValueError, match="needs the new body"):
        HumanDecision(action="edit")


def test_a_naive_at_is_refused(world: World) -> None:
    with pytest.raises(ValueError, match="naive"):
        world.start(Pipeline(), at=AT.replace(tzinfo=None))


def test_a_resume_after_the_item_was_closed_elsewhere_sends_nothing(world: World) -> None:
    pipeline = Pipeline()
    waiting = world.start(pipeline)
    world.uow.attention.resolve(waiting.attention_id or 0, status="withdrawn", at=AT)
    with pytest.raises(PipelineError, match="not awaiting approval"):
        pipeline.resume(waiting.task_id, APPROVE, uow=world.uow, at=AT)
    assert world.uow.messages.for_task(waiting.task_id) is None


def test_rules_are_not_asked_again_after_a_human_rejection(world: World) -> None:
    asked: list[ApprovalRequest] = []
    rule_id = world.rule("Second time lucky")

    def rule(request: ApprovalRequest) -> RuleDecision | None:
        asked.append(request)
        return RuleDecision(rule_id=rule_id, approves=True) if len(asked) > 1 else None

    pipeline = Pipeline(rules=FakeRules(rule), config=PipelineConfig(on_reject="redraft"))
    first = world.start(pipeline)
    again = pipeline.resume(first.task_id, HumanDecision(action="reject"), uow=world.uow, at=AT)
    assert again.status == "awaiting_approval"
    assert len(asked) == 1


def test_the_same_run_logs_the_same_events(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        with Store.open(tmp_path / f"{name}.db") as store, store.unit_of_work() as uow:
            world = make_world(uow)
            pipeline = Pipeline(config=PipelineConfig(on_reject="redraft"))
            first = world.start(pipeline, reviewer=revises(until=1))
            pipeline.resume(first.task_id, HumanDecision(action="reject", note="no"),
                            uow=uow, at=AT + timedelta(hours=1))
            pipeline.resume(first.task_id, APPROVE, uow=uow, at=AT + timedelta(hours=2))
            digests.append(events_digest(uow.events.iter()))
    assert digests[0] == digests[1]


def test_the_package_exports_exactly_its_public_names() -> None:
    exported = {name for name in dir(teamsim.graph) if not name.startswith("_")}
    assert set(teamsim.graph.__all__) == exported - {"annotations"}
    assert sorted(teamsim.graph.__all__) == teamsim.graph.__all__


def test_a_failing_drafter_leaves_no_thread_behind(world: World) -> None:
    def broken(request: DraftRequest) -> Draft:
        raise RuntimeError("model unavailable")

    saver = InMemorySaver()
    pipeline = Pipeline(checkpointer=saver)
    result = world.start(pipeline, drafter=FakeDrafter(broken))
    assert result.status == "failed"
    assert dict(saver.storage) == {}
    assert pipeline.live_tasks() == []


def test_a_drafter_returning_the_wrong_type_leaves_no_thread_behind(world: World) -> None:
    saver = InMemorySaver()
    pipeline = Pipeline(checkpointer=saver)
    with pytest.raises(PipelineError, match="returned str"):
        world.start(pipeline, drafter=FakeDrafter(lambda request: "hello"))  # type: ignore[arg-type, return-value]
    assert dict(saver.storage) == {}
    assert pipeline.live_tasks() == []


def test_the_indexed_saver_deletes_exactly_one_threads_entries(world: World) -> None:
    saver = ThreadIndexedSaver()
    pipeline = Pipeline(checkpointer=saver)
    first = world.start(pipeline)
    second = world.start(pipeline, at=AT + timedelta(days=1))
    kept = f"batch:{second.task_id}"  # the graph thread of a batch of one
    before = {key for key in saver.blobs if key[0] == kept}
    assert before
    pipeline.resume(first.task_id, APPROVE, uow=world.uow, at=AT)
    assert list(saver.storage) == [kept]
    assert {key for key in saver.blobs} == before
    assert {key[0] for key in saver.writes} == {kept}
    result = pipeline.resume(second.task_id, APPROVE, uow=world.uow, at=AT)
    assert result.status == "sent"
    assert (dict(saver.storage), dict(saver.writes), dict(saver.blobs)) == ({}, {}, {})
