"""The "What if it isn't working?" checklist, one answer per test, on SQLite and PostgreSQL.

Each test builds the store by hand through a unit of work, as the simulator would have left
it, and asks :func:`diagnose` at a fixed moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete

from teamsim.model import (
    ApproverSessionStarted,
    Contact,
    EnrollmentCreated,
    EnrollmentEnded,
    EnrollmentStatus,
    EventKind,
    MessageSent,
    NotFoundError,
    RunEnded,
    RunMeta,
    RunStarted,
    Sequence,
    SequenceStatus,
    StepDue,
    Teammate,
    WaitStarted,
)
from teamsim.reports.diagnose import (
    FIX_ACTIVATE,
    FIX_ENROLL,
    FIX_GIVE_IT_A_MOMENT,
    FIX_NEEDS_ATTENTION,
    FIX_REPLIED,
    FIX_STILL_STUCK,
    Check,
    FindingStatus,
    diagnose,
    render,
)
from teamsim.store import Store, UnitOfWork
from teamsim.store._models import EventRow

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def at(minutes: int = 0, *, hours: int = 0, days: int = 0) -> datetime:
    """A moment after ``T0``."""
    return T0 + timedelta(days=days, hours=hours, minutes=minutes)


def record_run(uow: UnitOfWork, meta: RunMeta) -> None:
    """Store the run's meta, as a run records it."""
    uow.meta.save_run(meta)


def run_meta(start: datetime, tick_minutes: int = 15) -> RunMeta:
    """The meta of a run of 'Welcome' that started at ``start``."""
    return RunMeta(world="welcome", seed=0, start=start.isoformat(), tick_minutes=tick_minutes,
                   human_timezone="UTC")


def log_event(uow: UnitOfWork, payload: Any, moment: datetime, *, kind: EventKind | None = None,
              **ids: int | None) -> int:
    """Append ``payload`` to the event log at ``moment``, as the simulator writes it."""
    return uow.events.append(payload, moment, kind=kind, **ids)


def started(moment: datetime = T0) -> RunStarted:
    """A run's start event."""
    return RunStarted(world="welcome", seed=0, start=moment.isoformat(), minutes=0)


def ended() -> RunEnded:
    """A run's end event."""
    return RunEnded(minute=0, teammate_busy_minutes={}, human_minutes=0.0)


# An event of no enrollment, only there to mark a moment in the log.
MARK = ApproverSessionStarted(open_items=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ids:
    """What :func:`welcome` stored."""

    sequence: int
    contact: int
    enrollment: int | None
    teammate: int


def welcome(
    uow: UnitOfWork,
    *,
    status: SequenceStatus = SequenceStatus.ACTIVE,
    enroll: bool = True,
    step: str | None = "s1",
    due: datetime | None = None,
) -> Ids:
    """Store 'Welcome' (s1 hello, s2 wait 3 days, s3 follow up), Ann Lee and teammate Ada.

    The sequence is activated at T0 unless ``status`` says otherwise; Ann is enrolled at T0
    at ``step`` (due at ``due``) when ``enroll``.
    """
    seq = uow.sequences.add(Sequence.new("Welcome"), T0)
    if status is not SequenceStatus.DRAFT:
        seq = uow.sequences.save(seq.model_copy(update={"status": status}), T0)
    ann = uow.contacts.add(Contact(name="Ann Lee", email="ann@example.com"))
    ada = uow.teammates.add(Teammate(name="Ada"))
    assert seq.id is not None
    assert ann.id is not None
    assert ada.id is not None
    enrollment = None
    if enroll:
        enrollment = uow.enrollments.add(seq.id, ann.id, T0, current_step_id=step,
                                         next_due_at=due).id
    return Ids(sequence=seq.id, contact=ann.id, enrollment=enrollment, teammate=ada.id)


def drafted(uow: UnitOfWork, ids: Ids, *, step: str = "s1", when: datetime) -> tuple[int, int]:
    """A task for ``step`` drafted, reviewed and put in Needs attention at ``when``."""
    assert ids.enrollment is not None
    task = uow.tasks.add(
        kind="step", thread_id=f"enr-{ids.enrollment}-{step}", contact_id=ids.contact,
        teammate_id=ids.teammate, at=when - timedelta(minutes=20),
        enrollment_id=ids.enrollment, sequence_id=ids.sequence, step_id=step, status="working",
    )
    draft = uow.drafts.add(task_id=task, revision=0, author_id=ids.teammate, subject="Hello",
                          body="Hi Ann", minutes=12, at=when - timedelta(minutes=8))
    item = uow.attention.open(kind="draft", at=when, task_id=task,
                              payload={"draft": {"id": draft, "revision": 0}})
    uow.tasks.set_status(task, "awaiting_approval", when)
    return draft, item


def replied(uow: UnitOfWork, ids: Ids, *, when: datetime) -> int:
    """Ann replies at ``when``: the reply lands in Needs attention and she is paused."""
    assert ids.enrollment is not None
    reply = uow.replies.add(contact_id=ids.contact, kind="reply", at=when,
                          enrollment_id=ids.enrollment, body="Let's talk")
    item = uow.attention.open(kind="reply", at=when, reply_id=reply)
    uow.enrollments.update(ids.enrollment, status=EnrollmentStatus.PAUSED, paused_at=when)
    return item


# -- 1. is the sequence active? ---------------------------------------------------------------


def test_draft_sequence_answers_not_active_first(store: Store) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, status=SequenceStatus.DRAFT)
        drafted(uow, ids, when=at(hours=1))
        result = diagnose(uow, "Welcome", "ann@example.com", at=at(hours=2))
    assert result.answer is result.findings[0]
    assert result.answer.check is Check.NOT_ACTIVE
    assert result.answer.status is FindingStatus.PROBLEM
    assert result.answer.message == (
        "'Welcome' is a draft (version 1, since 2025-01-06 09:00 UTC (2 h ago)); "
        "a draft sequence doesn't run."
    )
    assert result.answer.fix == FIX_ACTIVATE == "Select it and click Activate."


def test_paused_sequence_says_since_when(store: Store) -> None:
    with store.unit_of_work() as uow:
        welcome(uow, due=at(days=1))
        seq = uow.sequences.get("Welcome")
        uow.sequences.save(seq.model_copy(update={"status": SequenceStatus.PAUSED}), at(hours=1))
        result = diagnose(uow, "Welcome", at=at(hours=3, minutes=30))
    assert result.answer.check is Check.NOT_ACTIVE
    assert result.answer.message == (
        "'Welcome' has been paused since 2025-01-06 10:00 UTC (2 h 30 min ago); "
        "a paused sequence doesn't run."
    )
    assert result.answer.fix == FIX_ACTIVATE


def test_active_sequence_is_ok_and_says_since_when(store: Store) -> None:
    with store.unit_of_work() as uow:
        welcome(uow, due=at(days=1))
        result = diagnose(uow, "Welcome", at=at(days=1, hours=2))
    first = result.findings[0]
    assert first.check is Check.NOT_ACTIVE
    assert first.status is FindingStatus.OK
    assert first.message == "'Welcome' has been active since 2025-01-06 09:00 UTC (1 d 2 h ago)."
    assert first.fix == ""


# -- 2. did you enroll anyone? -----------------------------------------------------------------


def test_active_sequence_with_no_one_enrolled(store: Store) -> None:
    with store.unit_of_work() as uow:
        welcome(uow, enroll=False)
        result = diagnose(uow, "Welcome", at=at(hours=1))
    assert [f.check for f in result.findings] == [Check.NOT_ACTIVE, Check.NO_ONE_ENROLLED]
    assert result.answer.check is Check.NO_ONE_ENROLLED
    assert result.answer.message == "No one is enrolled in 'Welcome', so it has nothing to do."
    assert result.answer.fix == FIX_ENROLL == "Use Enroll to add a contact."


def test_contact_not_enrolled_names_them(store: Store) -> None:
    with store.unit_of_work() as uow:
        welcome(uow, due=at(days=1))
        uow.contacts.add(Contact(name="Bo Ray", email="bo@example.com"))
        result = diagnose(uow, "Welcome", "bo@example.com", at=at(hours=1))
    assert result.contact == "bo@example.com"
    assert result.answer.check is Check.NOT_ENROLLED
    assert result.answer.message == "Bo Ray <bo@example.com> is not enrolled in 'Welcome'."
    assert result.answer.fix.startswith(FIX_ENROLL)
    assert "click Enroll and pick Bo Ray" in result.answer.fix


# -- 3. is the step waiting on you? ------------------------------------------------------------


def test_waiting_on_you_names_the_draft_and_since_when(store: Store) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, due=T0)
        draft, item = drafted(uow, ids, when=at(30))
        result = diagnose(uow, "Welcome", "ann@example.com", at=at(hours=3))
    assert result.answer.check is Check.WAITING_ON_YOU
    assert result.answer.message == (
        f"Draft {draft} of step s1 'Say hello' for Ann Lee has waited for your OK in Needs "
        f"attention (item {item}) since 2025-01-06 09:30 UTC (2 h 30 min ago)."
    )
    assert result.answer.fix == FIX_NEEDS_ATTENTION


def test_waiting_on_you_for_the_sequence_counts_drafts_and_names_the_oldest(
    store: Store,
) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, due=T0)
        bo = uow.contacts.add(Contact(name="Bo Ray", email="bo@example.com"))
        assert bo.id is not None
        second = uow.enrollments.add(ids.sequence, bo.id, T0, current_step_id="s1", next_due_at=T0)
        draft, item = drafted(uow, ids, when=at(30))
        drafted(uow, Ids(sequence=ids.sequence, contact=bo.id, enrollment=second.id,
                         teammate=ids.teammate), when=at(45))
        result = diagnose(uow, "Welcome", at=at(hours=1))
    assert result.answer.check is Check.WAITING_ON_YOU
    assert result.answer.message == (
        f"2 drafts of 'Welcome' wait for your OK in Needs attention; the oldest, draft {draft} "
        f"of step s1 'Say hello' for Ann Lee (item {item}), since 2025-01-06 09:30 UTC "
        "(30 min ago)."
    )


def test_one_draft_waiting_for_the_sequence_is_singular(store: Store) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, due=T0)
        draft, item = drafted(uow, ids, when=at(30))
        result = diagnose(uow, "Welcome", at=at(hours=1))
    assert result.answer.message == (
        f"1 draft of 'Welcome' waits for your OK in Needs attention; the oldest, draft {draft} "
        f"of step s1 'Say hello' for Ann Lee (item {item}), since 2025-01-06 09:30 UTC "
        "(30 min ago)."
    )


@pytest.mark.parametrize(("people", "text"), [(1, "1 step is being drafted"),
                                              (2, "2 steps are being drafted")])
def test_steps_being_drafted_agree_in_number(store: Store, people: int, text: str) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, due=T0)
        others = [ids]
        if people == 2:
            bo = uow.contacts.add(Contact(name="Bo Ray", email="bo@example.com"))
            assert bo.id is not None
            second = uow.enrollments.add(ids.sequence, bo.id, T0, current_step_id="s1",
                                         next_due_at=T0)
            others.append(Ids(sequence=ids.sequence, contact=bo.id, enrollment=second.id,
                              teammate=ids.teammate))
        for who in others:
            uow.tasks.add(kind="step", thread_id=f"enr-{who.enrollment}-s1",
                         contact_id=who.contact, teammate_id=who.teammate, at=at(15),
                         enrollment_id=who.enrollment, sequence_id=who.sequence,
                         step_id="s1", status="working")
        result = diagnose(uow, "Welcome", at=at(40))
    assert result.answer.check is Check.SCHEDULE
    assert result.answer.message.startswith(f"{text}, the oldest since")


@pytest.mark.parametrize(("paused", "text"), [(1, "1 person is paused without a reply"),
                                              (2, "2 people are paused without a reply")])
def test_people_paused_by_hand_agree_in_number(store: Store, paused: int, text: str) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, step="s3", due=at(days=3))
        assert ids.enrollment is not None
        enrollments = [ids.enrollment]
        if paused == 2:
            bo = uow.contacts.add(Contact(name="Bo Ray", email="bo@example.com"))
            assert bo.id is not None
            second = uow.enrollments.add(ids.sequence, bo.id, T0, current_step_id="s3",
                                next_due_at=at(days=3))
            assert second.id is not None
            enrollments.append(second.id)
        for enrollment in enrollments:
            uow.enrollments.update(enrollment, status=EnrollmentStatus.PAUSED,
                                  paused_at=at(hours=1))
        result = diagnose(uow, "Welcome", at=at(hours=2))
    assert result.answer.check is Check.REPLIED
    assert result.answer.message == f"{text}; no one is active."


# -- 4. did the person reply? ------------------------------------------------------------------


def test_reply_pauses_the_person_and_names_when(store: Store) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, step="s3", due=at(days=3))
        item = replied(uow, ids, when=at(days=1, hours=5, minutes=2))
        result = diagnose(uow, "Welcome", "ann@example.com", at=at(days=2))
    assert result.answer.check is Check.REPLIED
    assert result.answer.message == (
        "Ann Lee replied at 2025-01-07 14:02 UTC (18 h 58 min ago), so 'Welcome' is paused "
        "for them since 2025-01-07 14:02 UTC (18 h 58 min ago); their reply waits in Needs "
        f"attention (item {item})."
    )
    assert result.answer.fix.startswith(FIX_REPLIED)
    assert "resume them" in result.answer.fix


def test_replies_for_the_sequence_count_who_is_paused(store: Store) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, step="s3", due=at(days=3))
        replied(uow, ids, when=at(hours=4))
        result = diagnose(uow, "Welcome", at=at(hours=5))
    assert result.answer.check is Check.REPLIED
    assert result.answer.status is FindingStatus.PROBLEM
    assert result.answer.message == (
        "1 person replied and is paused: Ann Lee (replied 2025-01-06 13:00 UTC); "
        "no one is active."
    )


# -- 5. give it a moment: the schedule ---------------------------------------------------------


def test_schedule_gives_next_due_time_and_next_tick_from_run_start(store: Store) -> None:
    with store.unit_of_work() as uow:
        record_run(uow, run_meta(at(7), tick_minutes=15))
        welcome(uow, step="s3", due=at(days=3, minutes=5))
        result = diagnose(uow, "Welcome", "ann@example.com", at=at(days=1))
    assert result.tick_minutes == 15
    assert result.answer.check is Check.SCHEDULE
    assert result.answer.status is FindingStatus.INFO
    # Ticks fall at 09:07, 09:22, ...: the first at or after 09:05 on the 9th is 09:07.
    assert result.answer.message == (
        "Step s3 'Follow up' for Ann Lee is due at 2025-01-09 09:05 UTC (in 2 d 5 min); "
        "the scheduler picks it up at the tick at 2025-01-09 09:07 UTC."
    )
    assert result.answer.fix == FIX_GIVE_IT_A_MOMENT


def test_schedule_during_a_wait_ticks_from_the_hour_without_a_run_start(store: Store) -> None:
    with store.unit_of_work() as uow:
        welcome(uow, step="s2", due=at(days=3, minutes=5))
        result = diagnose(uow, "Welcome", "ann@example.com", at=at(days=1), tick_minutes=20)
    assert result.answer.check is Check.SCHEDULE
    assert result.answer.message == (
        "Ann Lee is waiting in step s2 'Wait 3 days' until 2025-01-09 09:05 UTC (in 2 d 5 min); "
        "the next step is picked up at the first tick after that, 2025-01-09 09:20 UTC."
    )


def test_overdue_step_is_picked_up_at_the_next_tick(store: Store) -> None:
    with store.unit_of_work() as uow:
        welcome(uow, due=at(3))
        result = diagnose(uow, "Welcome", "ann@example.com", at=at(15))
    # No meta: a 15-minute tick from the top of the hour; 09:15 itself has passed.
    assert result.answer.message == (
        "Step s1 'Say hello' for Ann Lee has been due since 2025-01-06 09:03 UTC (12 min ago); "
        "the scheduler picks it up at the next tick, 2025-01-06 09:30 UTC."
    )


def test_teammate_still_drafting_is_part_of_the_schedule(store: Store) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, due=T0)
        task = uow.tasks.add(
            kind="step", thread_id="enr-1-s1", contact_id=ids.contact, teammate_id=ids.teammate,
            at=at(15), enrollment_id=ids.enrollment, sequence_id=ids.sequence, step_id="s1",
            status="working",
        )
        result = diagnose(uow, "Welcome", "ann@example.com", at=at(40))
    assert result.answer.check is Check.SCHEDULE
    assert result.answer.status is FindingStatus.INFO
    assert result.answer.message == (
        f"Ada has been drafting step s1 'Say hello' for Ann Lee (task {task}) since "
        "2025-01-06 09:15 UTC (25 min ago); the draft lands in Needs attention once it has "
        "been reviewed."
    )
    assert result.answer.fix == FIX_GIVE_IT_A_MOMENT


def test_schedule_for_the_sequence_gives_the_earliest_due_time(store: Store) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, step="s3", due=at(days=3))
        bo = uow.contacts.add(Contact(name="Bo Ray", email="bo@example.com"))
        assert bo.id is not None
        uow.enrollments.add(ids.sequence, bo.id, T0, current_step_id="s3", next_due_at=at(days=2))
        result = diagnose(uow, "Welcome", at=at(days=1))
    assert result.answer.check is Check.SCHEDULE
    assert result.answer.message == (
        "The next due is step s3 'Follow up' for Bo Ray, at 2025-01-08 09:00 UTC "
        "(in 1 d); the scheduler picks it up at the tick at 2025-01-08 09:00 UTC."
    )


# -- ended enrollments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "fix"),
    [
        (EnrollmentStatus.BOUNCED,
         "A message to ann@example.com bounced at 2025-01-06 10:00 UTC (1 h ago) "
         "(step s1 'Say hello'), so the enrollment ended.",
         "Check the address (ann@example.com)"),
        (EnrollmentStatus.UNSUBSCRIBED,
         "Ann Lee unsubscribed at 2025-01-06 10:00 UTC (1 h ago) (step s1 'Say hello'), "
         "so the enrollment ended.",
         "They asked not to be contacted"),
        (EnrollmentStatus.COMPLETED,
         "Ann Lee completed 'Welcome': every step has run.",
         "enroll them into another sequence"),
    ],
)
def test_ended_enrollment_names_the_reason_and_its_fix(
    store: Store, status: EnrollmentStatus, message: str, fix: str
) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow)
        assert ids.enrollment is not None
        if status is not EnrollmentStatus.COMPLETED:
            kind = "bounce" if status is EnrollmentStatus.BOUNCED else "unsubscribe"
            uow.replies.add(contact_id=ids.contact, kind=kind, at=at(hours=1),
                          enrollment_id=ids.enrollment)
        uow.enrollments.update(ids.enrollment, status=status, ended_reason=status.value,
                              current_step_id=None if status is EnrollmentStatus.COMPLETED
                              else "s1")
        result = diagnose(uow, "Welcome", "ann@example.com", at=at(hours=2))
    assert result.findings[-1] is result.answer
    assert result.answer.check is Check.ENDED
    assert result.answer.message == message
    assert fix in result.answer.fix


def test_ended_for_the_sequence_counts_reasons(store: Store) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow)
        assert ids.enrollment is not None
        uow.enrollments.update(ids.enrollment, status=EnrollmentStatus.COMPLETED,
                              current_step_id=None)
        result = diagnose(uow, "Welcome", at=at(hours=2))
    assert result.answer.check is Check.ENDED
    assert result.answer.message == "The only enrollment has ended: 1 completed."


# -- the moment asked about --------------------------------------------------------------------


def test_items_after_at_are_ignored(store: Store) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, due=at(10))
        _, item = drafted(uow, ids, when=at(hours=2))
        replied(uow, ids, when=at(hours=5))
        uow.attention.resolve(item, status="withdrawn", at=at(hours=5))  # the reply withdrew it
        before = diagnose(uow, "Welcome", "ann@example.com", at=at(hours=1))
        between = diagnose(uow, "Welcome", "ann@example.com", at=at(hours=3))
        after = diagnose(uow, "Welcome", "ann@example.com", at=at(hours=6))
    # At 10:00 the task (created 10:40) did not exist yet: the step was just overdue.
    assert before.answer.check is Check.SCHEDULE
    assert "has been due since 2025-01-06 09:10 UTC" in before.answer.message
    assert between.answer.check is Check.WAITING_ON_YOU
    assert after.answer.check is Check.REPLIED


def test_an_end_after_at_is_undone(store: Store) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, due=at(10))
        assert ids.enrollment is not None
        uow.replies.add(contact_id=ids.contact, kind="bounce", at=at(hours=2),
                      enrollment_id=ids.enrollment)
        uow.enrollments.update(ids.enrollment, status=EnrollmentStatus.BOUNCED,
                              ended_reason="bounced")
        earlier = diagnose(uow, "Welcome", "ann@example.com", at=at(hours=1))
        later = diagnose(uow, "Welcome", "ann@example.com", at=at(hours=3))
    assert earlier.answer.check is Check.SCHEDULE
    assert earlier.findings[-1].message == "Ann Lee's enrollment has not ended."
    assert later.answer.check is Check.ENDED


def sent(step_id: str, message_id: int) -> MessageSent:
    """Message ``message_id`` of step ``step_id`` went out."""
    return MessageSent(message_id=message_id, step_id=step_id, channel="email",
                       index=message_id - 1, teammate="Ada", follow_up=message_id > 1,
                       contact_timezone="UTC")


def test_the_event_log_rewinds_an_enrollment_to_at(store: Store) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow)
        assert ids.enrollment is not None
        log = {"sequence_id": ids.sequence, "enrollment_id": ids.enrollment,
               "contact_id": ids.contact}
        log_event(uow, EnrollmentCreated(step_id="s1"), T0, **log)
        log_event(uow, StepDue(step_id="s1"), T0, **log)
        log_event(uow, sent("s1", 1), at(hours=1), **log)
        log_event(uow, WaitStarted(step_id="s2", minutes=3 * 1440,
                                   until=at(days=3, hours=1).isoformat()), at(hours=1), **log)
        log_event(uow, StepDue(step_id="s3"), at(days=3, hours=1), **log)
        log_event(uow, sent("s3", 2), at(days=3, hours=2), **log)
        log_event(uow, EnrollmentEnded(status="completed", reason="completed"),
                  at(days=3, hours=2), kind=EventKind.ENROLLMENT_COMPLETED, **log)
        # The row shows the end state only.
        uow.enrollments.update(ids.enrollment, status=EnrollmentStatus.COMPLETED,
                              current_step_id=None, ended_reason="completed")
        during = diagnose(uow, "Welcome", "ann@example.com", at=at(days=1))
        done = diagnose(uow, "Welcome", "ann@example.com")
    assert during.answer.check is Check.SCHEDULE
    assert during.answer.message.startswith(
        "Ann Lee is waiting in step s2 'Wait 3 days' until 2025-01-09 10:00 UTC (in 2 d 1 h)"
    )
    assert done.at == at(days=3, hours=2)
    assert done.answer.message == (
        "Ann Lee completed 'Welcome' at 2025-01-09 11:00 UTC (now): every step has run."
    )


def test_at_defaults_to_the_last_event(store: Store) -> None:
    with store.unit_of_work() as uow:
        welcome(uow, due=at(days=1))
        log_event(uow, started(), T0)
        log_event(uow, MARK, at(hours=4))
        result = diagnose(uow, "Welcome")
    assert result.at == at(hours=4)


def test_sequence_that_did_not_exist_yet_is_not_found(store: Store) -> None:
    with store.unit_of_work() as uow:
        welcome(uow)
        with pytest.raises(NotFoundError, match=r"did not exist yet.*diagnose a later moment"):
            diagnose(uow, "Welcome", at=at(-5))


# -- all clear, errors and rendering ----------------------------------------------------------


def test_nothing_pending_is_all_clear(store: Store) -> None:
    with store.unit_of_work() as uow:
        welcome(uow, step=None)
        result = diagnose(uow, "Welcome", "Ann Lee", at=at(hours=1))
    assert result.answer is result.findings[-1]
    assert result.answer.check is Check.ALL_CLEAR
    assert result.answer.fix == FIX_STILL_STUCK


def test_missing_sequence_raises_with_the_fix(store: Store) -> None:
    with store.unit_of_work() as uow:
        welcome(uow)
        with pytest.raises(NotFoundError, match=r"no sequence with name 'Hello'.*'Welcome'"):
            diagnose(uow, "Hello", at=at(1))


def test_missing_contact_raises_with_the_fix(store: Store) -> None:
    with store.unit_of_work() as uow:
        welcome(uow)
        with pytest.raises(NotFoundError, match=r"no contact 'x@example\.com'.*use Enroll"):
            diagnose(uow, "Welcome", "x@example.com", at=at(1))


def test_naive_at_is_refused(store: Store) -> None:
    with store.unit_of_work() as uow:
        welcome(uow)
        with pytest.raises(ValueError, match="timezone-aware"):
            diagnose(uow, "Welcome", at=datetime(2025, 1, 6, 12, 0))


def test_render_prints_the_numbered_checklist(store: Store) -> None:
    with store.unit_of_work() as uow:
        ids = welcome(uow, due=T0)
        draft, item = drafted(uow, ids, when=at(30))
        text = render(diagnose(uow, "Welcome", "ann@example.com", at=at(hours=3)))
    assert text == f"""\
Why isn't 'Welcome' sending for ann@example.com? (as of 2025-01-06 12:00 UTC, tick 15 min)
1. [ok] Is the sequence active? 'Welcome' has been active since 2025-01-06 09:00 UTC (3 h ago).
2. [ok] Did you enroll them? Ann Lee has been enrolled since 2025-01-06 09:00 UTC (3 h ago); \
they are at step s1 'Say hello' (active).
3. [problem] Is the step waiting on you? Draft {draft} of step s1 'Say hello' for Ann Lee has \
waited for your OK in Needs attention (item {item}) since 2025-01-06 09:30 UTC (2 h 30 min ago).
   Fix: Open Needs attention — the next message may be drafted and waiting for your OK.
4. [ok] Did the person reply? Ann Lee has not replied.
5. [ok] Is it the schedule? The next message to Ann Lee is drafted; it waits on you, not on \
the schedule.
6. [ok] Has the enrollment ended? Ann Lee's enrollment has not ended.
Answer: 3. Is the step waiting on you? Open Needs attention — the next message may be drafted \
and waiting for your OK."""


# -- the run's closing minute -------------------------------------------------------------------


def test_at_the_end_of_a_run_the_tick_at_its_closing_minute_is_still_to_come(
    store: Store,
) -> None:
    with store.unit_of_work() as uow:
        record_run(uow, run_meta(T0))
        welcome(uow, due=at(hours=3, minutes=56))
        log_event(uow, started(), T0)
        log_event(uow, ended(), at(hours=4))
        result = diagnose(uow, "Welcome", "ann@example.com")
    assert result.at == at(hours=4)
    assert result.answer.message == (
        "Step s1 'Say hello' for Ann Lee has been due since 2025-01-06 12:56 UTC (4 min ago); "
        "the scheduler picks it up at the next tick, 2025-01-06 13:00 UTC."
    )


def test_the_run_end_is_found_when_event_numbers_have_a_gap(store: Store) -> None:
    # The log's seq numbers need not run 1..count(): with one missing, the run's end used to
    # be looked for at the wrong place, and the closing tick was taken as already run.
    with store.unit_of_work() as uow:
        record_run(uow, run_meta(T0))
        welcome(uow, due=at(hours=3, minutes=56))
        first = log_event(uow, started(), T0)
        log_event(uow, MARK, at(hours=1))
        log_event(uow, ended(), at(hours=4))
        uow.events.flush()
        uow._session.execute(delete(EventRow).where(EventRow.seq == first))
        result = diagnose(uow, "Welcome", "ann@example.com")
    assert result.at == at(hours=4)
    assert result.answer.message.endswith("picks it up at the next tick, 2025-01-06 13:00 UTC.")


def test_mid_run_the_tick_at_at_has_run(store: Store) -> None:
    with store.unit_of_work() as uow:
        record_run(uow, run_meta(T0))
        welcome(uow, due=at(hours=3, minutes=56))
        log_event(uow, started(), T0)
        log_event(uow, MARK, at(hours=4))
        result = diagnose(uow, "Welcome", "ann@example.com")
    assert result.answer.message.endswith("picks it up at the next tick, 2025-01-06 13:15 UTC.")


def test_a_store_with_part_of_a_runs_meta_still_answers() -> None:
    """Reports read the run's meta key by key: a store holding only ``run.tick_minutes`` still
    names a missing sequence (not "pass tick_minutes="), and the human's zone falls back to
    UTC."""
    from teamsim.reports import human_timezone

    store = Store.open("sqlite://")
    with store.unit_of_work() as uow:
        uow.meta.set("run.tick_minutes", "30")
        with pytest.raises(NotFoundError):
            diagnose(uow, "Nope", tick_minutes=30)
        assert human_timezone(uow) == "UTC"
