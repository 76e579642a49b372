"""Tasks, drafts, reviews, the attention queue, decisions, messages, replies, rules: what
the conformance suite (``test_conformance.py``) does not cover, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from teamsim.model import AutoApproveRule, ConflictError, NotFoundError
from teamsim.store import (
    DecisionRecord,
    DraftRecord,
    MessageRecord,
    ReplyRecord,
    ReviewRecord,
    Store,
    TaskRecord,
)

from ._helpers import T0, at, world


def test_task_round_trips(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
    with store.unit_of_work() as uow:
        assert uow.tasks.get(w.task_id) == TaskRecord(
            id=w.task_id, kind="step", thread_id=f"enr-{w.enrollment_id}-s1", status="open",
            outcome=None, contact_id=w.contact_id, teammate_id=w.teammate_id, reviewer_id=None,
            enrollment_id=w.enrollment_id, sequence_id=w.sequence_id, step_id="s1",
            brief="Say hello", created_at=T0, finished_at=None,
        )
        assert uow.tasks.by_thread(f"enr-{w.enrollment_id}-s1").id == w.task_id


def test_task_status_with_an_outcome_marks_it_finished(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        uow.tasks.assign_reviewer(w.task_id, w.teammate_id)
        uow.tasks.set_status(w.task_id, "awaiting_approval", at(5))
        uow.tasks.set_status(w.task_id, "done", at(9), outcome="sent")
    with store.unit_of_work() as uow:
        task = uow.tasks.get(w.task_id)
        assert (task.status, task.outcome, task.finished_at) == ("done", "sent", at(9))
        assert task.reviewer_id == w.teammate_id
        assert uow.tasks.list(status="done") == [task]
        assert uow.tasks.list(kind="chat") == []


def test_drafts_and_reviews_round_trip(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        first = uow.drafts.add(task_id=w.task_id, revision=0, author_id=w.teammate_id,
                              subject="Hi", body="Hello Ann", minutes=7, at=at(7))
        review = uow.drafts.add_review(task_id=w.task_id, draft_id=first, reviewer_id=w.teammate_id,
                                verdict="revise", notes=["too long", "no opt-out"], minutes=3,
                                at=at(10))
        second = uow.drafts.add(task_id=w.task_id, revision=1, author_id=w.teammate_id,
                               subject=None, body="Hi Ann", minutes=4, at=at(14))
    with store.unit_of_work() as uow:
        assert uow.drafts.list(w.task_id) == [
            DraftRecord(id=first, task_id=w.task_id, revision=0, author_id=w.teammate_id,
                        subject="Hi", body="Hello Ann", minutes=7, created_at=at(7)),
            DraftRecord(id=second, task_id=w.task_id, revision=1, author_id=w.teammate_id,
                        subject=None, body="Hi Ann", minutes=4, created_at=at(14)),
        ]
        assert uow.drafts.get(second).body == "Hi Ann"
        assert uow.drafts.reviews(w.task_id) == [
            ReviewRecord(id=review, task_id=w.task_id, draft_id=first,
                         reviewer_id=w.teammate_id, verdict="revise",
                         notes=("too long", "no opt-out"), minutes=3, created_at=at(10)),
        ]


def test_decision_round_trips(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        draft = uow.drafts.add(task_id=w.task_id, revision=0, author_id=None, subject="Hi",
                              body="Hello", minutes=1, at=T0)
        decision = uow.drafts.add_decision(task_id=w.task_id, draft_id=draft, action="edit",
                                           by="human", note="friendlier", subject="Hi!",
                                           body="Hello there", at=at(40))
    with store.unit_of_work() as uow:
        assert uow.drafts.decisions(w.task_id) == [
            DecisionRecord(id=decision, task_id=w.task_id, draft_id=draft, action="edit",
                           by="human", rule_id=None, note="friendlier", subject="Hi!",
                           body="Hello there", decided_at=at(40)),
        ]


def test_message_round_trips_with_engagement(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        message, sent = uow.messages.send(
            task_id=w.task_id, contact_id=w.contact_id, channel="email", subject="Hi",
            body="Hello", at=at(50), enrollment_id=w.enrollment_id, step_id="s1",
            teammate_id=w.teammate_id,
        )
        assert sent
        uow.messages.deliver(message, at=at(55))
        assert uow.messages.mark_engagement(message, "opened", at(60))
        assert not uow.messages.mark_engagement(message, "opened", at(70))
        assert uow.messages.mark_engagement(message, "clicked", at(80))
    with store.unit_of_work() as uow:
        expected = MessageRecord(
            id=message, task_id=w.task_id, enrollment_id=w.enrollment_id,
            contact_id=w.contact_id, step_id="s1", channel="email", subject="Hi", body="Hello",
            teammate_id=w.teammate_id, status="sent", queued_at=at(50), sent_at=at(55),
            cancelled_at=None, cancel_reason=None, opened_at=at(60), clicked_at=at(80),
        )
        assert uow.messages.get(message) == expected
        assert uow.messages.for_task(w.task_id) == expected
        assert uow.messages.list(contact_id=w.contact_id) == [expected]
        assert uow.messages.thread(w.contact_id, w.sequence_id) == [expected]
        assert uow.messages.thread(w.contact_id, None) == []


def test_engagement_on_a_missing_message_is_not_found(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(NotFoundError, match="message 3"):
        uow.messages.mark_engagement(3, "clicked", T0)


def test_a_task_sends_at_most_once(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        kwargs = {"task_id": w.task_id, "contact_id": w.contact_id, "channel": "email",
                  "subject": "Hi", "body": "Hello"}
        first = uow.messages.send(**kwargs, at=at(1))
        again = uow.messages.send(**kwargs, at=at(2))
    assert first == (first[0], True)
    assert again == (first[0], False)
    with store.unit_of_work() as uow:
        assert len(uow.messages.list()) == 1
        assert uow.messages.get(first[0]).queued_at == at(1)


def test_database_refuses_a_second_message_for_a_task(store_url: str) -> None:
    with Store.open(store_url) as store, store.unit_of_work() as uow:
        w = world(uow)
        uow.messages.send(task_id=w.task_id, contact_id=w.contact_id, channel="sms",
                         subject=None, body="Hi", at=T0)
    engine = create_engine(store_url)
    with engine.begin() as connection, pytest.raises(IntegrityError):
        connection.execute(text(
            "INSERT INTO messages (task_id, contact_id, channel, body, status, queued_at) "
            f"VALUES ({w.task_id}, {w.contact_id}, 'sms', 'again', 'queued', "
            "'2025-01-06 10:00:00')"
        ))
    engine.dispose()


def test_reply_round_trips(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        reply = uow.replies.add(contact_id=w.contact_id, kind="out_of_office", at=at(90),
                              enrollment_id=w.enrollment_id, body="Back Monday")
        item = uow.attention.open(kind="reply", at=at(90), reply_id=reply, payload={})
    with store.unit_of_work() as uow:
        expected = ReplyRecord(id=reply, contact_id=w.contact_id, enrollment_id=w.enrollment_id,
                               message_id=None, kind="out_of_office", body="Back Monday",
                               received_at=at(90))
        assert uow.replies.get(reply) == expected
        assert uow.replies.list(enrollment_id=w.enrollment_id) == [expected]
        assert uow.attention.get(item).reply_id == reply


def test_unknown_reply_kind_is_refused(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(ValueError, match="reply kind"):
        uow.replies.add(contact_id=1, kind="angry", at=T0)  # type: ignore[arg-type]


def test_rule_round_trips_and_saves(store: Store) -> None:
    rule = AutoApproveRule(name="routine follow-ups", sequence="Welcome", step="s3",
                           channel="email", max_per_day=5)
    with store.unit_of_work() as uow:
        stored = uow.rules.add(rule)
        stored.enabled = True
        uow.rules.save(stored)
    with store.unit_of_work() as uow:
        assert uow.rules.get("routine follow-ups") == stored
        assert uow.rules.get(stored.id or 0).enabled
        assert uow.rules.list() == [stored]


def test_rule_names_are_unique(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.rules.add(AutoApproveRule(name="r"))
        with pytest.raises(ConflictError, match="rule named 'r'"):
            uow.rules.add(AutoApproveRule(name="r"))


def test_rule_approvals_count_since_a_time(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        rule = uow.rules.add(AutoApproveRule(name="r", enabled=True))
        for minute in (10, 20, 30):
            uow.drafts.add_decision(task_id=w.task_id, draft_id=None, action="approve", by="rule",
                             rule_id=rule.id, at=at(minute))
        uow.drafts.add_decision(task_id=w.task_id, draft_id=None, action="reject", by="human",
                                at=at(40))
        assert uow.rules.approvals(rule.id or 0) == 3
        assert uow.rules.approvals(rule.id or 0, since=at(20)) == 2
        assert len(uow.drafts.decisions(rule_id=rule.id)) == 3


def test_a_queued_message_is_delivered_or_cancelled_once(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        message, _ = uow.messages.send(task_id=w.task_id, contact_id=w.contact_id,
                                      channel="email", subject="Hi", body="Hello", at=at(1))
        assert uow.messages.thread(w.contact_id, w.sequence_id) == []
        uow.messages.deliver(message, at=at(2))
        with pytest.raises(ConflictError, match=rf"cannot cancel message {message}: it is sent"):
            uow.messages.cancel(message, reason="replied", at=at(3))
        record = uow.messages.get(message)
        assert (record.status, record.sent_at) == ("sent", at(2))
        assert [m.id for m in uow.messages.thread(w.contact_id, w.sequence_id)] == [message]


def test_a_cancelled_message_records_why_and_is_never_delivered(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        message, _ = uow.messages.send(task_id=w.task_id, contact_id=w.contact_id,
                                      channel="email", subject="Hi", body="Hello", at=at(1))
        uow.messages.cancel(message, reason="the person replied", at=at(2))
        with pytest.raises(ConflictError, match="it is cancelled, not queued"):
            uow.messages.deliver(message, at=at(3))
        record = uow.messages.get(message)
        assert (record.status, record.cancel_reason, record.sent_at) == (
            "cancelled", "the person replied", None)
