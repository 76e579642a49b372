"""The one fold: the enrollment state machine read from the event log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from teamsim.model import (
    PAYLOADS,
    BranchTaken,
    BranchWaiting,
    DraftFailed,
    EnrollmentCreated,
    EnrollmentEnded,
    EnrollmentHistory,
    EnrollmentMoved,
    EnrollmentPaused,
    EnrollmentResumed,
    EnrollmentStatus,
    EventKind,
    EventRecord,
    Failure,
    Folder,
    MessageOpened,
    MessageSent,
    Payload,
    Phase,
    ReplyReceived,
    StepDue,
    StepParked,
    StepSkipped,
    WaitDone,
    WaitStarted,
    fold,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Log:
    """An event log built from payload objects, so every key the fold reads is a real one."""

    def __init__(self) -> None:
        self.events: list[EventRecord] = []

    def add(self, minute: int, payload: Payload, *, kind: EventKind | None = None,
            enrollment: int | None = 1, task: int | None = None) -> Log:
        self.events.append(EventRecord(
            seq=len(self.events) + 1, at=T0 + timedelta(minutes=minute),
            type=kind or payload.KIND, sequence_id=1, enrollment_id=enrollment, contact_id=1,
            task_id=task, payload=payload.to_payload()))
        return self

    def sent(self, minute: int, step: str, message: int) -> Log:
        return self.add(minute, MessageSent(
            message_id=message, step_id=step, channel="email", index=0, teammate="Riley",
            follow_up=False, contact_timezone="UTC"), task=message)

    def wait(self, minute: int, step: str, minutes: int) -> Log:
        until = T0 + timedelta(minutes=minute + minutes)
        return self.add(minute, WaitStarted(step_id=step, minutes=minutes,
                                            until=until.isoformat()))

    def end(self, minute: int, status: EnrollmentStatus, reason: str) -> Log:
        kind = (EventKind.ENROLLMENT_COMPLETED if status is EnrollmentStatus.COMPLETED
                else EventKind.ENROLLMENT_ENDED)
        return self.add(minute, EnrollmentEnded(status=status.value, reason=reason), kind=kind)


def walk() -> Log:
    """Enrolled at s1, sent, waited a day at s2, s3 fell due and went out, completed."""
    log = Log().add(0, EnrollmentCreated(step_id="s1")).add(0, StepDue(step_id="s1"))
    log.sent(30, "s1", 1).wait(30, "s2", 1440).add(1470, WaitDone(step_id="s2"))
    log.add(1470, StepDue(step_id="s3")).sent(1500, "s3", 2)
    return log.end(1500, EnrollmentStatus.COMPLETED, "completed")


def only(log: Log) -> EnrollmentHistory:
    (history,) = fold(log.events).values()
    return history


def test_a_walk_through_every_step_goes_through_each_phase_in_order() -> None:
    history = only(walk())
    assert [s.phase for s in history.states] == [
        Phase.CREATED, Phase.DUE, Phase.SENT, Phase.WAITING, Phase.NEXT, Phase.DUE,
        Phase.SENT, Phase.COMPLETED]
    assert [s.kind for s in history.states][-1] is EventKind.ENROLLMENT_COMPLETED
    assert history.phase is Phase.COMPLETED
    assert history.status is EnrollmentStatus.COMPLETED
    assert (history.step_id, history.due_at) == (None, None)
    assert history.ended_at == T0 + timedelta(minutes=1500)
    assert history.ended_reason == "completed"
    assert history.ended


def test_a_walk_records_its_waits_due_steps_and_sends() -> None:
    history = only(walk())
    assert [(d.step_id, d.at) for d in history.due] == [
        ("s1", T0), ("s3", T0 + timedelta(minutes=1470))]
    (wait,) = history.waits
    assert (wait.step_id, wait.until) == ("s2", T0 + timedelta(minutes=1470))
    assert [(s.step_id, s.message_id, s.task_id) for s in history.sends] == [
        ("s1", 1, 1), ("s3", 2, 2)]
    assert history.sent_count("s1") == 1
    assert history.sent_count("s2") == 0
    assert history.created_at == T0


def test_the_state_now_follows_the_store_columns_step_by_step() -> None:
    log = Log().add(0, EnrollmentCreated(step_id="s1"))
    assert (only(log).step_id, only(log).due_at) == ("s1", None)
    log.add(5, StepDue(step_id="s1"))
    assert (only(log).step_id, only(log).due_at) == ("s1", T0 + timedelta(minutes=5))
    log.sent(10, "s1", 1)
    assert (only(log).step_id, only(log).due_at) == ("s1", None)
    log.wait(10, "s2", 60)
    assert (only(log).step_id, only(log).due_at) == ("s2", T0 + timedelta(minutes=70))
    assert only(log).wait_until == T0 + timedelta(minutes=70)


def test_a_reply_pauses_the_person_until_resumed() -> None:
    log = walk()
    del log.events[-1]
    log.add(1600, ReplyReceived(kind="reply", reply_id=1, message_id=2, attention_id=4))
    log.add(1600, EnrollmentPaused(reason="replied", step_id=None))
    history = only(log)
    assert history.replied
    assert history.status is EnrollmentStatus.PAUSED
    assert history.paused_at == T0 + timedelta(minutes=1600)
    log.add(1700, EnrollmentResumed(by="human", step_id=None))
    history = only(log)
    assert not history.replied
    assert history.status is EnrollmentStatus.ACTIVE
    assert history.paused_at is None
    (pause,) = history.pauses
    assert (pause.reason, pause.resumed_at, pause.resumed_by) == (
        "replied", T0 + timedelta(minutes=1700), "human")
    assert [s.phase for s in history.states][-2:] == [Phase.PAUSED, Phase.RESUMED]


def test_a_draft_failure_is_recorded_and_pauses_through_the_pause_event() -> None:
    log = Log().add(0, EnrollmentCreated(step_id="s1")).add(0, StepDue(step_id="s1"))
    log.add(5, DraftFailed(stage="draft", teammate_id=1, teammate="Riley",
                           reason="rate limited", tries=4, attention_id=1), task=7)
    log.add(5, EnrollmentPaused(reason="draft_failed", step_id="s1"))
    history = only(log)
    assert history.failures == [
        Failure(T0 + timedelta(minutes=5), "s1", "draft", "rate limited", 7)]
    assert history.status is EnrollmentStatus.PAUSED
    assert not history.replied
    assert [s.phase for s in history.states] == [Phase.CREATED, Phase.DUE, Phase.PAUSED]
    assert EventKind.DRAFT_FAILED in Folder.KINDS


def test_an_auto_reply_or_a_bounce_is_not_a_reply() -> None:
    log = walk()
    log.add(1600, ReplyReceived(kind="out_of_office", reply_id=1, message_id=2))
    log.add(1600, ReplyReceived(kind="bounce", message_id=2))
    assert not only(log).replied


def test_a_resume_forgets_the_wait_and_a_move_goes_to_the_new_step() -> None:
    log = Log().add(0, EnrollmentCreated(step_id="s1")).wait(0, "s1", 1440)
    assert only(log).wait_until is not None
    log.add(10, EnrollmentPaused(reason="replied", step_id="s1"))
    log.add(20, EnrollmentResumed(by="human", step_id="s1"))
    assert only(log).wait_until is None
    log.wait(20, "s1", 1440).add(30, EnrollmentMoved(from_="s1", to="s4"))
    history = only(log)
    assert (history.step_id, history.due_at, history.wait_until) == ("s4", None, None)
    assert [(m.from_, m.to) for m in history.moves] == [("s1", "s4")]
    assert history.phase is Phase.MOVED


def test_a_bounce_ends_the_enrollment_where_it_stood() -> None:
    log = Log().add(0, EnrollmentCreated(step_id="s1")).add(0, StepDue(step_id="s1"))
    log.sent(5, "s1", 1).wait(5, "s2", 60)
    log.add(6, ReplyReceived(kind="bounce", message_id=1))
    log.end(6, EnrollmentStatus.BOUNCED, "bounced")
    history = only(log)
    assert history.status is EnrollmentStatus.BOUNCED
    assert history.phase is Phase.ENDED
    assert history.step_id == "s2"
    assert history.ended_reason == "bounced"


def test_branches_parked_and_skipped_steps() -> None:
    log = Log().add(0, EnrollmentCreated(step_id="b1"))
    log.add(0, BranchWaiting(step_id="b1", until_minute=2880))
    assert (only(log).phase, only(log).step_id) == (Phase.WAITING, "b1")
    log.add(60, BranchTaken(step_id="b1", arm="then")).add(60, StepDue(step_id="s2"))
    log.add(60, StepParked(step_id="s2", status="paused"))
    assert (only(log).phase, only(log).due_at) == (Phase.PARKED, T0 + timedelta(minutes=60))
    log.add(90, StepSkipped(step_id="s2"))
    assert (only(log).phase, only(log).due_at) == (Phase.NEXT, None)


def test_fold_until_a_moment_takes_the_events_at_it_and_none_after() -> None:
    log = walk()
    at = T0 + timedelta(minutes=30)
    history = fold(log.events, until=at)[1]
    assert history.phase is Phase.WAITING
    assert [s.at for s in history.states][-1] == at
    assert fold(log.events, until=T0 - timedelta(minutes=1)) == {}


def test_state_at_is_the_last_state_by_then() -> None:
    history = only(walk())
    assert history.state_at(T0 - timedelta(minutes=1)) is None
    state = history.state_at(T0 + timedelta(minutes=100))
    assert state is not None
    assert (state.phase, state.step_id) == (Phase.WAITING, "s2")
    final = history.state_at(T0 + timedelta(days=30))
    assert final is not None
    assert final.phase is Phase.COMPLETED


def test_the_folder_one_event_at_a_time_is_the_fold() -> None:
    log = walk()
    log.add(40, MessageOpened(message_id=1, step_id="s1"))  # not a state event
    log.add(50, StepDue(step_id="x"), enrollment=2)
    folder = Folder()
    touched = [folder.apply(event) for event in log.events]
    assert folder.histories == fold(log.events)
    assert touched[-2] is None  # an open changes no state
    assert touched[-1] is folder.histories[2]
    assert sorted(folder.histories) == [1, 2]


def test_events_without_an_enrollment_are_not_folded() -> None:
    log = Log().add(0, StepDue(step_id="s1"), enrollment=None)
    assert fold(log.events) == {}


def test_the_state_kinds_are_kinds_of_the_vocabulary() -> None:
    assert set(EventKind) >= Folder.KINDS
    assert EventKind.ENROLLMENT_CREATED in Folder.KINDS
    assert EventKind.MESSAGE_OPENED not in Folder.KINDS
    assert all(kind in PAYLOADS for kind in Folder.KINDS)


def test_the_folds_final_states_are_the_stores_after_every_shipped_scenario(
    shipped_runs: dict[str, tuple[tuple[EventRecord, ...], list]],  # type: ignore[type-arg]
) -> None:
    for name, (events, enrollments) in shipped_runs.items():
        histories = fold(events)
        assert sorted(histories) == sorted(e.id for e in enrollments), name
        for row in enrollments:
            history = histories[row.id]
            # ``next_due_at`` is left out: after a send the store keeps the time the step
            # fell due until the next step saves its own; the fold says nothing is due.
            assert (history.status, history.step_id, history.paused_at,
                    history.ended_reason) == (row.status, row.current_step_id, row.paused_at,
                                              row.ended_reason), f"{name}: enrollment {row.id}"
            assert history.sequence_id == row.sequence_id
            assert history.contact_id == row.contact_id
            assert history.created_at == row.enrolled_at


def test_the_metrics_reuse_the_audits_fold_and_agree_without_it(
    shipped_runs: dict[str, tuple[tuple[EventRecord, ...], list]],  # type: ignore[type-arg]
) -> None:
    from teamsim.sim import audit, compute_metrics

    from ..strategies import world as small_world

    events, _ = shipped_runs["replies-pause-people.yaml"]
    world = small_world()
    alone = compute_metrics(events, world, 7 * 1440)
    counters, _ = audit(events)
    assert compute_metrics(events, world, 7 * 1440, invariants=counters) == alone
    assert compute_metrics(list(events), world, 7 * 1440, invariants=counters) == alone
    assert alone["enrolled"] == len(fold(events))
    assert alone["paused_by_reply"] > 0


def test_a_hand_built_wait_without_its_minutes_is_folded_without_an_end() -> None:
    """Logs not written by the simulator (``append_raw``, hand-built) may lack fields the
    simulator always writes: the fold reads them tolerantly, as diagnose's replay did."""
    log = Log().add(0, EnrollmentCreated(step_id="s1"))
    log.events.append(EventRecord(
        seq=2, at=T0, type=EventKind.WAIT_STARTED, sequence_id=1, enrollment_id=1,
        contact_id=1, payload={"step_id": "s1", "until": (T0 + timedelta(days=1)).isoformat()}))
    history = only(log)
    assert history.step_id == "s1"
    assert history.due_at == T0 + timedelta(days=1)
    assert history.wait_until is None
