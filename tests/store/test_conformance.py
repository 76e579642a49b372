"""The store conformance suite: the pipeline's store operations (:class:`PipelineStore`)
behave the same on SQLite (file and memory), PostgreSQL and :class:`InMemoryPipelineStore`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from teamsim.model import (
    ConflictError,
    Contact,
    EventRecord,
    NotFoundError,
    Sequence,
    TaskStarted,
    Teammate,
    TeamsimError,
    WorkDone,
)
from teamsim.store import AttentionItem, DecisionRecord, DraftRecord, ReviewRecord, TaskRecord

from .conftest import Backend

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stage(uow: Any) -> tuple[Sequence, Contact, Teammate, Teammate]:
    """A stored sequence, contact and two teammates."""
    sequence = uow.sequences.add(Sequence.new("Welcome"), T0)
    contact = uow.contacts.add(Contact(name="Ann Lee", email="ann@example.com"))
    ada = uow.teammates.add(Teammate(name="Ada"))
    bob = uow.teammates.add(Teammate(name="Bob"))
    return sequence, contact, ada, bob


def add_task(uow: Any, contact: Contact, mate: Teammate, *, thread: str = "t1",
             sequence: Sequence | None = None, minute: int = 0) -> int:
    task_id: int = uow.tasks.add(
        kind="step" if sequence is not None else "chat", thread_id=thread,
        contact_id=contact.id, teammate_id=mate.id, at=at(minute),
        sequence_id=None if sequence is None else sequence.id,
        step_id=None if sequence is None else "s1", brief="Say hello")
    return task_id


def test_contacts_sequences_and_teammates_read_back_by_id(backend: Backend) -> None:
    with backend.work() as uow:
        sequence, contact, ada, _ = stage(uow)
    with backend.work() as uow:
        assert uow.sequences.get(sequence.id) == sequence
        assert uow.contacts.get(contact.id) == contact
        assert uow.teammates.get(ada.id) == ada
        for repository in (uow.sequences, uow.contacts, uow.teammates):
            with pytest.raises(NotFoundError, match="404 does not exist"):
                repository.get(404)


def test_a_task_round_trips(backend: Backend) -> None:
    with backend.work() as uow:
        sequence, contact, ada, bob = stage(uow)
        task_id = uow.tasks.add(
            kind="step", thread_id="enr-1-s1", contact_id=contact.id, teammate_id=ada.id,
            reviewer_id=bob.id, at=T0, sequence_id=sequence.id, step_id="s1",
            brief="Say hello", status="working")
    with backend.work() as uow:
        assert uow.tasks.get(task_id) == TaskRecord(
            id=task_id, kind="step", thread_id="enr-1-s1", status="working", outcome=None,
            contact_id=contact.id, teammate_id=ada.id, reviewer_id=bob.id, enrollment_id=None,
            sequence_id=sequence.id, step_id="s1", brief="Say hello", created_at=T0,
            finished_at=None)


def test_task_status_with_an_outcome_marks_it_finished(backend: Backend) -> None:
    with backend.work() as uow:
        _, contact, ada, _ = stage(uow)
        task_id = add_task(uow, contact, ada)
        uow.tasks.set_status(task_id, "awaiting_approval", at(5))
        assert uow.tasks.get(task_id).status == "awaiting_approval"
        uow.tasks.set_status(task_id, "done", at(9), outcome="sent")
    with backend.work() as uow:
        task = uow.tasks.get(task_id)
        assert (task.status, task.outcome, task.finished_at) == ("done", "sent", at(9))


def test_unknown_task_kind_is_refused(backend: Backend) -> None:
    with backend.work() as uow, pytest.raises(ValueError, match="task kind must be one of"):
        uow.tasks.add(kind="call", thread_id="t", contact_id=1, teammate_id=None, at=T0)


def test_a_missing_task_is_not_found(backend: Backend) -> None:
    with backend.work() as uow:
        with pytest.raises(NotFoundError, match="task 404"):
            uow.tasks.set_status(404, "done", T0)
        with pytest.raises(NotFoundError, match="task 404"):
            uow.tasks.get(404)


def test_a_thread_id_belongs_to_one_task(backend: Backend) -> None:
    with backend.work() as uow:
        _, contact, ada, _ = stage(uow)
        first = add_task(uow, contact, ada, thread="chat:1")
        with pytest.raises(ConflictError, match=f"thread id 'chat:1' already exists \\(id {first}"):
            add_task(uow, contact, ada, thread="chat:1")


def test_drafts_reviews_and_decisions_round_trip(backend: Backend) -> None:
    with backend.work() as uow:
        _, contact, ada, bob = stage(uow)
        task_id = add_task(uow, contact, ada)
        first = uow.drafts.add(task_id=task_id, revision=0, author_id=ada.id, subject="Hi",
                               body="Hello Ann", minutes=7, at=at(7))
        review = uow.drafts.add_review(task_id=task_id, draft_id=first, reviewer_id=bob.id,
                                       verdict="revise", notes=["too long"], minutes=3,
                                       at=at(10))
        second = uow.drafts.add(task_id=task_id, revision=1, author_id=ada.id, subject=None,
                                body="Hi Ann", minutes=4, at=at(14))
        decision = uow.drafts.add_decision(task_id=task_id, draft_id=second, action="edit",
                                           by="human", note="friendlier", subject="Hi!",
                                           body="Hi there", at=at(40))
    assert first < second
    with backend.work() as uow:
        assert uow.drafts.list(task_id) == [
            DraftRecord(id=first, task_id=task_id, revision=0, author_id=ada.id, subject="Hi",
                        body="Hello Ann", minutes=7, created_at=at(7)),
            DraftRecord(id=second, task_id=task_id, revision=1, author_id=ada.id,
                        subject=None, body="Hi Ann", minutes=4, created_at=at(14)),
        ]
        assert uow.drafts.reviews(task_id) == [
            ReviewRecord(id=review, task_id=task_id, draft_id=first, reviewer_id=bob.id,
                         verdict="revise", notes=("too long",), minutes=3, created_at=at(10))]
        assert uow.drafts.decisions(task_id) == [
            DecisionRecord(id=decision, task_id=task_id, draft_id=second, action="edit",
                           by="human", rule_id=None, note="friendlier", subject="Hi!",
                           body="Hi there", decided_at=at(40))]


def test_decision_by_a_rule_needs_the_rule(backend: Backend) -> None:
    with backend.work() as uow, pytest.raises(ValueError, match="needs the rule_id"):
        uow.drafts.add_decision(task_id=1, draft_id=None, action="approve", by="rule", at=T0)


def test_attention_item_round_trips_and_resolves(backend: Backend) -> None:
    with backend.work() as uow:
        _, contact, ada, _ = stage(uow)
        task_id = add_task(uow, contact, ada)
        item = uow.attention.open(kind="draft", at=at(20), task_id=task_id,
                                  payload={"draft_id": 1, "preview": "Hello — Ann"})
        assert uow.attention.list() == [
            AttentionItem(id=item, kind="draft", status="open", task_id=task_id, reply_id=None,
                          payload={"draft_id": 1, "preview": "Hello — Ann"}, created_at=at(20),
                          resolved_at=None),
        ]
        uow.attention.resolve(item, status="resolved", at=at(30))
    with backend.work() as uow:
        assert uow.attention.list() == []
        resolved = uow.attention.get(item)
        assert (resolved.status, resolved.resolved_at) == ("resolved", at(30))
        assert uow.attention.list(None, kind="draft") == [resolved]
        assert uow.attention.list("resolved", kind="reply") == []


def test_every_attention_kind_opens_and_an_unknown_one_is_refused(backend: Backend) -> None:
    with backend.work() as uow:
        opened = {kind: uow.attention.open(kind=kind, at=T0, payload={})
                  for kind in ("draft", "draft_failure", "reply", "rule_suggestion")}
        assert [uow.attention.get(item).kind for item in opened.values()] == list(opened)
        assert uow.attention.list(kind="draft_failure") == [
            uow.attention.get(opened["draft_failure"])]
        with pytest.raises(ValueError, match="attention kind must be one of"):
            uow.attention.open(kind="failure", at=T0)  # type: ignore[arg-type]


def test_resolving_a_closed_attention_item_is_a_conflict(backend: Backend) -> None:
    with backend.work() as uow:
        item = uow.attention.open(kind="rule_suggestion", at=T0, payload={})
        uow.attention.resolve(item, status="withdrawn", at=at(1))
        with pytest.raises(ConflictError, match=f"attention item {item} is already withdrawn"):
            uow.attention.resolve(item, at=at(2))
        with pytest.raises(NotFoundError, match="attention item 999"):
            uow.attention.resolve(999, at=at(2))


def test_an_attention_payload_is_a_snapshot(backend: Backend) -> None:
    payload: dict[str, Any] = {"concerns": ["tone"], "draft": {"id": 1}}
    with backend.work() as uow:
        item = uow.attention.open(kind="rule_suggestion", at=T0, payload=payload)
        payload["concerns"].append("later")
        read = uow.attention.get(item)
        read.payload["draft"]["id"] = 2
        assert uow.attention.get(item).payload == {"concerns": ["tone"], "draft": {"id": 1}}


def test_a_task_sends_at_most_once(backend: Backend) -> None:
    with backend.work() as uow:
        _, contact, ada, _ = stage(uow)
        task_id = add_task(uow, contact, ada)
        kwargs = {"task_id": task_id, "contact_id": contact.id, "channel": "email",
                  "subject": "Hi", "body": "Hello", "teammate_id": ada.id}
        first = uow.messages.send(**kwargs, at=at(1))
        again = uow.messages.send(**kwargs, at=at(2))
    assert first == (first[0], True)
    assert again == (first[0], False)
    with backend.work() as uow:
        message = uow.messages.get(first[0])
        assert (message.status, message.queued_at, message.sent_at) == ("queued", at(1), None)
        assert uow.messages.for_task(task_id) == message


def test_the_thread_is_the_delivered_messages_of_one_sequence_in_delivery_order(
        backend: Backend) -> None:
    with backend.work() as uow:
        sequence, contact, ada, _ = stage(uow)
        sent: list[int] = []
        for n, (in_sequence, delivered_at) in enumerate([(True, 50), (True, 20), (False, 30),
                                                         (True, None)]):
            task_id = add_task(uow, contact, ada, thread=f"t{n}",
                               sequence=sequence if in_sequence else None)
            message_id, _ = uow.messages.send(task_id=task_id, contact_id=contact.id,
                                              channel="email", subject=None, body=f"m{n}",
                                              at=at(n))
            if delivered_at is not None:
                uow.messages.deliver(message_id, at=at(delivered_at))
            sent.append(message_id)
        assert [m.body for m in uow.messages.thread(contact.id, sequence.id)] == ["m1", "m0"]
        assert [m.id for m in uow.messages.thread(contact.id, None)] == [sent[2]]
    with backend.work() as uow:
        assert [m.body for m in uow.messages.thread(contact.id, sequence.id)] == ["m1", "m0"]
        assert uow.messages.thread(contact.id + 1, sequence.id) == []


def test_events_are_numbered_in_append_order_with_their_payloads_as_json(
        backend: Backend) -> None:
    with backend.work() as uow:
        _, contact, ada, bob = stage(uow)
        task_id = add_task(uow, contact, ada)
        started = TaskStarted(kind="chat", thread_id="t1", channel="email", drafter_id=ada.id,
                              reviewer_id=bob.id, step_id=None)
        first = uow.events.append(started, at(1), contact_id=contact.id, task_id=task_id)
        second = uow.events.append(WorkDone(teammates=("Ada", "Bob"), minutes=15), at(2))
    assert second == first + 1
    with backend.work() as uow:
        assert list(uow.events.iter()) == [
            EventRecord(seq=first, at=at(1), type="task.started", contact_id=contact.id,
                        task_id=task_id, payload=started.to_payload()),
            EventRecord(seq=second, at=at(2), type="work.done",
                        payload={"teammates": ["Ada", "Bob"], "minutes": 15}),
        ]


def test_a_naive_time_is_refused(backend: Backend) -> None:
    with backend.work() as uow:
        _, contact, ada, _ = stage(uow)
        with pytest.raises((ValueError, TeamsimError), match="naive"):
            uow.tasks.add(kind="chat", thread_id="t", contact_id=contact.id,
                          teammate_id=ada.id, at=datetime(2025, 1, 6, 9, 0))
