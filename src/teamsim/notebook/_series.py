"""A run as a time series, one row per simulated day (or hour), like Mesa's DataCollector.

Counts (sends, replies, approvals, the human's minutes) are what happened within the period;
levels (Needs attention's queue, drafts in flight, enrollments by state) are read at the
period's end, and ``attention_peak`` is the queue's highest level within it. The Needs
attention queue is counted exactly as the ``attention_peak`` and ``attention_open_at_end``
metrics count it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from teamsim.model import EventKind, EventRecord
from teamsim.notebook._source import RunData, RunInput, opened

__all__ = ["Frequency", "QueuePoint", "attention_levels", "human_sessions", "timeseries"]

Frequency = Literal["day", "hour"]
"""The period of a time series: a simulated day (1,440 minutes from the start) or hour."""

_PERIOD_MINUTES: dict[str, int] = {"day": 1440, "hour": 60}
_COUNTS = ("sends", "opens", "replies", "drafts", "human_approvals", "rule_approvals",
           "rejections", "human_sessions", "human_minutes")
_LEVELS = ("attention_open", "attention_peak", "drafts_in_flight", "active", "paused",
           "ended")
_TASK_DONE = frozenset({EventKind.MESSAGE_QUEUED, EventKind.TASK_DISCARDED,
                        EventKind.TASK_WITHDRAWN, EventKind.DRAFT_FAILED})
_APPROVALS = frozenset({"approve", "edit"})


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuePoint:
    """Needs attention's queue depth from ``minute`` on (simulated minutes from the start)."""

    minute: int
    depth: int


def attention_levels(events: Sequence[EventRecord], data: RunData) -> list[QueuePoint]:
    """The queue depth after every change, in order (counted as the metrics count it)."""
    points: list[QueuePoint] = [QueuePoint(minute=0, depth=0)]
    depth = 0
    for e in events:
        change = _attention_change(e)
        if change:
            depth += change
            minute = _minute(e, data)
            if points[-1].minute == minute:
                points[-1] = QueuePoint(minute=minute, depth=depth)
            else:
                points.append(QueuePoint(minute=minute, depth=depth))
    return points


def human_sessions(events: Sequence[EventRecord], data: RunData) -> list[tuple[int, int]]:
    """The human's sessions in Needs attention as (start, end) simulated minutes."""
    spans: list[tuple[int, int]] = []
    started: int | None = None
    for e in events:
        if e.type == EventKind.APPROVER_SESSION_STARTED:
            started = _minute(e, data)
        elif e.type == EventKind.APPROVER_SESSION_ENDED and started is not None:
            spans.append((started, max(_minute(e, data), started + 1)))
            started = None
    return spans


def _attention_change(e: EventRecord) -> int:
    """+1 when an item lands in Needs attention, -1 when one leaves it (as the metrics)."""
    kind = e.type
    if kind in (EventKind.ATTENTION_OPENED, EventKind.RULE_SUGGESTED, EventKind.DRAFT_FAILED):
        return 1
    if kind == EventKind.REPLY_RECEIVED:
        return 1 if e.payload.get("kind") == "reply" else 0
    if kind == EventKind.DECISION_MADE:
        return 0 if e.payload.get("by") == "rule" else -1
    if kind in (EventKind.TASK_WITHDRAWN, EventKind.ATTENTION_RESOLVED,
                EventKind.SUGGESTION_HANDLED):
        return -1
    return 0


def _minute(e: EventRecord, data: RunData) -> int:
    return round((e.at - data.start).total_seconds() / 60)


@dataclass(slots=True)
class _Walk:
    """The running state of the fold over the log."""

    attention: int = 0
    tasks: set[int] = field(default_factory=set)
    enrollments: dict[int, str] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)
    peak: int = 0

    def step(self, e: EventRecord) -> None:
        kind = e.type
        counts = self.counts
        self.attention += _attention_change(e)
        self.peak = max(self.peak, self.attention)
        if kind == EventKind.MESSAGE_SENT:
            counts["sends"] += 1
        elif kind == EventKind.MESSAGE_OPENED:
            counts["opens"] += 1
        elif kind == EventKind.REPLY_RECEIVED:
            counts["replies"] += e.payload.get("kind") == "reply"
        elif kind == EventKind.DRAFT_CREATED:
            counts["drafts"] += 1
        elif kind == EventKind.DECISION_MADE:
            action, by = e.payload.get("action"), e.payload.get("by")
            if action in _APPROVALS:
                counts["rule_approvals" if by == "rule" else "human_approvals"] += 1
            elif action == "reject":
                counts["rejections"] += 1
        elif kind == EventKind.MESSAGE_CANCELLED:
            if e.payload.get("recalled_rule_id") is not None:
                counts["rule_approvals"] -= 1  # a recalled rule approval no longer stands
        elif kind == EventKind.APPROVER_SESSION_ENDED:
            counts["human_sessions"] += 1
            counts["human_minutes"] += float(e.payload.get("minutes", 0.0))
        if kind == EventKind.TASK_STARTED and e.task_id is not None:
            self.tasks.add(e.task_id)
        elif kind in _TASK_DONE and e.task_id is not None:
            self.tasks.discard(e.task_id)
        if e.enrollment_id is not None:
            if kind in (EventKind.ENROLLMENT_CREATED, EventKind.ENROLLMENT_RESUMED):
                self.enrollments[e.enrollment_id] = "active"
            elif kind == EventKind.ENROLLMENT_PAUSED:
                self.enrollments[e.enrollment_id] = "paused"
            elif kind in (EventKind.ENROLLMENT_COMPLETED, EventKind.ENROLLMENT_ENDED):
                self.enrollments[e.enrollment_id] = "ended"

    def close(self, row: dict[str, Any]) -> None:
        """Write the period's counts and end levels into ``row`` and start the next one."""
        row.update(self.counts)
        states = list(self.enrollments.values())
        row.update(attention_open=self.attention, attention_peak=self.peak,
                   drafts_in_flight=len(self.tasks), active=states.count("active"),
                   paused=states.count("paused"), ended=states.count("ended"))
        self.counts = dict.fromkeys(_COUNTS, 0.0)
        self.peak = self.attention


def timeseries(run: RunInput, freq: Frequency = "day") -> pd.DataFrame:
    """The run per simulated day (``freq="day"``) or hour (``"hour"``).

    Columns: ``period`` (0, 1, 2...), ``start`` (the period's start, a timestamp in the
    scenario's zone); what happened in it: ``sends``, ``opens``, ``replies``, ``drafts``,
    ``human_approvals``, ``rule_approvals``, ``rejections``, ``human_sessions``,
    ``human_minutes`` (of the sessions that ended in it); and the levels at its end:
    ``attention_open`` (items waiting in Needs attention; ``attention_peak``: the most at
    once within the period), ``drafts_in_flight`` (tasks started and not yet approved,
    discarded, withdrawn or failed), ``active``, ``paused`` and ``ended`` enrollments.

    Raises:
        ValueError: ``freq`` is not ``day`` or ``hour``.
    """
    if freq not in _PERIOD_MINUTES:
        raise ValueError(f"freq must be 'day' or 'hour', got {freq!r}")
    size = _PERIOD_MINUTES[freq]
    with opened(run) as data:
        events = data.events()
        periods = max(1, math.ceil(data.minutes / size))
        walk = _Walk(counts=dict.fromkeys(_COUNTS, 0.0))
        rows: list[dict[str, Any]] = []
        index = 0
        for e in events:
            period = min(_minute(e, data) // size, periods - 1)
            while index < period:
                rows.append({"period": index})
                walk.close(rows[-1])
                index += 1
            walk.step(e)
        while index < periods:
            rows.append({"period": index})
            walk.close(rows[-1])
            index += 1
        frame = pd.DataFrame.from_records(rows, columns=["period", *_COUNTS, *_LEVELS])
        starts = [data.start + pd.Timedelta(minutes=size * p) for p in frame["period"]]
        frame.insert(1, "start", pd.Series(pd.to_datetime(starts, utc=True))
                     .dt.tz_convert(data.timezone))
        for column in (*_COUNTS, *_LEVELS):
            if column != "human_minutes":
                frame[column] = frame[column].astype("int64")
        frame["human_minutes"] = frame["human_minutes"].astype("float64").round(2)
        frame["period"] = frame["period"].astype("int64")
        return frame
