"""The campaign simulator's behaviours, one per test, asserted on the event log and the store.

Every world here is deterministic where it matters: personas that always (or never) react with
fixed delays, and an approver who approves every draft. The default world starts on Monday
2026-03-02 at 08:00 UTC; the approver checks in at 09:00, 13:00 and 17:00 UTC on workdays
(minutes 60, 300 and 540 of the first day). Drafting takes 15 minutes and review 4, so a step
picked up at minute m lands in Needs attention at m + 19; a decision takes 2 minutes; an
approved message goes out on the scheduler's next tick (every 15 minutes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from teamsim.assembly import simulation
from teamsim.sim import SimulationResult, World
from teamsim.store import EventRecord

from ..strategies import QUIET, REPLIER, WELCOME, world

DAY = 1440


def person(name: str, persona: str = "quiet", *, enroll_in: tuple[str, ...] = ("Welcome",),
           **extra: Any) -> dict[str, Any]:
    """A contact spec: ``name`` (one word) gets ``<name>@example.com``."""
    return {"name": f"{name} Lee", "email": f"{name.lower()}@example.com", "persona": persona,
            "enroll_in": list(enroll_in), **extra}


@pytest.fixture
def simulate() -> Iterator[Any]:
    """Run a world (seed 1) and close its store afterwards; asserts no invariant broke."""
    runs: list[SimulationResult] = []

    def go(w: World, seed: int = 1) -> SimulationResult:
        result = simulation(w, seed=seed).run(check=False)
        runs.append(result)
        assert result.violations == ()
        return result

    yield go
    for result in runs:
        result.store.close()


def minute(result: SimulationResult, event: EventRecord) -> int:
    """The simulated minute of ``event``."""
    return int((event.at - result.world.start_utc).total_seconds() // 60)


def when(result: SimulationResult, kind: str, /, **match: Any) -> list[int]:
    """Minutes of the events of type ``kind`` whose payload (or ids) match ``match``."""
    return [minute(result, e) for e in select(result, kind, **match)]


def select(result: SimulationResult, kind: str, /, **match: Any) -> list[EventRecord]:
    """Events of type ``kind`` whose payload (or ``enrollment_id``/``task_id``) match."""
    found = []
    for event in result.events:
        if event.type != kind:
            continue
        fields = {**event.payload, "enrollment_id": event.enrollment_id,
                  "task_id": event.task_id}
        if all(fields.get(k) == v for k, v in match.items()):
            found.append(event)
    return found


def enrollment_of(result: SimulationResult, email: str) -> int:
    """The enrollment id of the contact with ``email`` (enrolled in one sequence)."""
    with result.store.unit_of_work() as uow:
        contact = uow.contacts.get(email)
        (enrollment,) = [e for e in uow.enrollments.list() if e.contact_id == contact.id]
        assert enrollment.id is not None
        return enrollment.id


# ---------------------------------------------------------------------------------------------
# walking steps


def test_enrollment_walks_message_wait_message(simulate: Any) -> None:
    result = simulate(world(contacts=[person("Ann")]))
    assert when(result, "step.due", step_id="s1") == [0]
    assert when(result, "attention.opened") == [19, 2974]
    assert when(result, "message.sent", step_id="s1") == [75]
    assert when(result, "wait.started", step_id="s2", minutes=2 * DAY) == [75]
    assert when(result, "wait.done", step_id="s2") == [75 + 2 * DAY]
    assert when(result, "message.sent", step_id="s3", follow_up=True) == [3195]
    assert when(result, "enrollment.completed") == [3195]
    with result.store.unit_of_work() as uow:
        (enrollment,) = uow.enrollments.list()
        assert enrollment.status.value == "completed"
        assert [(m.step_id, m.status) for m in uow.messages.list()] == [
            ("s1", "sent"), ("s3", "sent")]


def test_a_wait_waits_its_days_before_the_next_step(simulate: Any) -> None:
    seq = {**WELCOME, "steps": [*WELCOME["steps"][:1],
                                {"kind": "wait", "id": "s2", "days": 1, "hours": 6},
                                WELCOME["steps"][2]]}
    result = simulate(world(sequences=[seq], contacts=[person("Ann")]))
    (sent,) = when(result, "message.sent", step_id="s1")
    assert when(result, "step.due", step_id="s3") == [sent + DAY + 6 * 60]


def test_scheduler_tick_delays_due_steps(simulate: Any) -> None:
    w = world(settings={"tick_minutes": 60},
              contacts=[person("Ann", enroll_at=1 / DAY), person("Bob", enroll_at=61 / DAY)])
    result = simulate(w)
    ann, bob = enrollment_of(result, "ann@example.com"), enrollment_of(result, "bob@example.com")
    assert when(result, "step.due", enrollment_id=ann, step_id="s1") == [1]
    assert when(result, "task.started", step_id="s1", enrollment_id=ann) == [60]
    assert when(result, "step.due", step_id="s1", enrollment_id=bob) == [61]
    assert when(result, "task.started", step_id="s1", enrollment_id=bob) == [120]


def test_approved_message_goes_out_on_the_next_tick(simulate: Any) -> None:
    result = simulate(world(contacts=[person("Ann")]))
    assert when(result, "message.queued") == [62, 3182]
    assert when(result, "message.sent") == [75, 3195]


def test_draft_sequence_does_not_run(simulate: Any) -> None:
    result = simulate(world(sequences=[{**WELCOME, "status": "draft"}],
                            contacts=[person("Ann")]))
    assert when(result, "step.parked", step_id="s1", status="draft") == [0]
    assert select(result, "task.started") == []
    assert select(result, "message.sent") == []


def test_draft_sequence_runs_once_activated(simulate: Any) -> None:
    w = world(sequences=[{**WELCOME, "status": "draft"}], contacts=[person("Ann")],
              timeline=[{"action": "activate", "at": 0.25, "sequence": "Welcome"}])
    result = simulate(w)
    assert when(result, "sequence.activated") == [360]
    assert when(result, "task.started", step_id="s1") == [360]
    assert when(result, "message.sent", step_id="s1") == [555]


def test_branch_on_attribute_takes_the_matching_arm(simulate: Any) -> None:
    seq = {"name": "Welcome", "status": "active", "steps": [
        {"kind": "branch", "id": "s1",
         "condition": {"kind": "attribute", "field": "attributes.tier", "value": "gold"},
         "then_steps": [{"kind": "message", "id": "s2"}],
         "else_steps": [{"kind": "message", "id": "s3"}]}]}
    w = world(sequences=[seq], contacts=[person("Ann", attributes={"tier": "gold"}),
                                         person("Bob", attributes={"tier": "tin"})])
    result = simulate(w)
    ann, bob = enrollment_of(result, "ann@example.com"), enrollment_of(result, "bob@example.com")
    assert when(result, "branch.taken", enrollment_id=ann, arm="then") == [0]
    assert when(result, "branch.taken", enrollment_id=bob, arm="else") == [0]
    assert [e.payload["step_id"] for e in select(result, "message.sent")] == ["s2", "s3"]


def test_branch_on_not_opened_waits_for_the_window_or_the_open(simulate: Any) -> None:
    """Ann never opens: decided when the window closes. Bob opens after an hour: decided
    then, without waiting for the rest of the window."""
    seq = {"name": "Welcome", "status": "active", "steps": [
        {"kind": "message", "id": "s1"},
        {"kind": "branch", "id": "s2",
         "condition": {"kind": "engagement", "step_id": "s1", "event": "not_opened",
                       "within_days": 2},
         "then_steps": [{"kind": "message", "id": "s3"}],
         "else_steps": [{"kind": "message", "id": "s4"}]}]}
    opener = {"name": "opener", "open": 1.0, "open_delay": {"dist": "fixed", "hours": 1},
              "click": 0, "reply": 0}
    w = world(sequences=[seq], personas=[QUIET, opener],
              contacts=[person("Ann"), person("Bob", "opener")])
    result = simulate(w)
    ann, bob = enrollment_of(result, "ann@example.com"), enrollment_of(result, "bob@example.com")
    window_end = 75 + 2 * DAY
    assert [e.payload["until_minute"] for e in select(result, "branch.waiting")] == [
        window_end, window_end]
    assert when(result, "message.opened", enrollment_id=bob, step_id="s1") == [135]
    assert when(result, "branch.taken", enrollment_id=ann, arm="then") == [window_end]
    assert when(result, "branch.taken", enrollment_id=bob, arm="else") == [135]
    assert when(result, "step.due", enrollment_id=ann, step_id="s3") == [window_end]
    assert when(result, "step.due", enrollment_id=bob, step_id="s4") == [135]


def test_branch_on_clicked_after_the_window_is_decided_at_once(simulate: Any) -> None:
    seq = {"name": "Welcome", "status": "active", "steps": [
        {"kind": "message", "id": "s1"}, {"kind": "wait", "id": "s2", "days": 1},
        {"kind": "branch", "id": "s3",
         "condition": {"kind": "engagement", "step_id": "s1", "event": "clicked",
                       "within_days": 0.5},
         "then_steps": [{"kind": "message", "id": "s4"}]}]}
    clicker = {"name": "clicker", "open": 1.0, "open_delay": {"dist": "fixed", "hours": 1},
               "click": 1.0, "click_delay": {"dist": "fixed", "hours": 1}, "reply": 0}
    result = simulate(world(sequences=[seq], personas=[QUIET, clicker],
                            contacts=[person("Ann"), person("Bob", "clicker")]))
    ann, bob = enrollment_of(result, "ann@example.com"), enrollment_of(result, "bob@example.com")
    assert when(result, "message.clicked", enrollment_id=bob, step_id="s1") == [75 + 120]
    assert select(result, "branch.waiting") == []
    assert when(result, "branch.taken", enrollment_id=bob, arm="then") == [75 + DAY]
    # An empty else arm moves on past the branch: the end of the sequence.
    assert when(result, "branch.taken", enrollment_id=ann, arm="else") == [75 + DAY]
    assert when(result, "enrollment.completed", enrollment_id=ann) == [75 + DAY]


# ---------------------------------------------------------------------------------------------
# teammates


def test_teammate_capacity_queues_work(simulate: Any) -> None:
    w = world(teammates=[{"name": "Riley", "capacity": 1}, {"name": "Sam", "capacity": 1}],
              contacts=[person("Ann"), person("Bob"), person("Cy")])
    result = simulate(w)
    assert when(result, "step.due", step_id="s1") == [0, 0, 0]
    assert when(result, "task.started", step_id="s1") == [0, 19, 38]
    assert when(result, "attention.opened") [:3] == [19, 38, 57]
    busy = result.events[-1].payload["teammate_busy_minutes"]
    assert busy == {"Riley": 6 * 19, "Sam": 6 * 19}


def test_reviewer_is_never_the_drafter(simulate: Any) -> None:
    w = world(teammates=[{"name": "Ada"}, {"name": "Bo"}, {"name": "Cy"}],
              sequences=[{**WELCOME, "teammate": "Bo"},
                         {**WELCOME, "name": "Other", "teammate": "Cy"}],
              contacts=[person(n, enroll_in=("Welcome", "Other")) for n in ("Ann", "Bob")],
              timeline=[{"action": "chat", "at": 0.1, "contact": "ann@example.com",
                         "text": "Say thanks."}])
    result = simulate(w)
    started = select(result, "task.started")
    assert len(started) == 9
    assert all(e.payload["drafter_id"] != e.payload["reviewer_id"] for e in started)
    with result.store.unit_of_work() as uow:
        names = {t.id: t.name for t in uow.teammates.list()}
        tasks = uow.tasks.list()
        assert all(t.reviewer_id is not None and t.reviewer_id != t.teammate_id for t in tasks)
        assert {names[t.teammate_id] for t in tasks if t.kind == "step"} == {"Bo", "Cy"}
        for task in tasks:
            assert all(r.reviewer_id != task.teammate_id for r in uow.drafts.reviews(task.id))


# ---------------------------------------------------------------------------------------------
# the human


def test_backlog_builds_while_approver_is_away(simulate: Any) -> None:
    w = world(contacts=[person(n) for n in ("Ann", "Bob", "Cy", "Di", "Ed")], days=4,
              approver={"away": [{"start": "2026-03-02", "end": "2026-03-04"}],
                        "max_items_per_session": 2})
    result = simulate(w)
    thursday_9 = 3 * DAY + 60
    assert when(result, "attention.opened") == [19, 19, 38, 38, 57]
    assert when(result, "approver.session_started")[0] == thursday_9
    assert [e.payload["open_items"] for e in select(result, "approver.session_started")][
        :3] == [5, 3, 1]
    assert when(result, "decision.made") == [thursday_9 + 2, thursday_9 + 4, thursday_9 + 242,
                                             thursday_9 + 244, thursday_9 + 482]
    assert result.metrics["attention_peak"] == 5
    assert result.metrics["approval_latency_hours_p50"] == pytest.approx(
        (thursday_9 + 242 - 38) / 60, abs=1e-3)


def test_human_edit_and_reject_follow_the_approver_probabilities(simulate: Any) -> None:
    contacts = [person(f"P{i}") for i in range(6)]
    edited = simulate(world(contacts=contacts, days=1,
                            approver={"approve": 0, "edit": 1.0, "reject": 0}))
    assert {e.payload["action"] for e in select(edited, "decision.made")} == {"edit"}
    assert {e.payload["edited"] for e in select(edited, "message.queued")} == {True}
    assert edited.metrics["edits"] == edited.metrics["sent"] == 6
    rejected = simulate(world(contacts=contacts, days=1,
                              approver={"approve": 0, "edit": 0, "reject": 1.0}))
    assert rejected.metrics["rejections"] == 6
    assert rejected.metrics["sent"] == 0
    # on_reject "skip" (the default): the person moves past the rejected step.
    assert len(select(rejected, "step.skipped", step_id="s1")) == 6


# ---------------------------------------------------------------------------------------------
# contacts and replies


def test_reply_pauses_only_that_person(simulate: Any) -> None:
    result = simulate(world(contacts=[person("Ann", "replier"), person("Bob")]))
    ann, bob = enrollment_of(result, "ann@example.com"), enrollment_of(result, "bob@example.com")
    assert when(result, "reply.received", enrollment_id=ann, kind="reply") == [75 + 120]
    assert when(result, "enrollment.paused", enrollment_id=ann, reason="replied") == [195]
    assert when(result, "wait.done", enrollment_id=ann) == []
    assert when(result, "message.sent", enrollment_id=ann) == [75]
    assert when(result, "message.sent", enrollment_id=bob) == [75, 3195]
    (reply,) = select(result, "reply.received", enrollment_id=ann)
    with result.store.unit_of_work() as uow:
        item = uow.attention.get(reply.payload["attention_id"])
        assert item.kind == "reply"
        assert item.reply_id == reply.payload["reply_id"]
        statuses = {e.id: e.status.value for e in uow.enrollments.list()}
        assert statuses == {ann: "paused", bob: "completed"}


def test_reply_withdraws_a_waiting_draft(simulate: Any) -> None:
    seq = {"name": "Welcome", "status": "active",
           "steps": [{"kind": "message", "id": "s1"}, {"kind": "message", "id": "s2"}]}
    result = simulate(world(sequences=[seq], contacts=[person("Ann", "replier")]))
    # s2 is drafted at 90 + 19 = 109 and waits for the 13:00 session; the reply comes at 195.
    (task,) = select(result, "task.started", step_id="s2")
    assert when(result, "attention.opened", task_id=task.task_id) == [109]
    assert when(result, "task.withdrawn", task_id=task.task_id, reason="replied") == [195]
    assert when(result, "decision.made", task_id=task.task_id) == []
    with result.store.unit_of_work() as uow:
        assert uow.tasks.get(task.task_id).status == "withdrawn"


def test_reply_racing_an_approval_cancels_the_send(simulate: Any) -> None:
    seq = {"name": "Welcome", "status": "active",
           "steps": [{"kind": "message", "id": "s1"}, {"kind": "message", "id": "s2"}]}
    # s2 is approved at 302 and would go out at 315; Ann's reply to s1 comes at 75 + 231 = 306.
    late = {**REPLIER, "reply": [1.0, 0.0], "reply_delay": {"dist": "fixed", "hours": 231 / 60}}
    result = simulate(world(sequences=[seq], personas=[QUIET, late],
                            contacts=[person("Ann", "replier"), person("Bob")]))
    ann = enrollment_of(result, "ann@example.com")
    (task,) = select(result, "task.started", enrollment_id=ann, step_id="s2")
    assert when(result, "message.queued", task_id=task.task_id) == [302]
    assert when(result, "reply.received", enrollment_id=ann) == [306]
    assert when(result, "message.sent", task_id=task.task_id) == []
    assert when(result, "message.cancelled", task_id=task.task_id) != []
    assert when(result, "message.sent", step_id="s2") == [315]  # Bob's
    with result.store.unit_of_work() as uow:
        message = uow.messages.for_task(task.task_id)
        assert message is not None
        assert message.status == "cancelled"
        assert message.sent_at is None
        assert message.cancel_reason == "the person replied"


def test_resume_right_after_a_reply_does_not_send_the_message_approved_before_it(
    simulate: Any,
) -> None:
    seq = {"name": "Welcome", "status": "active",
           "steps": [{"kind": "message", "id": "s1"}, {"kind": "message", "id": "s2"}]}
    late = {**REPLIER, "reply": [1.0, 0.0], "reply_delay": {"dist": "fixed", "hours": 231 / 60}}
    w = world(sequences=[seq], personas=[QUIET, late], contacts=[person("Ann", "replier")],
              timeline=[{"action": "resume", "at": 310 / DAY, "sequence": "Welcome",
                         "contact": "ann@example.com"}])
    result = simulate(w)
    (stale,) = select(result, "message.queued")[1:2]
    assert when(result, "enrollment.resumed", by="timeline") == [310]
    assert when(result, "message.sent", task_id=stale.task_id) == []
    # The resumed person gets a fresh draft of s2, written after the reply.
    assert when(result, "step.due", step_id="s2") == [75, 310]
    fresh = [e for e in select(result, "message.sent", step_id="s2")]
    assert len(fresh) == 1
    assert fresh[0].task_id != stale.task_id


def test_on_reply_resume_policy(simulate: Any) -> None:
    w = world(personas=[QUIET, {**REPLIER, "reply": [1.0, 0.0]}],
              contacts=[person("Ann", "replier")], approver={"on_reply": "resume"})
    result = simulate(w)
    # The reply at 195 is worked in the 13:00 session (300), 5 minutes per reply; the wait
    # starts again from the resume.
    assert when(result, "attention.resolved", kind="reply") == [305]
    assert when(result, "enrollment.resumed", by="human") == [305]
    assert when(result, "wait.started", step_id="s2") == [75, 305]
    assert when(result, "step.due", step_id="s3") == [305 + 2 * DAY]
    assert when(result, "message.sent", step_id="s3") == [3435]


def test_on_reply_end_policy(simulate: Any) -> None:
    result = simulate(world(contacts=[person("Ann", "replier")], approver={"on_reply": "end"}))
    assert when(result, "enrollment.ended", status="ended") == [305]
    with result.store.unit_of_work() as uow:
        (enrollment,) = uow.enrollments.list()
        assert enrollment.status.value == "ended"


def test_timeline_end_stops_a_person(simulate: Any) -> None:
    w = world(contacts=[person("Ann")],
              timeline=[{"action": "end", "at": 1, "sequence": "Welcome",
                         "contact": "ann@example.com"}])
    result = simulate(w)
    assert when(result, "enrollment.ended", reason="ended by the human") == [DAY]
    assert when(result, "message.sent") == [75]
    assert when(result, "wait.done") == []


def test_bounce_and_unsubscribe_end_enrollment(simulate: Any) -> None:
    bouncer = {"name": "bouncer", "bounce": 1.0}
    leaver = {"name": "leaver", "open": 0, "reply": 0, "unsubscribe": 1.0,
              "unsubscribe_delay": {"dist": "fixed", "hours": 1}}
    result = simulate(world(personas=[QUIET, bouncer, leaver],
                            contacts=[person("Ann", "bouncer"), person("Bob", "leaver")]))
    ann, bob = enrollment_of(result, "ann@example.com"), enrollment_of(result, "bob@example.com")
    assert when(result, "reply.received", enrollment_id=ann, kind="bounce") == [76]
    assert when(result, "enrollment.ended", enrollment_id=ann, status="bounced") == [76]
    assert when(result, "reply.received", enrollment_id=bob, kind="unsubscribe") == [135]
    assert when(result, "enrollment.ended", enrollment_id=bob, status="unsubscribed") == [135]
    assert when(result, "message.sent") == [75, 75]
    assert result.metrics["bounced"] == result.metrics["unsubscribed"] == 1
    assert result.metrics["replies"] == 0
    with result.store.unit_of_work() as uow:
        assert {e.id: e.status.value for e in uow.enrollments.list()} == {
            ann: "bounced", bob: "unsubscribed"}
        assert sorted(r.kind for r in uow.replies.list()) == ["bounce", "unsubscribe"]


def test_out_of_office_does_not_pause(simulate: Any) -> None:
    away = {"name": "away", "open": 0, "reply": 0, "out_of_office": 1.0}
    result = simulate(world(personas=[QUIET, away], contacts=[person("Ann", "away")]))
    assert when(result, "reply.received", kind="out_of_office") == [77, 3197]
    assert select(result, "enrollment.paused") == []
    assert result.metrics["replies"] == 0
    assert when(result, "enrollment.completed") == [3195]


def test_reply_chance_by_step_index_and_channel(simulate: Any) -> None:
    seq = {"name": "Welcome", "status": "active", "steps": [
        {"kind": "message", "id": "s1"}, {"kind": "message", "id": "s2", "channel": "sms"},
        {"kind": "message", "id": "s3", "channel": "email"}]}
    picky = {**REPLIER, "reply": [0.0, 1.0], "channel_factors": {"sms": 0.0}}
    result = simulate(world(sequences=[seq], personas=[QUIET, picky],
                            contacts=[person("Ann", "replier")]))
    # Index 0 never replies; index 1 is sms (factor 0); index 2 (the last value repeats) does.
    assert [e.payload["step_id"] for e in select(result, "message.sent")] == ["s1", "s2", "s3"]
    (reply,) = select(result, "reply.received")
    (s3,) = select(result, "message.sent", step_id="s3")
    assert reply.payload["message_id"] == s3.payload["message_id"]


# ---------------------------------------------------------------------------------------------
# sequence pause, activate, edit


def test_pause_during_a_wait_holds_the_step_until_activation(simulate: Any) -> None:
    w = world(contacts=[person("Ann")], days=6,
              timeline=[{"action": "pause", "at": 1, "sequence": "Welcome"},
                        {"action": "activate", "at": 4, "sequence": "Welcome"}])
    result = simulate(w)
    assert when(result, "sequence.paused") == [DAY]
    assert when(result, "wait.done", step_id="s2") == [2955]
    assert when(result, "step.parked", step_id="s3", status="paused") == [2955]
    assert when(result, "task.started", step_id="s3") == [4 * DAY]
    assert when(result, "message.sent", step_id="s3") == [4 * DAY + 75]
    sent_while_paused = [m for m in when(result, "message.sent") if DAY <= m < 4 * DAY]
    assert sent_while_paused == []


def test_pause_holds_an_approved_message(simulate: Any) -> None:
    w = world(contacts=[person("Ann")], days=3,
              timeline=[{"action": "pause", "at": 63 / DAY, "sequence": "Welcome"},
                        {"action": "activate", "at": 1, "sequence": "Welcome"}])
    result = simulate(w)
    assert when(result, "message.queued") == [62]
    catch_up = select(result, "sequence.catch_up")
    assert [(e.payload["steps"], e.payload["messages"]) for e in catch_up] == [(0, 1)]
    assert when(result, "message.sent", step_id="s1") == [DAY]


def test_activation_after_a_long_pause_spreads_the_overdue_steps(simulate: Any) -> None:
    contacts = [person(f"P{i}") for i in range(8)]
    w = world(contacts=contacts, days=9, settings={"catch_up_hours": 24},
              timeline=[{"action": "pause", "at": 1, "sequence": "Welcome"},
                        {"action": "activate", "at": 7, "sequence": "Welcome"}])
    result = simulate(w)
    assert len(when(result, "step.parked", step_id="s3")) == 8
    (catch_up,) = select(result, "sequence.catch_up")
    assert catch_up.payload == {"steps": 8, "messages": 0, "over_minutes": 1440}
    starts = when(result, "task.started", step_id="s3")
    assert starts == [7 * DAY + i * 180 for i in range(8)]


_OFFICE_HOURS = {"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}
_ACTIVATED = 21 * DAY + 9 * 60  # Monday 23 March, 17:00 UTC (the run starts Monday 08:00)


def _long_pause(*, window: bool, zones: tuple[str, ...] = ("UTC",)) -> World:
    """36 people overdue when Welcome is activated on a Monday at 17:00 after a 20-day pause:
    20 first messages approved at the 17:00 session (after the window closed) and held by the
    pause at 20:00, and 16 people enrolled while paused, whose first step is parked."""
    seq = {**WELCOME, "send_window": _OFFICE_HOURS} if window else WELCOME
    contacts = [person(f"P{i}", enroll_at=0.3 if i < 20 else 3 + i * 0.1,
                       timezone=zones[i % len(zones)]) for i in range(36)]
    return world(sequences=[seq], contacts=contacts, days=25,
                 timeline=[{"action": "pause", "at": 0.5, "sequence": "Welcome"},
                           {"action": "activate", "at": _ACTIVATED / DAY,
                            "sequence": "Welcome"}])


def _per_tick(minutes: list[int]) -> Counter[int]:
    """How many of ``minutes`` fall on each minute (each scheduler tick)."""
    return Counter(minutes)


def test_catch_up_spreads_over_the_open_hours_of_the_sending_window(simulate: Any) -> None:
    result = simulate(_long_pause(window=True))
    (catch_up,) = select(result, "sequence.catch_up")
    assert catch_up.payload == {"steps": 16, "messages": 20, "over_minutes": 1440}
    # 36 items over 24 open hours: one every 40 open minutes, so at most one a tick (15 min),
    # from Tuesday 09:00 on, never the whole backlog when the window opens.
    tuesday = 22 * DAY + 60  # 09:00
    sends = _per_tick([m for m in when(result, "message.sent") if m < tuesday + 8 * 60])
    assert max(sends.values()) == 1
    assert sorted(sends) == [tuesday + 15 * -(-i * 40 // 15) for i in range(12)]
    # The parked steps are picked up inside the window too, one a tick at most, after the
    # held messages (the 20th item starts at 800 open minutes: Wednesday 14:20).
    parked = [m for m in when(result, "task.started", step_id="s1") if m >= _ACTIVATED]
    assert len(parked) == 16
    assert max(_per_tick(parked).values()) == 1
    assert min(parked) == tuesday + DAY + 320 + 10  # the first tick after 14:20
    assert all(60 <= m % DAY < 9 * 60 for m in parked)  # 09:00-17:00 UTC


def test_catch_up_over_several_time_zones_is_one_spread(simulate: Any) -> None:
    # Six zones with the same hours in March (UTC+0): the backlog goes out exactly as with one
    # zone, one a tick at most (each zone used to run its own spread: six at the first tick).
    zones = ("UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Atlantic/Reykjavik",
             "Africa/Abidjan")
    one_zone = simulate(_long_pause(window=True))
    six_zones = simulate(_long_pause(window=True, zones=zones))

    def released(result: SimulationResult) -> list[int]:
        tuesday = 22 * DAY + 60  # 09:00, when the window opens after the activation
        held = [m for m in when(result, "message.sent") if tuesday <= m < tuesday + 8 * 60]
        parked = [m for m in when(result, "task.started", step_id="s1") if m >= _ACTIVATED]
        return [*held, *parked]

    assert max(_per_tick(released(six_zones)).values()) == 1
    assert released(six_zones) == released(one_zone)


def test_a_catch_up_far_beyond_the_run_ends_with_the_run(simulate: Any) -> None:
    # A window open one minute a week and a ten-year catch-up: the release walk used to run
    # past year 9999 (OverflowError); now it stops at the run's end, where nothing runs.
    seq = {**WELCOME, "send_window": {"weekdays": [0], "start": "08:00", "end": "08:01"}}
    w = world(sequences=[seq], contacts=[person(f"P{i}") for i in range(3)], days=9,
              settings={"catch_up_hours": 87600},
              timeline=[{"action": "pause", "at": 0.01, "sequence": "Welcome"},
                        {"action": "activate", "at": 2, "sequence": "Welcome"}])
    result = simulate(w)
    (catch_up,) = select(result, "sequence.catch_up")
    assert catch_up.payload["over_minutes"] == 87600 * 60
    assert catch_up.payload["messages"] == 2  # approved while paused, held
    # The first goes out when the window next opens (Monday 08:00, day 7); the next one is
    # 1,752,000 open minutes later, long after the run's end.
    assert [m for m in when(result, "message.sent") if m >= 2 * DAY] == [7 * DAY]


def test_catch_up_without_a_window_spreads_over_clock_hours(simulate: Any) -> None:
    result = simulate(_long_pause(window=False))
    (catch_up,) = select(result, "sequence.catch_up")
    held, parked = catch_up.payload["messages"], catch_up.payload["steps"]
    # With no window half the first messages went out before the pause, and their follow-ups
    # fell due while paused; the other half were approved while paused and held.
    assert (held, parked) == (10, 26)
    sent = [m for m in when(result, "message.sent") if m >= _ACTIVATED][:held]
    started = [m for m in when(result, "task.started") if m >= _ACTIVATED][:parked]
    # The held messages go out every 40 minutes from the activation (on the next tick), then
    # the parked steps are picked up at the same pace: all within 24 clock hours.
    spread = [_ACTIVATED + 15 * -(-i * 40 // 15) for i in range(36)]
    assert sent == spread[:held]
    assert started == spread[held:]
    assert max(_per_tick([*sent, *started]).values()) == 1


def test_edit_removing_current_step_moves_person_to_next_surviving_step_and_withdraws_draft(
    simulate: Any,
) -> None:
    seq = {"name": "Welcome", "status": "active", "steps": [
        {"kind": "message", "id": "s1"}, {"kind": "wait", "id": "s2", "days": 2},
        {"kind": "message", "id": "s3"}, {"kind": "message", "id": "s4"}]}
    w = world(sequences=[seq], contacts=[person("Ann")], days=4,
              timeline=[{"action": "edit", "at": 3000 / DAY, "sequence": "Welcome",
                         "ops": [{"op": "remove", "step": "s3"}]}])
    result = simulate(w)
    (s3_task,) = select(result, "task.started", step_id="s3")
    assert when(result, "attention.opened", task_id=s3_task.task_id) == [2974]
    assert when(result, "task.withdrawn", task_id=s3_task.task_id,
                reason="its step was removed") == [3000]
    assert [e.payload for e in select(result, "enrollment.moved")] == [{"from": "s3", "to": "s4"}]
    assert when(result, "step.due", step_id="s4") == [3000]
    assert [e.payload["step_id"] for e in select(result, "message.sent")] == ["s1", "s4"]
    with result.store.unit_of_work() as uow:
        assert uow.tasks.get(s3_task.task_id).status == "withdrawn"
        versions = uow.sequences.versions(uow.sequences.get("Welcome").id or 0)
        assert [v.version for v in versions][-1] == 2
        assert [s.id for s in uow.sequences.get("Welcome").steps] == ["s1", "s2", "s4"]


def test_edit_removing_the_wait_someone_is_in_moves_them_on(simulate: Any) -> None:
    w = world(contacts=[person("Ann")], days=4,
              timeline=[{"action": "edit", "at": 1, "sequence": "Welcome",
                         "ops": [{"op": "remove", "step": "s2"}]}])
    result = simulate(w)
    assert [e.payload for e in select(result, "enrollment.moved")] == [{"from": "s2", "to": "s3"}]
    assert when(result, "step.due", step_id="s3") == [DAY]
    assert when(result, "wait.done") == []  # the old timer is stale


def test_edit_reorder_continues_from_the_current_step_with_stable_ids(simulate: Any) -> None:
    seq = {"name": "Welcome", "status": "active", "steps": [
        {"kind": "message", "id": "s1"}, {"kind": "wait", "id": "s2", "days": 2},
        {"kind": "message", "id": "s3"}, {"kind": "message", "id": "s4"}]}
    # Move s4 before the wait while Ann waits in s2: she has passed s4's new place.
    w = world(sequences=[seq], contacts=[person("Ann")], days=5,
              timeline=[{"action": "edit", "at": 1, "sequence": "Welcome",
                         "ops": [{"op": "move", "step": "s4", "to": 1}]}])
    result = simulate(w)
    assert select(result, "enrollment.moved") == []
    assert [e.payload["step_id"] for e in select(result, "message.sent")] == ["s1", "s3"]
    assert when(result, "enrollment.completed") == [3195]


def test_enroll_mid_run_from_the_timeline(simulate: Any) -> None:
    w = world(contacts=[person("Ann", enroll_in=())],
              timeline=[{"action": "enroll", "at": 0.5, "sequence": "Welcome",
                         "contacts": ["ann@example.com"]},
                        {"action": "enroll", "at": 0.6, "sequence": "Welcome",
                         "contacts": ["ann@example.com"]}])
    result = simulate(w)
    assert when(result, "enrollment.created") == [720]
    assert when(result, "enrollment.refused", reason="already enrolled") == [864]


# ---------------------------------------------------------------------------------------------
# sending windows and caps


def test_send_window_respects_contact_time_zone_across_dst(simulate: Any) -> None:
    # New York leaves EST (UTC-5) for EDT (UTC-4) on Sunday 2026-03-08. The approver approves
    # at 06:02 UTC (01:02 in New York), so every message waits for 09:00 local.
    ny = ZoneInfo("America/New_York")
    seq = {**WELCOME, "send_window": {"start": "09:00", "end": "17:00"}}
    w = world(sequences=[seq], start="2026-03-05T00:00:00", days=8,
              approver={"sessions": ["06:00"]},
              contacts=[person("Ann", timezone="America/New_York"),
                        person("Bob", timezone="America/New_York", enroll_at=4)])
    result = simulate(w)
    sent = select(result, "message.sent")
    assert [(e.at.isoformat(), e.at.astimezone(ny).strftime("%a %H:%M")) for e in sent] == [
        ("2026-03-05T14:00:00+00:00", "Thu 09:00"),
        ("2026-03-09T13:00:00+00:00", "Mon 09:00"),
        ("2026-03-09T13:00:00+00:00", "Mon 09:00"),
        ("2026-03-12T13:00:00+00:00", "Thu 09:00"),
    ]


def test_send_window_time_zones_differ_per_contact(simulate: Any) -> None:
    seq = {**WELCOME, "send_window": {"start": "10:00", "end": "11:00",
                                      "weekdays": [0, 1, 2, 3, 4, 5, 6]}}
    w = world(sequences=[seq], days=1,
              contacts=[person("Ann", timezone="Europe/Paris"),
                        person("Bob", timezone="Asia/Tokyo")])
    result = simulate(w)
    local = {e.contact_id: e.at for e in select(result, "message.sent")}
    assert sorted(at.isoformat() for at in local.values()) == [
        "2026-03-02T09:15:00+00:00", "2026-03-03T01:00:00+00:00"]


def test_daily_cap_sends_follow_ups_first(simulate: Any) -> None:
    # Cap 1 per teammate per day (UTC days; the run starts Monday 08:00, so days turn at
    # minutes 960, 2400, 3840, 5280). Wednesday: Xi's first message uses the cap; Bob's
    # first message (queued at 2944) waits; Ann's follow-up is queued later (3182) but
    # goes first on Thursday, and Bob waits until Friday.
    contacts = [person("Ann"), person("Xi", enroll_at=2), person("Bob", enroll_at=2)]
    result = simulate(world(sequences=[{**WELCOME, "daily_cap_per_teammate": 1}],
                            contacts=contacts, days=5))
    ann, xi, bob = (enrollment_of(result, f"{n}@example.com") for n in ("ann", "xi", "bob"))
    assert when(result, "message.queued", enrollment_id=bob) == [2944]
    assert when(result, "message.queued", enrollment_id=ann) == [62, 3182]
    assert when(result, "message.sent", enrollment_id=xi, step_id="s1") == [2955]
    assert when(result, "message.sent", enrollment_id=ann, step_id="s3") == [3840]
    assert when(result, "message.sent", enrollment_id=bob, step_id="s1") == [5280]
    per_day: dict[str, int] = {}
    for event in select(result, "message.sent"):
        per_day[event.at.date().isoformat()] = per_day.get(event.at.date().isoformat(), 0) + 1
    assert max(per_day.values()) == 1


# ---------------------------------------------------------------------------------------------
# chat, rules, timeline


def test_chat_request_end_to_end(simulate: Any) -> None:
    w = world(contacts=[person("Ann", enroll_in=())],
              timeline=[{"action": "chat", "at": 0.5, "contact": "ann@example.com",
                         "text": "Send Ann the price list.", "teammate": "Sam"}])
    result = simulate(w)
    (started,) = select(result, "task.started")
    assert started.payload["kind"] == "chat"
    assert started.enrollment_id is None
    assert minute(result, started) == 720
    assert when(result, "attention.opened", task_id=started.task_id) == [739]
    # Tuesday's 09:00 session is minute 1500.
    assert when(result, "decision.made", task_id=started.task_id) == [1502]
    assert when(result, "message.sent", task_id=started.task_id) == [1515]
    with result.store.unit_of_work() as uow:
        task = uow.tasks.get(started.task_id or 0)
        assert task.kind == "chat"
        assert uow.teammates.get(task.teammate_id or 0).name == "Sam"
        message = uow.messages.for_task(task.id)
        assert message is not None
        assert message.status == "sent"
        assert message.enrollment_id is None


def test_a_reply_to_a_chat_lands_in_needs_attention(simulate: Any) -> None:
    w = world(contacts=[person("Ann", "replier", enroll_in=())],
              timeline=[{"action": "chat", "at": 0.5, "contact": "ann@example.com",
                         "text": "Send Ann the price list.", "teammate": "Sam"}])
    result = simulate(w)
    (sent,) = select(result, "message.sent")
    (reply,) = select(result, "reply.received")
    assert reply.task_id == sent.task_id
    assert reply.enrollment_id is None
    assert reply.payload["attention_id"] is not None
    assert select(result, "enrollment.paused") == []
    assert result.metrics["replies"] == 1
    assert result.violations == ()


def test_enabled_rule_approves_without_the_human(simulate: Any) -> None:
    w = world(contacts=[person("Ann")],
              rules=[{"name": "Hello", "enabled": False, "sequence": "Welcome", "step": "s1"}],
              timeline=[{"action": "enable_rule", "at": 0, "rule": "Hello"}])
    result = simulate(w)
    (rule_decision,) = select(result, "decision.made", by="rule")
    assert minute(result, rule_decision) == 19
    assert when(result, "message.sent", step_id="s1") == [30]
    assert when(result, "decision.made", by="human") == [30 + 2 * DAY + 19 + 13]
    assert result.metrics["approvals_rule"] == 1


def test_disabled_rule_approves_nothing(simulate: Any) -> None:
    w = world(contacts=[person("Ann")],
              rules=[{"name": "Hello", "enabled": True, "sequence": "Welcome"}],
              timeline=[{"action": "disable_rule", "at": 0, "rule": "Hello"}])
    result = simulate(w)
    assert select(result, "decision.made", by="rule") == []
    assert result.metrics["approvals_human"] == 2


def test_same_minute_timeline_actions_apply_in_file_order(simulate: Any) -> None:
    w = world(contacts=[person("Ann")],
              timeline=[{"action": "pause", "at": 1, "sequence": "Welcome"},
                        {"action": "activate", "at": 1, "sequence": "Welcome"},
                        {"action": "pause", "at": 1, "sequence": "Welcome"}])
    result = simulate(w)
    kinds = [e.type for e in result.events if e.type.startswith("sequence.")
             and e.type != "sequence.created"]
    assert kinds == ["sequence.paused", "sequence.activated", "sequence.paused"]


def test_run_records_metrics_and_invariant_counters(simulate: Any) -> None:
    result = simulate(world(contacts=[person("Ann"), person("Bob", "replier")]))
    metrics = result.metrics
    assert metrics["sent"] == 3
    assert metrics["replies"] == metrics["paused_by_reply"] == 1
    assert metrics["reply_rate"] == 0.5
    assert metrics["completed"] == 1
    assert all(metrics[name] == 0 for name in (
        "sends_without_approval", "sends_after_reply", "sends_while_paused",
        "duplicate_sends", "sends_before_wait", "replies_not_in_attention"))


def test_diagnose_names_the_tick_at_which_a_longer_run_picks_the_step_up() -> None:
    """The shipped schedule-lag scenario ends four minutes after Jonas's step fell due: the tick
    diagnose names is the minute the same world, run a day longer, starts drafting it."""
    from teamsim import load_scenario
    from teamsim.reports.diagnose import diagnose

    path = Path(__file__).resolve().parents[2] / "scenarios" / "troubleshoot-schedule-lag.yaml"
    w = load_scenario(path)
    short = simulation(w).run()
    try:
        with short.store.unit_of_work() as uow:
            found = diagnose(uow, "Attic insulation leads", "jonas.weber@example.de")
        closing = short.events[-1].at  # the run's closing minute
    finally:
        short.store.close()
    longer = simulation(w, until_days=w.days + 1).run()
    try:
        jonas = next(e.enrollment_id for e in longer.events if e.type == "enrollment.created"
                     and e.at > w.start_utc + timedelta(days=2))
        started = next(e.at for e in longer.events
                       if e.type == "task.started" and e.enrollment_id == jonas)
    finally:
        longer.store.close()
    assert started == closing
    assert f"picks it up at the next tick, {started:%Y-%m-%d %H:%M} UTC." in found.answer.message
