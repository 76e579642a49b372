"""Invariants and metrics, computed from a run's event log alone.

Both are pure functions of the events, so a stored ``events.jsonl`` can be re-checked and
re-measured without re-running anything. What they need of each enrollment (has the person
replied, which wait is running, which steps went out, how it ended) comes from the one fold,
:func:`teamsim.model.fold`; the rest (approvals, sequence status, sending limits, Needs
attention) is read here, one handler per :class:`~teamsim.model.EventKind`.

Payloads are read by key and tolerantly (``.get``), as the fold reads them: an audited log may
be hand-built or stored by an older version and lack fields :func:`teamsim.model.parse_payload`
requires; and parsing every payload costs about three times the audit and metrics together.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from teamsim.model import (
    REPLY,
    EnrollmentHistory,
    EnrollmentStatus,
    EventKind,
    EventRecord,
    Folder,
)
from teamsim.sim.world import World

__all__ = [
    "INVARIANT_COUNTERS",
    "METRICS",
    "audit",
    "audit_and_measure",
    "check_invariants",
    "compute_metrics",
]

INVARIANT_COUNTERS = (
    "sends_without_approval",
    "sends_after_reply",
    "sends_while_paused",
    "duplicate_sends",
    "sends_before_wait",
    "replies_not_in_attention",
    "sends_outside_window",
    "sends_over_daily_cap",
)
"""Counters of broken invariants; every one is 0 in a correct run."""

METRICS: dict[str, str] = {
    "enrolled": "enrollments created",
    "steps_due": "message steps that fell due (each time one did)",
    "drafts": "drafts written, revisions included",
    "revisions": "drafts that revise an earlier draft after a review or a rejection",
    "reviewer_flags": "drafts that reached the human with the reviewer's concerns still open",
    "approvals_human": "drafts the human approved (as is or edited)",
    "approvals_rule": "drafts an auto-approve rule approved, less those recalled when the rule "
                      "was disabled before they went out",
    "edits": "drafts the human edited before approving",
    "rejections": "drafts the human rejected",
    "withdrawn": "drafts withdrawn from Needs attention before a decision (reply, removal)",
    "draft_failures": "tasks that failed because a teammate's drafter or reviewer could not "
                      "work (after its retries); each lands in Needs attention and sends "
                      "nothing",
    "cancelled": "approved messages cancelled before delivery (reply, end, removal)",
    "sent": "messages delivered",
    "opened": "delivered messages opened",
    "clicked": "delivered messages clicked",
    "replies": "replies received (auto-replies, bounces and unsubscribes not counted)",
    "reply_rate": "contacts who replied / contacts who got at least one message",
    "paused_by_reply": "enrollments paused because the person replied",
    "bounced": "enrollments ended by a bounce",
    "unsubscribed": "enrollments ended by an unsubscribe",
    "completed": "enrollments that went through every step",
    "approval_latency_hours_p50": "median clock hours from a draft landing in Needs attention "
                                  "to the human's decision, over every human decision "
                                  "(rejections too; a redraft is timed from its own arrival); "
                                  "rule approvals, withdrawn drafts and drafts still open at "
                                  "the end are left out; 0 when there is none",
    "approval_latency_hours_p90": "90th percentile of the same; both interpolate linearly "
                                  "between the closest ranks (Python's "
                                  "`statistics.quantiles(method=\"inclusive\")`, NumPy's "
                                  "default)",
    "attention_peak": "most items open in Needs attention at once",
    "attention_open_at_end": "items still open in Needs attention when the run ended",
    "human_minutes": "minutes the human spent working Needs attention",
    "teammate_utilisation": "teammates' busy minutes / (capacity x run minutes), averaged",
    "rule_suggestions": "auto-approve rules suggested",
    **{name: "broken invariant (always 0 in a correct run)" for name in INVARIANT_COUNTERS},
}
"""Every metric a run reports, with its definition."""


def check_invariants(events: Sequence[EventRecord]) -> list[str]:
    """Every broken invariant, one line each (empty in a correct run)."""
    return audit(events)[1]


def audit(events: Iterable[EventRecord]) -> tuple[dict[str, int], list[str]]:
    """Check the invariants over a run's events: counters and one line per violation.

    1. No message sent without an approval (a human decision, or an enabled rule within its
       caps). 2. No message sent to a person after they replied, unless resumed since.
    3. No message sent while its sequence is draft or paused. 4. At most one message per
    enrollment per step. 5. No message before the wait in front of it has elapsed.
    6. Every reply lands in Needs attention. 7. No message of a sequence with a sending window
    goes out outside it (in the contact's time zone). 8. No teammate sends more in a day than
    the daily cap of the sequence being sent. (A task that failed never sends: such a send
    counts as one without approval.)

    Everything needed is in the events themselves (a rule's caps and the human's time zone are
    recorded when it is switched on), so a stored ``events.jsonl`` can be audited alone.
    """
    check = _Audit()
    _walk(events, check, _Tally())  # the tally's counting is a small part of the walk
    return check.counts, check.problems


def audit_and_measure(events: Iterable[EventRecord], world: World, minutes: int
                      ) -> tuple[dict[str, int], list[str], dict[str, Any]]:
    """:func:`audit` and :func:`compute_metrics` in one walk of ``events``, which may be a
    stream read page by page: nothing of the log is kept, only what the audit and the
    metrics count (each enrollment's history, the open approvals and items).

    Returns:
        The invariant counters, one line per violation, and the metrics.
    """
    check = _Audit()
    tally = _Tally()
    _walk(events, check, tally)
    metrics = _metrics(tally, check.folder.histories, world, minutes, check.counts)
    return check.counts, check.problems, metrics


def _walk(events: Iterable[EventRecord], check: _Audit | None, tally: _Tally) -> None:
    """Feed each event, in order, to the audit's (if any) and the tally's handler of its
    kind."""
    checks = check.checks if check is not None else {}
    counters = tally.counters
    kinds: Counter[str] = Counter()
    peak = 0
    for ev in events:
        kind = ev.type
        kinds[kind] += 1
        handle = checks.get(kind)
        if handle is not None:
            handle(ev)
        count = counters.get(kind)
        if count is not None:
            count(ev)
            if tally.open_items > peak:
                peak = tally.open_items
    tally.peak = peak
    for name, kind in _COUNTED.items():
        tally.counts[name] = kinds[kind]


class _Audit:
    """The audit's state while it walks the log; the enrollments' part is the fold's."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(INVARIANT_COUNTERS, 0)
        self.problems: list[str] = []
        self.folder = Folder()
        self.approved: dict[int, str] = {}
        self.failed: set[int | None] = set()
        self.seq_status: dict[int | None, str] = {}
        self.limits: dict[int | None, _Limits] = {}
        self.sent_by: Counter[tuple[str, str]] = Counter()
        self.rule_enabled: dict[Any, bool] = {}
        self.rule_caps: dict[Any, Mapping[str, Any]] = {}
        self.rule_total: Counter[Any] = Counter()
        self.rule_daily: Counter[tuple[Any, str]] = Counter()
        self.apply = self.folder.apply
        # One handler per kind: the fold's kinds go to the fold (reply.received and
        # message.sent to the fold, then to their checks); the rest are not looked at.
        self.checks: dict[str, Callable[[EventRecord], object]] = {
            **dict.fromkeys(Folder.KINDS, self.apply),
            EventKind.SEQUENCE_CREATED: self.sequence_created,
            EventKind.SEQUENCE_EDITED: self.sequence_edited,
            EventKind.SEQUENCE_PAUSED: self.sequence_status,
            EventKind.SEQUENCE_ACTIVATED: self.sequence_status,
            EventKind.RULE_ENABLED: self.rule_switched,
            EventKind.RULE_DISABLED: self.rule_switched,
            EventKind.DECISION_MADE: self.decision,
            EventKind.DRAFT_FAILED: self.draft_failed,
            EventKind.REPLY_RECEIVED: self.reply,
            EventKind.MESSAGE_SENT: self.sent,
        }

    def broke(self, name: str, event: EventRecord, text: str) -> None:
        self.counts[name] += 1
        self.problems.append(
            f"{name}: {text} (event {event.seq} at {event.at:%Y-%m-%d %H:%M}Z)")

    def sequence_created(self, ev: EventRecord) -> None:
        self.sequence_status(ev)
        self.sequence_edited(ev)

    def sequence_status(self, ev: EventRecord) -> None:
        self.seq_status[ev.sequence_id] = ev.payload["status"]

    def sequence_edited(self, ev: EventRecord) -> None:
        self.limits[ev.sequence_id] = _Limits(ev.payload)

    def rule_switched(self, ev: EventRecord) -> None:
        p = ev.payload
        self.rule_enabled[p["rule_id"]] = ev.type == EventKind.RULE_ENABLED
        self.rule_caps[p["rule_id"]] = p

    def decision(self, ev: EventRecord) -> None:
        p = ev.payload
        if p.get("action") not in _APPROVALS:
            return
        if p.get("rule_id") is not None and not self.rule_allowed(ev, p["rule_id"]):
            return
        if ev.task_id is not None:
            self.approved[ev.task_id] = p.get("by", "human")

    def draft_failed(self, ev: EventRecord) -> None:
        self.apply(ev)
        self.failed.add(ev.task_id)

    def rule_allowed(self, ev: EventRecord, rule_id: Any) -> bool:
        """Count a rule's approval against its caps; False (and a violation) past them."""
        cap = self.rule_caps.get(rule_id, {})
        day = ev.at.astimezone(ZoneInfo(cap.get("timezone") or "UTC")).date().isoformat()
        self.rule_total[rule_id] += 1
        self.rule_daily[(rule_id, day)] += 1
        if not self.rule_enabled.get(rule_id, False):
            self.broke("sends_without_approval", ev,
                       f"task {ev.task_id} approved by rule {rule_id} while it was off")
            return False
        if cap.get("max_total") is not None and self.rule_total[rule_id] > cap["max_total"]:
            self.broke("sends_without_approval", ev,
                       f"task {ev.task_id} approved by rule {rule_id} past its total cap")
            return False
        if (cap.get("max_per_day") is not None
                and self.rule_daily[(rule_id, day)] > cap["max_per_day"]):
            self.broke("sends_without_approval", ev,
                       f"task {ev.task_id} approved by rule {rule_id} past its cap for {day}")
            return False
        return True

    def reply(self, ev: EventRecord) -> None:
        self.apply(ev)
        p = ev.payload
        if p.get("kind") == REPLY and p.get("attention_id") is None:
            self.broke("replies_not_in_attention", ev,
                       f"reply {p.get('reply_id')} did not land in Needs attention")

    def sent(self, ev: EventRecord) -> None:
        history = self.apply(ev)
        p = ev.payload
        self.check_limits(ev)
        if ev.task_id not in self.approved:
            self.broke("sends_without_approval", ev,
                       f"message {p['message_id']} went out with no approval of task "
                       f"{ev.task_id}")
        elif ev.task_id in self.failed:
            self.broke("sends_without_approval", ev,
                       f"message {p['message_id']} went out for task {ev.task_id}, which "
                       "failed (its drafter or reviewer could not work)")
        if history is None:
            return
        if history.replied:
            self.broke("sends_after_reply", ev,
                       f"message {p['message_id']} went to enrollment {ev.enrollment_id} "
                       "after the person replied")
        status = self.seq_status.get(ev.sequence_id)
        if status != "active":
            self.broke("sends_while_paused", ev,
                       f"message {p['message_id']} went out while sequence {ev.sequence_id} "
                       f"was {status}")
        step = p["step_id"]
        if history.sent_count(step) > 1:
            self.broke("duplicate_sends", ev,
                       f"step {step} sent twice to enrollment {ev.enrollment_id}")
        until = history.wait_until
        if until is not None and ev.at < until:
            self.broke("sends_before_wait", ev,
                       f"message {p['message_id']} went out before the wait ending "
                       f"{until:%Y-%m-%d %H:%M}Z had elapsed")

    def check_limits(self, ev: EventRecord) -> None:
        """The sending window (contact's local time) and the per-teammate daily cap."""
        p = ev.payload
        limit = self.limits.get(ev.sequence_id, _NO_LIMITS)
        cap_day = ev.at.astimezone(limit.cap_zone).date().isoformat()
        teammate = str(p.get("teammate"))
        self.sent_by[(teammate, cap_day)] += 1
        if ev.enrollment_id is None:
            return
        window = limit.window
        if window is not None:
            local = ev.at.astimezone(ZoneInfo(p.get("contact_timezone") or "UTC"))
            if not (local.weekday() in window["weekdays"]
                    and limit.start <= local.time() < limit.end):
                self.broke("sends_outside_window", ev,
                           f"message {p['message_id']} went out at {local:%a %H:%M} local "
                           f"time, outside {window['start']}-{window['end']}")
        cap = limit.daily_cap
        if cap is not None and self.sent_by[(teammate, cap_day)] > cap:
            self.broke("sends_over_daily_cap", ev,
                       f"{teammate} sent {self.sent_by[(teammate, cap_day)]} messages on "
                       f"{cap_day}, over the daily cap of {cap}")


_APPROVALS = ("approve", "edit")

# Metrics that count the events of one kind (counted all at once, not one handler call each).
_COUNTED = {
    "drafts": EventKind.DRAFT_CREATED,
    "withdrawn": EventKind.TASK_WITHDRAWN,
    "draft_failures": EventKind.DRAFT_FAILED,
    "cancelled": EventKind.MESSAGE_CANCELLED,
    "sent": EventKind.MESSAGE_SENT,
    "opened": EventKind.MESSAGE_OPENED,
    "clicked": EventKind.MESSAGE_CLICKED,
    "rule_suggestions": EventKind.RULE_SUGGESTED,
}  # the decisions that let a message go out


class _Limits:
    """A sequence's sending limits as its last ``sequence.created``/``edited`` recorded them."""

    __slots__ = ("cap_zone", "daily_cap", "end", "start", "window")

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.cap_zone = ZoneInfo(payload.get("cap_timezone") or "UTC")
        self.daily_cap: int | None = payload.get("daily_cap_per_teammate")
        self.window: Mapping[str, Any] | None = payload.get("send_window")
        if self.window is not None:
            self.start = time.fromisoformat(self.window["start"])
            self.end = time.fromisoformat(self.window["end"])


_NO_LIMITS = _Limits({})


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(q * 100) - 1]


def compute_metrics(
    events: Iterable[EventRecord], world: World, minutes: int,
    *, invariants: dict[str, int] | None = None,
    histories: Mapping[int, EnrollmentHistory] | None = None,
) -> dict[str, Any]:
    """The run's metrics (see :data:`METRICS`), from its events, in one walk of them.

    ``invariants`` are the counters of :func:`audit` over the same events, and ``histories``
    their :func:`~teamsim.model.fold`, when the caller has them already; otherwise they are
    computed in the same walk (:func:`audit_and_measure` gives the audit's lines too).
    """
    check = _Audit() if invariants is None or histories is None else None
    tally = _Tally()
    _walk(events, check, tally)
    if check is not None:
        histories = check.folder.histories if histories is None else histories
        invariants = check.counts if invariants is None else invariants
    return _metrics(tally, histories or {}, world, minutes, invariants or {})


def _metrics(tally: _Tally, histories: Mapping[int, EnrollmentHistory], world: World,
             minutes: int, invariants: dict[str, int]) -> dict[str, Any]:
    """The metrics from a finished walk's tally, the enrollments' histories and the audit's
    counters."""
    counts = tally.counts
    counts.update(_enrollment_counts(histories.values()))
    capacity = {t.name: t.capacity for t in world.teammates}
    busy = tally.busy
    utilisation = [busy.get(name, 0) / (cap * minutes) for name, cap in capacity.items()
                   if minutes > 0]
    latencies = sorted(tally.latencies)
    messaged = tally.messaged
    metrics: dict[str, Any] = {name: counts.get(name, 0) for name in METRICS}
    metrics.update(
        reply_rate=round(len(tally.repliers & messaged) / len(messaged), 6) if messaged else 0.0,
        approval_latency_hours_p50=round(_quantile(latencies, 0.5), 4),
        approval_latency_hours_p90=round(_quantile(latencies, 0.9), 4),
        attention_peak=tally.peak,
        attention_open_at_end=tally.open_items,
        human_minutes=round(tally.human_minutes, 2),
        teammate_utilisation=round(statistics.fmean(utilisation), 6) if utilisation else 0.0,
        **invariants,
    )
    return metrics


def _enrollment_counts(histories: Iterable[EnrollmentHistory]) -> Counter[str]:
    """The metrics that are the enrollments': enrolled, steps due, paused, how they ended."""
    counts: Counter[str] = Counter()
    due = EventKind.STEP_DUE
    statuses: Counter[EnrollmentStatus] = Counter()
    for history in histories:
        counts["enrolled"] += history.created_at is not None
        counts["steps_due"] += history.count(due)
        if history.pauses:
            counts["paused_by_reply"] += sum(pause.reason == "replied"
                                             for pause in history.pauses)
        statuses[history.status] += 1
    counts["completed"] = statuses[EnrollmentStatus.COMPLETED]
    counts["bounced"] = statuses[EnrollmentStatus.BOUNCED]
    counts["unsubscribed"] = statuses[EnrollmentStatus.UNSUBSCRIBED]
    return counts


class _Tally:
    """The metrics that are not the enrollments' (drafts, decisions, messages, Needs
    attention, the human), counted in one walk of the log."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.messaged: set[int | None] = set()
        self.repliers: set[int | None] = set()
        self.opened_at: dict[int | None, datetime] = {}
        self.latencies: list[float] = []
        self.open_items = 0
        self.peak = 0
        self.busy: Mapping[str, int] = {}
        self.human_minutes = 0.0
        self.counters: dict[str, Callable[[EventRecord], None]] = {
            EventKind.DRAFT_CREATED: self.draft,
            EventKind.ATTENTION_OPENED: self.attention_opened,
            EventKind.DRAFT_FAILED: self.failed,
            EventKind.DECISION_MADE: self.decision,
            EventKind.TASK_WITHDRAWN: self.withdrawn,
            EventKind.MESSAGE_CANCELLED: self.cancelled,
            EventKind.MESSAGE_SENT: self.sent,
            EventKind.REPLY_RECEIVED: self.reply,
            EventKind.ATTENTION_RESOLVED: self.closed,
            EventKind.RULE_SUGGESTED: self.suggested,
            EventKind.SUGGESTION_HANDLED: self.closed,
            EventKind.RUN_ENDED: self.run_ended,
        }

    def draft(self, ev: EventRecord) -> None:
        self.counts["revisions"] += ev.payload.get("revision", 0) > 0

    def attention_opened(self, ev: EventRecord) -> None:
        self.counts["reviewer_flags"] += bool(ev.payload.get("flagged"))
        self.opened_at[ev.task_id] = ev.at
        self.open_items += 1

    def decision(self, ev: EventRecord) -> None:
        p = ev.payload
        action = p.get("action")
        if p.get("by") == "rule":
            self.counts["approvals_rule"] += action in _APPROVALS
            return
        self.open_items -= 1
        counts = self.counts
        if action in _APPROVALS:
            counts["approvals_human"] += 1
        counts["edits"] += action == "edit"
        counts["rejections"] += action == "reject"
        if ev.task_id in self.opened_at:
            self.latencies.append((ev.at - self.opened_at.pop(ev.task_id)).total_seconds() / 3600)

    def withdrawn(self, ev: EventRecord) -> None:
        self.open_items -= 1

    def cancelled(self, ev: EventRecord) -> None:
        # A rule switched off recalls what it approved and has not sent: that approval no
        # longer stands (the step is drafted again for the human).
        self.counts["approvals_rule"] -= ev.payload.get("recalled_rule_id") is not None

    def sent(self, ev: EventRecord) -> None:
        self.messaged.add(ev.contact_id)

    def reply(self, ev: EventRecord) -> None:
        if ev.payload.get("kind") == REPLY:
            self.counts["replies"] += 1
            self.repliers.add(ev.contact_id)
            self.open_items += 1

    def closed(self, ev: EventRecord) -> None:
        self.open_items -= 1

    def suggested(self, ev: EventRecord) -> None:
        self.open_items += 1

    def failed(self, ev: EventRecord) -> None:  # its draft_failure item opened
        self.open_items += 1

    def run_ended(self, ev: EventRecord) -> None:
        self.busy = ev.payload.get("teammate_busy_minutes", {})
        self.human_minutes = float(ev.payload.get("human_minutes", 0.0))
