"""The invariant audit catches each kind of violation from the event log alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from teamsim.sim import audit
from teamsim.store import EventRecord

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday


class Log:
    """Builds a plausible event log, one event at a time."""

    def __init__(self) -> None:
        self.events: list[EventRecord] = []

    def add(self, minute: int, event_type: str, *, task: int | None = None,
            enrollment: int | None = 1, **payload: Any) -> Log:
        self.events.append(EventRecord(
            seq=len(self.events) + 1, at=T0 + timedelta(minutes=minute), type=event_type,
            sequence_id=1, enrollment_id=enrollment, contact_id=1, task_id=task,
            payload=payload))
        return self

    def sequence(self, **limits: Any) -> Log:
        return self.add(0, "sequence.created", enrollment=None, status="active",
                        **{"send_window": None, "daily_cap_per_teammate": None,
                           "cap_timezone": "UTC", **limits})

    def approved_send(self, minute: int, task: int, step: str = "s1", **extra: Any) -> Log:
        self.add(minute, "decision.made", task=task, action="approve", by="human", rule_id=None)
        return self.add(minute, "message.sent", task=task, message_id=task, step_id=step,
                        teammate="Riley", contact_timezone="UTC", **extra)


def counters(log: Log) -> dict[str, int]:
    return {name: n for name, n in audit(log.events)[0].items() if n}


def test_a_clean_log_breaks_nothing() -> None:
    log = Log().sequence().approved_send(60, 1)
    assert counters(log) == {}


def test_send_without_approval() -> None:
    log = Log().sequence().add(60, "message.sent", task=1, message_id=1, step_id="s1",
                               teammate="Riley", contact_timezone="UTC")
    assert counters(log) == {"sends_without_approval": 1}


def test_send_after_reply_unless_resumed() -> None:
    log = Log().sequence().approved_send(60, 1)
    log.add(120, "reply.received", kind="reply", attention_id=5)
    log.approved_send(180, 2, "s3")
    assert counters(log) == {"sends_after_reply": 1}
    log.add(200, "enrollment.resumed", by="human").approved_send(240, 3, "s5")
    assert counters(log) == {"sends_after_reply": 1}


def test_send_while_paused_and_duplicate_step() -> None:
    log = Log().sequence().approved_send(60, 1)
    log.add(90, "sequence.paused", enrollment=None, status="paused").approved_send(120, 2)
    assert counters(log) == {"sends_while_paused": 1, "duplicate_sends": 1}


def test_send_before_the_wait_elapsed() -> None:
    log = Log().sequence().approved_send(60, 1)
    log.add(60, "wait.started", step_id="s2", minutes=1440).approved_send(1000, 2, "s3")
    assert counters(log) == {"sends_before_wait": 1}


def test_reply_without_attention_item() -> None:
    log = Log().sequence().add(60, "reply.received", kind="reply", reply_id=3)
    assert counters(log) == {"replies_not_in_attention": 1}


@pytest.mark.parametrize(
    ("minute", "broken"), [(60, {}), (60 * 9 + 1, {"sends_outside_window": 1})])
def test_send_outside_the_contacts_window(minute: int, broken: dict[str, int]) -> None:
    # 08:00 UTC + minute; the contact is in New York (UTC-5 before the March switch).
    window = {"weekdays": [0, 1, 2, 3, 4], "start": "03:00:00", "end": "12:00:00"}
    log = Log().sequence(send_window=window)
    log.add(minute, "decision.made", task=1, action="approve", by="human", rule_id=None)
    log.add(minute, "message.sent", task=1, message_id=1, step_id="s1", teammate="Riley",
            contact_timezone="America/New_York")
    assert counters(log) == broken


def test_teammate_over_the_daily_cap() -> None:
    log = Log().sequence(daily_cap_per_teammate=2)
    for task in (1, 2, 3):
        log.approved_send(60 + task, task, step=f"s{task}")
    assert counters(log) == {"sends_over_daily_cap": 1}


def test_rule_approvals_past_their_caps() -> None:
    log = Log().sequence()
    log.add(0, "rule.enabled", enrollment=None, rule_id=7, name="r", max_total=None,
            max_per_day=1, timezone="UTC")
    for task in (1, 2):
        log.add(60 + task, "decision.made", task=task, action="approve", by="rule", rule_id=7)
    assert counters(log) == {"sends_without_approval": 1}


def test_approval_latency_percentiles_interpolate_between_the_closest_ranks() -> None:
    """As the metrics table says: every human decision counts (rejections too), rule
    approvals, withdrawn drafts and drafts still open are left out, and the percentiles
    interpolate linearly between ranks (5 latencies 1, 2, 3, 4, 10 h: p50 3, p90 7.6)."""
    from teamsim.sim import compute_metrics

    from ..strategies import world

    log = Log().sequence()
    for task, (hours, action) in enumerate(
            [(1, "approve"), (2, "edit"), (3, "reject"), (4, "approve"), (10, "approve")],
            start=1):
        log.add(0, "attention.opened", task=task)
        log.add(hours * 60, "decision.made", task=task, action=action, by="human")
    log.add(0, "decision.made", task=6, action="approve", by="rule", rule_id=1)
    log.add(0, "attention.opened", task=7).add(50 * 60, "task.withdrawn", task=7)
    log.add(0, "attention.opened", task=8)  # still open at the end
    events = sorted(log.events, key=lambda e: (e.at, e.seq))
    metrics = compute_metrics(events, world(), 7 * 1440)
    assert metrics["approval_latency_hours_p50"] == 3
    assert metrics["approval_latency_hours_p90"] == 7.6
