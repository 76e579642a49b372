"""Write-behind of the pipeline tables: buffered rows, Python ids, flush order, rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from teamsim.model import ConflictError, NotFoundError
from teamsim.store import Store, UnitOfWork

from ._helpers import T0, World, at, world


def _pipeline_rows(uow: UnitOfWork, w: World) -> dict[str, int]:
    """One draft, review, attention item, decision, message and reply of ``w``'s task."""
    draft = uow.drafts.add(task_id=w.task_id, revision=0, author_id=w.teammate_id,
                          subject="Hi", body="Hello", minutes=10, at=at(10))
    review = uow.drafts.add_review(task_id=w.task_id, draft_id=draft, reviewer_id=w.teammate_id,
                            verdict="pass", notes=["ok"], minutes=5, at=at(15))
    decision = uow.drafts.add_decision(task_id=w.task_id, draft_id=draft, action="approve",
                                by="human", at=at(20), subject="Hi", body="Hello")
    message, _ = uow.messages.send(task_id=w.task_id, contact_id=w.contact_id, channel="email",
                                  subject="Hi", body="Hello", at=at(25),
                                  enrollment_id=w.enrollment_id, step_id="s1")
    reply = uow.replies.add(contact_id=w.contact_id, kind="reply", at=at(30),
                          enrollment_id=w.enrollment_id, message_id=message, body="Thanks")
    item = uow.attention.open(kind="reply", at=at(30), task_id=w.task_id, reply_id=reply,
                              payload={"reply": reply})
    return {"draft": draft, "review": review, "decision": decision, "message": message,
            "reply": reply, "item": item}


def test_pipeline_writes_are_buffered_until_flush(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        _pipeline_rows(uow, w)
        assert uow.pending == 7
        uow.flush()
        assert uow.pending == 0


def test_buffered_rows_are_visible_to_reads_in_the_same_unit_of_work(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        ids = _pipeline_rows(uow, w)
        assert uow.tasks.get(w.task_id).thread_id == f"enr-{w.enrollment_id}-s1"
        assert uow.tasks.by_thread(f"enr-{w.enrollment_id}-s1").id == w.task_id
        assert uow.drafts.get(ids["draft"]).body == "Hello"
        assert [r.id for r in uow.drafts.reviews(w.task_id)] == [ids["review"]]
        assert [d.id for d in uow.drafts.decisions(w.task_id)] == [ids["decision"]]
        assert uow.messages.get(ids["message"]).status == "queued"
        message = uow.messages.for_task(w.task_id)
        assert message is not None
        assert message.id == ids["message"]
        assert uow.replies.get(ids["reply"]).body == "Thanks"
        assert uow.attention.get(ids["item"]).payload == {"reply": ids["reply"]}
        assert [i.id for i in uow.attention.list()] == [ids["item"]]
        # Served from the buffer: nothing had to be written to answer them.
        assert uow.pending == 7
        # Reads the buffer cannot answer write it first, and see the same rows.
        assert [t.id for t in uow.tasks.list()] == [w.task_id]
        assert [m.id for m in uow.messages.list()] == [ids["message"]]
        assert uow.pending == 0


def test_changes_to_buffered_rows_are_seen_and_written(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        ids = _pipeline_rows(uow, w)
        uow.tasks.set_status(w.task_id, "sent", at(40), outcome="sent")
        uow.attention.resolve(ids["item"], at=at(41))
        uow.messages.deliver(ids["message"], at=at(42))
        assert uow.messages.mark_engagement(ids["message"], "opened", at(43)) is True
        assert uow.messages.mark_engagement(ids["message"], "opened", at(44)) is False
        assert uow.tasks.get(w.task_id).outcome == "sent"
        assert uow.pending == 7
        in_buffer = (uow.tasks.get(w.task_id), uow.attention.get(ids["item"]),
                     uow.messages.get(ids["message"]))
    with store.unit_of_work() as uow:
        assert (uow.tasks.get(w.task_id), uow.attention.get(ids["item"]),
                uow.messages.get(ids["message"])) == in_buffer
        assert in_buffer[2].opened_at == at(43)
        assert in_buffer[2].sent_at == at(42)


def test_a_committed_unit_of_work_reads_the_same_from_a_new_one(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        ids = _pipeline_rows(uow, w)
        uow.messages.deliver(ids["message"], at=at(26))

        def snapshot(u: UnitOfWork) -> tuple[object, ...]:
            return (
                u.tasks.get(w.task_id), u.drafts.list(w.task_id), u.drafts.reviews(w.task_id),
                u.drafts.decisions(w.task_id), u.messages.get(ids["message"]),
                u.messages.for_task(w.task_id), u.messages.thread(w.contact_id, w.sequence_id),
                u.replies.get(ids["reply"]), u.attention.get(ids["item"]),
                u.attention.list(None),
            )

        buffered = snapshot(uow)
        assert uow.pending == 7
    with store.unit_of_work() as uow:
        assert snapshot(uow) == buffered


def test_ids_are_sequential_per_table_and_continue_after_commit(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        drafts = [uow.drafts.add(task_id=w.task_id, revision=n, author_id=None, subject=None,
                                body=f"v{n}", minutes=1, at=at(n)) for n in range(3)]
        assert drafts == [1, 2, 3]
        uow.commit()
        assert [d.id for d in uow.drafts.list(w.task_id)] == drafts
        assert uow.drafts.add(task_id=w.task_id, revision=3, author_id=None, subject=None,
                             body="v3", minutes=1, at=at(3)) == 4
    with store.unit_of_work() as uow:
        assert uow.drafts.add(task_id=w.task_id, revision=4, author_id=None, subject=None,
                             body="v4", minutes=1, at=at(4)) == 5
        assert [d.body for d in uow.drafts.list(w.task_id)] == ["v0", "v1", "v2", "v3", "v4"]


def test_rollback_forgets_buffered_rows_and_counters(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        uow.commit()
        first = uow.tasks.add(kind="chat", thread_id="chat-1", contact_id=w.contact_id,
                             teammate_id=None, at=T0)
        uow.drafts.add(task_id=first, revision=0, author_id=None, subject=None, body="x",
                      minutes=1, at=T0)
        uow.rollback()
        assert uow.pending == 0
        with pytest.raises(NotFoundError, match=f"task {first} does not exist"):
            uow.tasks.get(first)
        again = uow.tasks.add(kind="chat", thread_id="chat-1", contact_id=w.contact_id,
                             teammate_id=None, at=T0)
        assert again == first
        assert uow.drafts.list(again) == []


def test_flush_writes_parents_before_children(store: Store) -> None:
    # Added children first (a reply, then the attention item about it), then more parents:
    # foreign keys are enforced on both backends, so a wrong order would fail the flush.
    with store.unit_of_work() as uow:
        w = world(uow)
        ids = _pipeline_rows(uow, w)
        second = uow.tasks.add(kind="chat", thread_id="chat-2", contact_id=w.contact_id,
                              teammate_id=w.teammate_id, at=at(50))
        uow.drafts.add(task_id=second, revision=0, author_id=None, subject=None, body="x",
                      minutes=1, at=at(50))
        uow.flush()
        assert uow.pending == 0
        assert uow.attention.get(ids["item"]).reply_id == ids["reply"]
        assert len(uow.drafts.list(second)) == 1


def test_a_second_send_sees_the_first_in_the_buffer_and_in_the_database(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        uow.flush()
        kwargs = {"task_id": w.task_id, "contact_id": w.contact_id, "channel": "email",
                  "subject": "Hi", "body": "Hello"}
        first, sent = uow.messages.send(**kwargs, at=at(1))
        assert sent
        assert uow.messages.send(**kwargs, at=at(2)) == (first, False)
        uow.flush()
        assert uow.messages.send(**kwargs, at=at(3)) == (first, False)
        assert uow.pending == 0


def test_buffered_rows_keep_their_state_checks(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        ids = _pipeline_rows(uow, w)
        uow.attention.resolve(ids["item"], status="withdrawn", at=at(40))
        with pytest.raises(ConflictError, match=f"attention item {ids['item']} is already "
                                                "withdrawn"):
            uow.attention.resolve(ids["item"], at=at(41))
        uow.messages.cancel(ids["message"], reason="replied", at=at(42))
        with pytest.raises(ConflictError, match=r"cannot deliver .* it is cancelled, not queued"):
            uow.messages.deliver(ids["message"], at=at(43))
        with pytest.raises(NotFoundError, match="message 99"):
            uow.messages.deliver(99, at=at(43))
        assert uow.pending == 7


def test_a_thread_id_taken_in_the_buffer_is_refused_at_once(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        with pytest.raises(ConflictError, match=rf"thread id 'enr-{w.enrollment_id}-s1'"):
            uow.tasks.add(kind="step", thread_id=f"enr-{w.enrollment_id}-s1",
                         contact_id=w.contact_id, teammate_id=None, at=T0)


def test_a_clash_with_a_written_row_fails_the_flush_as_a_conflict(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
    with store.unit_of_work() as uow:
        uow.tasks.add(kind="step", thread_id=f"enr-{w.enrollment_id}-s1",
                     contact_id=w.contact_id, teammate_id=None, at=T0)
        with pytest.raises(ConflictError, match=r"buffered tasks rows .*Roll the unit of work"):
            uow.flush()
        uow.rollback()
        assert [t.id for t in uow.tasks.list()] == [w.task_id]


def test_a_reference_to_a_missing_row_fails_the_commit(store: Store) -> None:
    with store.unit_of_work() as uow:
        world(uow)
    uow = store.unit_of_work()
    uow.drafts.add(task_id=404, revision=0, author_id=None, subject=None, body="x",
                  minutes=1, at=T0)
    with pytest.raises(ConflictError, match="buffered drafts rows"):
        uow.__exit__(None, None, None)
    with store.unit_of_work() as uow:
        assert uow.tasks.get(1).id == 1
        with pytest.raises(NotFoundError, match="draft 1 does not exist"):
            uow.drafts.get(1)


def test_thread_messages_merge_written_and_buffered_rows_in_delivery_order(
    store: Store,
) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        old, _ = uow.messages.send(task_id=w.task_id, contact_id=w.contact_id, channel="email",
                                  subject="1", body="first", at=at(1))
        uow.messages.deliver(old, at=at(60))
    with store.unit_of_work() as uow:
        later = uow.tasks.add(kind="step", thread_id="later", contact_id=w.contact_id,
                             teammate_id=None, at=at(2), sequence_id=w.sequence_id)
        chat = uow.tasks.add(kind="chat", thread_id="chat", contact_id=w.contact_id,
                            teammate_id=None, at=at(2))
        early, _ = uow.messages.send(task_id=later, contact_id=w.contact_id, channel="email",
                                    subject="2", body="second", at=at(2))
        aside, _ = uow.messages.send(task_id=chat, contact_id=w.contact_id, channel="email",
                                    subject="c", body="chat", at=at(2))
        uow.messages.deliver(early, at=at(30))
        uow.messages.deliver(aside, at=at(31))
        assert [m.id for m in uow.messages.thread(w.contact_id, w.sequence_id)] == [early, old]
        assert [m.id for m in uow.messages.thread(w.contact_id, None)] == [aside]
        assert uow.pending == 4


def test_a_buffered_message_of_a_written_task_is_in_its_thread(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
    with store.unit_of_work() as uow:
        message, _ = uow.messages.send(task_id=w.task_id, contact_id=w.contact_id,
                                      channel="email", subject="1", body="x", at=at(1))
        uow.messages.deliver(message, at=at(2))
        assert [m.id for m in uow.messages.thread(w.contact_id, w.sequence_id)] == [message]
        assert uow.messages.thread(w.contact_id, None) == []


def test_attention_payload_is_a_snapshot_as_the_database_keeps_it(store: Store) -> None:
    with store.unit_of_work() as uow:
        w = world(uow)
        payload: dict[str, object] = {"concerns": ("long",), "draft": {"id": 1}}
        item = uow.attention.open(kind="draft", at=T0, task_id=w.task_id, payload=payload)
        payload["draft"] = {"id": 2}
        buffered = uow.attention.get(item).payload
        buffered["draft"]["id"] = 3
        assert uow.attention.get(item).payload == {"concerns": ["long"], "draft": {"id": 1}}
    with store.unit_of_work() as uow:
        assert uow.attention.get(item).payload == {"concerns": ["long"], "draft": {"id": 1}}


def test_attention_payload_must_be_json(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(TypeError, match="not JSON data"):
        uow.attention.open(kind="draft", at=T0, payload={"at": T0})


def test_the_database_can_still_pick_ids_after_buffered_inserts(store_url: str) -> None:
    with Store.open(store_url) as store, store.unit_of_work() as uow:
        w = world(uow)
        for n in range(3):
            uow.replies.add(contact_id=w.contact_id, kind="reply", at=at(n))
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text(
            f"INSERT INTO replies (contact_id, kind, body, received_at) "
            f"VALUES ({w.contact_id}, 'reply', 'by hand', '2025-01-06 10:00:00')"
        ))
        assert connection.scalar(text("SELECT max(id) FROM replies")) == 4
    engine.dispose()
