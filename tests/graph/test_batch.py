"""One graph thread per batch: several due steps started together, one interrupt for all of
them, decisions for any subset, recorded now and carried in later, withdrawals."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from teamsim.agents import Draft, DraftRequest, FakeDrafter
from teamsim.graph import (
    HumanDecision,
    Pipeline,
    PipelineConfig,
    StepStart,
    Team,
    TeamMember,
    ThreadIndexedSaver,
)
from teamsim.model import Contact, PipelineError

from .conftest import AT, World, passes, writes

APPROVE = HumanDecision(action="approve")


def steps(world: World, count: int) -> list[StepStart]:
    """``count`` people enrolled on the world's sequence, their first step due."""
    ann = TeamMember(teammate=world.ann, drafter=writes(), reviewer=passes())
    bob = TeamMember(teammate=world.bob, drafter=writes(), reviewer=passes())
    due = []
    for n in range(count):
        contact = world.uow.contacts.add(Contact(name=f"Lee {n}", email=f"lee{n}@example.com"))
        assert world.sequence.id is not None
        assert contact.id is not None
        enrollment = world.uow.enrollments.add(world.sequence.id, contact.id, AT,
                                               current_step_id=world.step.id, next_due_at=AT)
        assert enrollment.id is not None
        due.append(StepStart(enrollment_id=enrollment.id, sequence=world.sequence,
                             step=world.step, contact=contact, drafter=ann, reviewer=bob))
    return due


def test_a_batch_is_one_thread_and_each_step_gets_its_own_item(world: World) -> None:
    saver = ThreadIndexedSaver()
    pipeline = Pipeline(checkpointer=saver)
    results = pipeline.start_steps(steps(world, 3), uow=world.uow, at=AT)
    assert [r.status for r in results] == ["awaiting_approval"] * 3
    assert len({r.attention_id for r in results}) == 3
    assert list(saver.storage) == [f"batch:{results[0].task_id}"]
    assert [r.ready_at for r in results] == [AT + timedelta(minutes=15)] * 3


def test_decisions_are_carried_in_later_at_their_own_minutes(world: World) -> None:
    saver = ThreadIndexedSaver()
    pipeline = Pipeline(checkpointer=saver)
    first, second, third = pipeline.start_steps(steps(world, 3), uow=world.uow, at=AT)
    later = AT + timedelta(hours=1)
    pipeline.decide(second.task_id, APPROVE, uow=world.uow, at=later)
    pipeline.decide(first.task_id, APPROVE, uow=world.uow, at=later + timedelta(minutes=2))
    assert world.uow.messages.for_task(second.task_id) is None  # not yet carried in
    sent = pipeline.apply_decisions(uow=world.uow)
    assert [(r.task_id, r.status, r.ready_at) for r in sent] == [
        (second.task_id, "sent", later),
        (first.task_id, "sent", later + timedelta(minutes=2))]
    # Messages numbered in the order decided; the third task still waits in the thread.
    assert (sent[0].message_id or 0) < (sent[1].message_id or 0)
    assert pipeline.live_tasks() == [third.task_id]
    assert list(saver.storage) == [f"batch:{first.task_id}"]
    assert pipeline.resume(third.task_id, APPROVE, uow=world.uow, at=later).status == "sent"
    assert dict(saver.storage) == {}


def test_a_second_decision_for_the_same_task_is_refused(world: World) -> None:
    pipeline = Pipeline()
    [waiting] = pipeline.start_steps(steps(world, 1), uow=world.uow, at=AT)
    pipeline.decide(waiting.task_id, APPROVE, uow=world.uow, at=AT)
    with pytest.raises(PipelineError, match="not awaiting approval"):
        pipeline.decide(waiting.task_id, APPROVE, uow=world.uow, at=AT)
    with pytest.raises(PipelineError, match="not awaiting approval"):
        pipeline.resume(waiting.task_id, APPROVE, uow=world.uow, at=AT)
    with pytest.raises(PipelineError, match="not awaiting approval"):
        pipeline.withdraw(waiting.task_id, "replied", uow=world.uow, at=AT)
    assert len(pipeline.apply_decisions(uow=world.uow)) == 1
    assert len(world.uow.messages.list(contact_id=waiting_contact(world, waiting.task_id))) == 1


def waiting_contact(world: World, task_id: int) -> int:
    return world.uow.tasks.get(task_id).contact_id


def test_a_withdrawn_task_leaves_the_batch_and_the_rest_goes_on(world: World) -> None:
    saver = ThreadIndexedSaver()
    pipeline = Pipeline(checkpointer=saver, config=PipelineConfig(on_reject="redraft"))
    first, second = pipeline.start_steps(steps(world, 2), uow=world.uow, at=AT)
    pipeline.withdraw(first.task_id, "the contact replied", uow=world.uow, at=AT)
    redrafted = pipeline.resume(second.task_id, HumanDecision(action="reject"), uow=world.uow,
                                at=AT)
    assert redrafted.status == "awaiting_approval"
    assert redrafted.attention_id != second.attention_id
    assert pipeline.live_tasks() == [second.task_id]
    pipeline.withdraw(second.task_id, "the contact replied", uow=world.uow, at=AT)
    assert dict(saver.storage) == {}
    assert world.uow.messages.for_task(first.task_id) is None


def test_a_batch_larger_than_max_batch_is_split(world: World) -> None:
    saver = ThreadIndexedSaver()
    pipeline = Pipeline(checkpointer=saver, config=PipelineConfig(max_batch=2))
    results = pipeline.start_steps(steps(world, 5), uow=world.uow, at=AT)
    assert sorted(saver.storage) == sorted(
        f"batch:{results[i].task_id}" for i in (0, 2, 4))


def test_a_failing_drafter_fails_only_its_task(world: World) -> None:
    def draft(request: DraftRequest) -> Draft:
        if request.contact.email == "lee1@example.com":
            raise TimeoutError("read timed out")
        return writes().draft(request)

    due = steps(world, 3)
    due[1] = StepStart(enrollment_id=due[1].enrollment_id, sequence=due[1].sequence,
                       step=due[1].step, contact=due[1].contact, reviewer=due[1].reviewer,
                       drafter=TeamMember(teammate=world.ann, drafter=FakeDrafter(draft),
                                          reviewer=passes()))
    results = Pipeline().start_steps(due, uow=world.uow, at=AT)
    assert [r.status for r in results] == ["awaiting_approval", "failed", "awaiting_approval"]


def test_a_restarted_pipeline_finds_a_task_in_its_batch_thread(
    world: World, tmp_path: Path,
) -> None:
    team = Team.of([world.ann, world.bob], drafters={"Ann": writes(), "Bob": writes()},
                   reviewers={"Ann": passes(), "Bob": passes()})
    durable = PipelineConfig(durability="sync")
    with closing(sqlite3.connect(tmp_path / "checkpoints.db", check_same_thread=False)) as conn:
        first, second = Pipeline(checkpointer=SqliteSaver(conn), config=durable).start_steps(
            steps(world, 2), uow=world.uow, at=AT)
        restarted = Pipeline(checkpointer=SqliteSaver(conn), config=durable, team=team)
        assert restarted.resume(second.task_id, APPROVE, uow=world.uow, at=AT).status == "sent"
        assert restarted.live_tasks() == [first.task_id]
        restarted.withdraw(first.task_id, "the contact replied", uow=world.uow, at=AT)
        left = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
    assert left == 0
