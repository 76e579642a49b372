"""Invariants and metrics, computed from a run's event log alone.

Both are pure functions of the events, so a stored ``events.jsonl`` can be re-checked and
re-measured without re-running anything.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from teamsim.sim.world import World
from teamsim.store import EventRecord

__all__ = ["INVARIANT_COUNTERS", "METRICS", "audit", "check_invariants", "compute_metrics"]

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


def audit(events: Sequence[EventRecord]) -> tuple[dict[str, int], list[str]]:
    """Check the invariants over a run's events: counters and one line per violation.

    1. No message sent without an approval (a human decision, or an enabled rule within its
       caps). 2. No message sent to a person after they replied, unless resumed since.
    3. No message sent while its sequence is draft or paused. 4. At most one message per
    enrollment per step. 5. No message before the wait in front of it has elapsed.
    6. Every reply lands in Needs attention. 7. No message of a sequence with a sending window
    goes out outside it (in the contact's time zone). 8. No teammate sends more in a day than
    the daily cap of the sequence being sent.

    Everything needed is in the events themselves (a rule's caps and the human's time zone are
    recorded when it is switched on), so a stored ``events.jsonl`` can be audited alone.
    """
    counts = dict.fromkeys(INVARIANT_COUNTERS, 0)
    problems: list[str] = []
    approved: dict[int, str] = {}
    seq_status: dict[int | None, str] = {}
    replied: set[int | None] = set()
    wait_until: dict[int | None, datetime] = {}
    sent_steps: Counter[tuple[int | None, Any]] = Counter()
    rule_enabled: dict[Any, bool] = {}
    rule_caps: dict[Any, dict[str, Any]] = {}
    rule_total: Counter[Any] = Counter()
    rule_daily: Counter[tuple[Any, str]] = Counter()
    limits: dict[int | None, dict[str, Any]] = {}
    sent_by: Counter[tuple[str, str]] = Counter()

    def broke(name: str, event: EventRecord, text: str) -> None:
        counts[name] += 1
        problems.append(f"{name}: {text} (event {event.seq} at {event.at:%Y-%m-%d %H:%M}Z)")

    for ev in events:
        p = ev.payload
        kind = ev.type
        if kind in ("sequence.created", "sequence.paused", "sequence.activated"):
            seq_status[ev.sequence_id] = p["status"]
        if kind in ("sequence.created", "sequence.edited"):
            limits[ev.sequence_id] = p
        elif kind in ("rule.enabled", "rule.disabled"):
            rule_enabled[p["rule_id"]] = kind == "rule.enabled"
            rule_caps[p["rule_id"]] = p
        elif kind == "decision.made" and p.get("action") in ("approve", "edit"):
            if p.get("rule_id") is not None:
                rule_id = p["rule_id"]
                cap = rule_caps.get(rule_id, {})
                day = ev.at.astimezone(ZoneInfo(cap.get("timezone") or "UTC")).date().isoformat()
                rule_total[rule_id] += 1
                rule_daily[(rule_id, day)] += 1
                if not rule_enabled.get(rule_id, False):
                    broke("sends_without_approval", ev,
                          f"task {ev.task_id} approved by rule {rule_id} while it was off")
                    continue
                if cap.get("max_total") is not None and rule_total[rule_id] > cap["max_total"]:
                    broke("sends_without_approval", ev,
                          f"task {ev.task_id} approved by rule {rule_id} past its total cap")
                    continue
                if (cap.get("max_per_day") is not None
                        and rule_daily[(rule_id, day)] > cap["max_per_day"]):
                    broke("sends_without_approval", ev,
                          f"task {ev.task_id} approved by rule {rule_id} past its cap for {day}")
                    continue
            if ev.task_id is not None:
                approved[ev.task_id] = p.get("by", "human")
        elif kind == "reply.received" and p.get("kind") == "reply":
            replied.add(ev.enrollment_id)
            if p.get("attention_id") is None:
                broke("replies_not_in_attention", ev,
                      f"reply {p.get('reply_id')} did not land in Needs attention")
        elif kind == "enrollment.resumed":
            replied.discard(ev.enrollment_id)
            wait_until.pop(ev.enrollment_id, None)
        elif kind == "wait.started":
            wait_until[ev.enrollment_id] = ev.at + timedelta(minutes=p["minutes"])
        elif kind == "enrollment.moved":
            wait_until.pop(ev.enrollment_id, None)
        elif kind == "message.sent":
            _check_limits(ev, limits.get(ev.sequence_id, {}), sent_by, broke)
            if ev.task_id not in approved:
                broke("sends_without_approval", ev,
                      f"message {p['message_id']} went out with no approval of task {ev.task_id}")
            if ev.enrollment_id is None:
                continue
            if ev.enrollment_id in replied:
                broke("sends_after_reply", ev,
                      f"message {p['message_id']} went to enrollment {ev.enrollment_id} after "
                      "the person replied")
            if seq_status.get(ev.sequence_id) != "active":
                broke("sends_while_paused", ev,
                      f"message {p['message_id']} went out while sequence {ev.sequence_id} was "
                      f"{seq_status.get(ev.sequence_id)}")
            sent_steps[(ev.enrollment_id, p["step_id"])] += 1
            if sent_steps[(ev.enrollment_id, p["step_id"])] > 1:
                broke("duplicate_sends", ev,
                      f"step {p['step_id']} sent twice to enrollment {ev.enrollment_id}")
            until = wait_until.get(ev.enrollment_id)
            if until is not None and ev.at < until:
                broke("sends_before_wait", ev,
                      f"message {p['message_id']} went out before the wait ending "
                      f"{until:%Y-%m-%d %H:%M}Z had elapsed")
    return counts, problems


def _check_limits(
    ev: EventRecord, limit: dict[str, Any], sent_by: Counter[tuple[str, str]],
    broke: Callable[[str, EventRecord, str], None],
) -> None:
    """The sending window (contact's local time) and the per-teammate daily cap."""
    p = ev.payload
    cap_day = ev.at.astimezone(ZoneInfo(limit.get("cap_timezone") or "UTC")).date().isoformat()
    teammate = str(p.get("teammate"))
    sent_by[(teammate, cap_day)] += 1
    if ev.enrollment_id is None:
        return
    window = limit.get("send_window")
    if window is not None:
        local = ev.at.astimezone(ZoneInfo(p.get("contact_timezone") or "UTC"))
        inside = (local.weekday() in window["weekdays"]
                  and time.fromisoformat(window["start"]) <= local.time()
                  < time.fromisoformat(window["end"]))
        if not inside:
            broke("sends_outside_window", ev,
                  f"message {p['message_id']} went out at {local:%a %H:%M} local time, "
                  f"outside {window['start']}-{window['end']}")
    cap = limit.get("daily_cap_per_teammate")
    if cap is not None and sent_by[(teammate, cap_day)] > cap:
        broke("sends_over_daily_cap", ev,
              f"{teammate} sent {sent_by[(teammate, cap_day)]} messages on {cap_day}, over the "
              f"daily cap of {cap}")


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
) -> dict[str, Any]:
    """The run's metrics (see :data:`METRICS`), from its events.

    ``invariants`` are the counters of :func:`audit` over the same events, when the caller
    has them already (the simulator audits every run); otherwise they are computed here.
    """
    events = list(events)
    counts: Counter[str] = Counter()
    messaged: set[int | None] = set()
    repliers: set[int | None] = set()
    opened_at: dict[int | None, datetime] = {}
    latencies: list[float] = []
    open_items = 0
    peak = 0
    busy: dict[str, int] = {}
    human_minutes = 0.0
    for ev in events:
        p = ev.payload
        kind = ev.type
        if kind == "enrollment.created":
            counts["enrolled"] += 1
        elif kind == "step.due":
            counts["steps_due"] += 1
        elif kind == "draft.created":
            counts["drafts"] += 1
            counts["revisions"] += p.get("revision", 0) > 0
        elif kind == "attention.opened":
            counts["reviewer_flags"] += bool(p.get("flagged"))
            opened_at[ev.task_id] = ev.at
            open_items += 1
        elif kind == "decision.made":
            action, by = p.get("action"), p.get("by")
            if by == "rule":
                counts["approvals_rule"] += action in ("approve", "edit")
                continue
            open_items -= 1
            if action in ("approve", "edit"):
                counts["approvals_human"] += 1
            counts["edits"] += action == "edit"
            counts["rejections"] += action == "reject"
            if ev.task_id in opened_at:
                latencies.append((ev.at - opened_at.pop(ev.task_id)).total_seconds() / 3600)
        elif kind == "task.withdrawn":
            counts["withdrawn"] += 1
            open_items -= 1
        elif kind == "message.cancelled":
            counts["cancelled"] += 1
            # A rule switched off recalls what it approved and has not sent: that approval no
            # longer stands (the step is drafted again for the human).
            counts["approvals_rule"] -= p.get("recalled_rule_id") is not None
        elif kind == "message.sent":
            counts["sent"] += 1
            messaged.add(ev.contact_id)
        elif kind == "message.opened":
            counts["opened"] += 1
        elif kind == "message.clicked":
            counts["clicked"] += 1
        elif kind == "reply.received":
            if p.get("kind") == "reply":
                counts["replies"] += 1
                repliers.add(ev.contact_id)
                open_items += 1
        elif kind == "attention.resolved":
            open_items -= 1
        elif kind == "rule.suggested":
            counts["rule_suggestions"] += 1
            open_items += 1
        elif kind == "suggestion.handled":
            open_items -= 1
        elif kind == "enrollment.paused":
            counts["paused_by_reply"] += p.get("reason") == "replied"
        elif kind == "enrollment.ended":
            counts["bounced"] += p.get("status") == "bounced"
            counts["unsubscribed"] += p.get("status") == "unsubscribed"
        elif kind == "enrollment.completed":
            counts["completed"] += 1
        elif kind == "run.ended":
            busy = p.get("teammate_busy_minutes", {})
            human_minutes = float(p.get("human_minutes", 0.0))
        peak = max(peak, open_items)
    if invariants is None:
        invariants, _ = audit(events)
    capacity = {t.name: t.capacity for t in world.teammates}
    utilisation = [busy.get(name, 0) / (cap * minutes) for name, cap in capacity.items()
                   if minutes > 0]
    metrics: dict[str, Any] = {name: counts.get(name, 0) for name in METRICS}
    metrics.update(
        reply_rate=round(len(repliers & messaged) / len(messaged), 6) if messaged else 0.0,
        approval_latency_hours_p50=round(_quantile(sorted(latencies), 0.5), 4),
        approval_latency_hours_p90=round(_quantile(sorted(latencies), 0.9), 4),
        attention_peak=peak,
        attention_open_at_end=open_items,
        human_minutes=round(human_minutes, 2),
        teammate_utilisation=round(statistics.fmean(utilisation), 6) if utilisation else 0.0,
        **invariants,
    )
    return metrics
