"""The auto-approve rules engine the simulator plugs into the pipeline's approval gate.

:class:`RulesEngine` answers the gate while a run goes on; :func:`preview` answers, from a
run's store, what a rule *would* have approved had it been on (see its docstring for how).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from teamsim.graph import ApprovalRequest, RuleDecision
from teamsim.model import AutoApproveRule, MessageStep, Sequence
from teamsim.sim.config import World
from teamsim.store import AttentionItem, DecisionRecord, Store, TaskRecord, UnitOfWork

__all__ = [
    "PreviewedDraft",
    "RulePreview",
    "RuleUsage",
    "RulesEngine",
    "covering_rule",
    "human_timezone",
    "preview",
    "preview_world_rules",
    "rule_matches",
    "rule_usage",
    "run_ended",
]


def rule_matches(rule: AutoApproveRule, request: ApprovalRequest) -> bool:
    """Whether ``rule`` covers the kind of step in ``request`` (enabled or not, caps aside).

    One-off chat requests are never covered: rules are for routine sequence steps.
    """
    if request.sequence is None:
        return False
    if rule.sequence is not None and rule.sequence != request.sequence:
        return False
    if rule.step is not None and rule.step not in (request.step_id, request.step_label):
        return False
    if rule.channel is not None and rule.channel != request.channel:
        return False
    if rule.teammate is not None and rule.teammate != request.teammate:
        return False
    return not (rule.require_clean_review and not request.clean_review)


def covering_rule(
    rules: Iterable[AutoApproveRule], *, sequence: str, step: MessageStep, teammate: str,
    at: datetime,
) -> AutoApproveRule | None:
    """The first enabled rule that covers drafts of ``step`` by ``teammate``, caps aside (a
    rule whose cap is used up still covers the step: suggesting another would duplicate it).

    Args:
        rules: the rules as they stand now.
        sequence: the sequence's name.
        step: the message step.
        teammate: the drafting teammate.
        at: now.
    """
    request = ApprovalRequest(
        task_id=0, sequence_id=None, sequence=sequence, step_id=step.id, step_label=step.label,
        channel=step.channel, teammate=teammate, clean_review=True, at=at)
    return next((r for r in rules if r.enabled and rule_matches(r, request)), None)


class RulesEngine:
    """Evaluates enabled rules in id order, counting each one's approvals against its caps.

    A matching rule with room under its caps approves; a matching rule whose cap is used up
    answers ``approves=False`` with the reason (the draft then goes to the human), unless a
    later matching rule still has room. Per-day caps count days in ``timezone`` (the human's).

    Whether a rule is on is decided at the moment the draft is ready (``request.at``), not
    when the work on it began: a switch made with :meth:`set_enabled` ``at`` a moment holds
    for every draft ready at or after it, so disabling a rule stops drafts already in the
    teammates' hands too, and a switch scheduled ahead (a timeline action) is honoured by
    work that started before it.

    Args:
        rules: the stored rules (with ids).
        timezone: the IANA time zone whose calendar days the per-day caps count.
    """

    def __init__(self, rules: Iterable[AutoApproveRule], timezone: str = "UTC") -> None:
        self._rules = {r.id or 0: r for r in sorted(rules, key=lambda r: r.id or 0)}
        self._tz = ZoneInfo(timezone)
        self._total: dict[int, int] = dict.fromkeys(self._rules, 0)
        self._daily: dict[tuple[int, date], int] = {}
        self._switches: dict[int, list[tuple[datetime, bool]]] = {}

    def set_enabled(self, rule_id: int, enabled: bool, *, at: datetime | None = None) -> None:
        """Switch a rule on or off.

        Args:
            rule_id: the rule.
            enabled: on or off.
            at: the moment the switch happens; drafts ready at or after it see it (later
                switches at the same moment win). Without ``at`` the switch holds for every
                evaluation from now on, whenever its draft is ready.
        """
        if rule_id not in self._rules:
            raise ValueError(f"no rule with id {rule_id}; add it first")
        if at is None:
            self._rules[rule_id] = self._rules[rule_id].model_copy(update={"enabled": enabled})
            self._switches.pop(rule_id, None)
            return
        switches = self._switches.setdefault(rule_id, [])
        where = bisect.bisect_right(switches, at, key=lambda s: s[0])
        switches.insert(where, (at, enabled))

    def is_enabled(self, rule_id: int, at: datetime) -> bool:
        """Whether the rule is on for a draft ready at ``at``."""
        switches = self._switches.get(rule_id, [])
        where = bisect.bisect_right(switches, at, key=lambda s: s[0])
        return switches[where - 1][1] if where else self._rules[rule_id].enabled

    def add(self, rule: AutoApproveRule) -> None:
        """Add a stored rule (for example one accepted from a suggestion)."""
        if rule.id is None:
            raise ValueError(f"rule {rule.name!r} has no id; store it first")
        self._rules[rule.id] = rule
        self._total.setdefault(rule.id, 0)

    def used(self, rule_id: int) -> int:
        """How many drafts the rule has approved so far."""
        return self._total.get(rule_id, 0)

    def evaluate(self, request: ApprovalRequest) -> RuleDecision | None:
        """The decision of the first enabled matching rule with room, else of a capped one."""
        day = request.at.astimezone(self._tz).date()
        capped: RuleDecision | None = None
        for rule_id, rule in self._rules.items():
            if not self.is_enabled(rule_id, request.at) or not rule_matches(rule, request):
                continue
            if rule.max_total is not None and self._total[rule_id] >= rule.max_total:
                capped = capped or RuleDecision(
                    rule_id=rule_id, approves=False,
                    reason=f"rule {rule.name!r} used its total cap of {rule.max_total}")
                continue
            today = self._daily.get((rule_id, day), 0)
            if rule.max_per_day is not None and today >= rule.max_per_day:
                capped = capped or RuleDecision(
                    rule_id=rule_id, approves=False,
                    reason=f"rule {rule.name!r} used its cap of {rule.max_per_day} for {day}")
                continue
            self._total[rule_id] += 1
            self._daily[(rule_id, day)] = today + 1
            return RuleDecision(rule_id=rule_id, approves=True)
        return capped


# ---------------------------------------------------------------------------------------------
# preview


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviewedDraft:
    """One draft a preview looked at.

    Attributes:
        task_id: the pipeline task.
        sequence: the sequence's name.
        step_id: the message step's id.
        step_label: its label when the draft was written.
        channel: the message's channel.
        teammate: the drafting teammate.
        contact: the contact's email.
        at: when the draft reached the approval gate (UTC).
        day: the day its approval counts against, in the preview's time zone (for a draft
            still waiting: the day of the preview's ``at``).
        reason: for a capped draft, which cap stopped it.
    """

    task_id: int
    sequence: str
    step_id: str
    step_label: str
    channel: str
    teammate: str
    contact: str
    at: datetime
    day: date
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RulePreview:
    """What :func:`preview` found for one rule.

    Attributes:
        rule: the rule previewed.
        timezone: the time zone whose days the per-day cap counted.
        since: only drafts that reached the gate at or after this moment were looked at.
        at: the preview's "now": drafts still waiting are approved on this day.
        reached_gate: how many drafts reached the approval gate (since ``since``).
        past: drafts already decided (or withdrawn) that the rule would have approved.
        past_capped: decided drafts it matched but a cap stopped.
        waiting: drafts waiting in Needs attention now that it would approve.
        waiting_capped: waiting drafts it matched but a cap stopped.
    """

    rule: AutoApproveRule
    timezone: str
    since: datetime | None
    at: datetime
    reached_gate: int
    past: tuple[PreviewedDraft, ...]
    past_capped: tuple[PreviewedDraft, ...]
    waiting: tuple[PreviewedDraft, ...]
    waiting_capped: tuple[PreviewedDraft, ...]

    @property
    def matched(self) -> int:
        """Drafts the rule matches, capped or not."""
        return (len(self.past) + len(self.past_capped) + len(self.waiting)
                + len(self.waiting_capped))

    @property
    def would_approve(self) -> int:
        """Drafts the rule would approve: past ones and waiting ones, within its caps."""
        return len(self.past) + len(self.waiting)

    @property
    def capped(self) -> int:
        """Matching drafts a cap stopped (they would go to the human)."""
        return len(self.past_capped) + len(self.waiting_capped)

    @property
    def per_day(self) -> dict[date, int]:
        """Approvals per day (in :attr:`timezone`), in date order."""
        counts = Counter(d.day for d in (*self.past, *self.waiting))
        return dict(sorted(counts.items()))

    @property
    def total_left(self) -> int | None:
        """Room left under the total cap after these approvals (``None``: no total cap)."""
        if self.rule.max_total is None:
            return None
        return self.rule.max_total - self.would_approve

    @property
    def days_at_cap(self) -> tuple[date, ...]:
        """Days on which the per-day cap was used up."""
        cap = self.rule.max_per_day
        return () if cap is None else tuple(d for d, n in self.per_day.items() if n >= cap)


@dataclass(slots=True)
class _Arrival:
    """A task's first arrival at the approval gate (the round on which rules are asked)."""

    task: TaskRecord
    at: datetime
    item: AttentionItem | None
    decision: DecisionRecord | None

    @property
    def waiting(self) -> bool:
        return self.item is not None and self.item.status == "open"


def preview(
    uow: UnitOfWork,
    rule: AutoApproveRule,
    *,
    at: datetime | None = None,
    timezone: str | None = None,
    since: datetime | None = None,
) -> RulePreview:
    """Which drafts in the store ``rule`` would have approved, and would approve now.

    How preview works: every sequence-step task that reached the approval gate is looked at
    once, at its *first* arrival there (the moment the draft, reviewed, was ready: its Needs
    attention item's time, or the time of the decision when a rule approved it). That is the
    round on which the simulator asks the rules; after a rejection a redraft never is. The
    arrivals are taken in time order (task id on ties) and each becomes the request the gate
    would have made: the sequence's name, the step's id and label, the channel, the drafting
    teammate, and whether the final review passed with no open concerns. The rule, treated as
    enabled from ``since`` on, is then asked about each through a fresh :class:`RulesEngine`,
    so matching and caps behave exactly as in a run: a total cap counts every approval, a
    per-day cap counts the approvals of each day in ``timezone``. Drafts already decided
    (approved, edited, rejected, or withdrawn before a decision) come first, at their own
    moments; drafts still waiting in Needs attention come after them, approved at ``at`` (the
    rule, switched on now, would clear them today), against what the past left of the caps.

    What the rule would have changed afterwards (earlier sends, replies, follow-ups) is not
    re-simulated: preview answers about the drafts the store holds. Run the world again with
    the rule on to see the rest.

    Args:
        uow: an open unit of work on the run's store.
        rule: the rule (stored or not; its ``enabled`` flag is ignored).
        at: the preview's "now" (default: when the run ended, else the latest moment the
            store records).
        timezone: the IANA time zone of the per-day cap (default: the human's, as the run
            recorded it, else UTC).
        since: look only at drafts that reached the gate at or after this moment.

    Returns:
        The drafts the rule would approve and those its caps stop, with counts.
    """
    timezone = timezone or human_timezone(uow)
    zone = ZoneInfo(timezone)
    arrivals = [a for a in _arrivals(uow) if since is None or a.at >= since]
    now = at if at is not None else _now(uow, arrivals)
    today = now.astimezone(zone).date()
    candidate = rule.model_copy(update={"id": rule.id or 0, "enabled": True})
    engine = RulesEngine([candidate], timezone)
    lookup = _Lookup(uow)
    found: dict[str, list[PreviewedDraft]] = {
        "past": [], "past_capped": [], "waiting": [], "waiting_capped": []}
    ordered = [a for a in arrivals if not a.waiting] + [a for a in arrivals if a.waiting]
    for arrival in ordered:
        request = lookup.request(arrival, clean=True)
        if request is None or not rule_matches(candidate, request):
            continue
        if candidate.require_clean_review and not lookup.clean(arrival):
            continue
        when = now if arrival.waiting else arrival.at
        decision = engine.evaluate(replace(request, at=when))
        assert decision is not None
        key = "waiting" if arrival.waiting else "past"
        if not decision.approves:
            key += "_capped"
        found[key].append(PreviewedDraft(
            task_id=arrival.task.id, sequence=str(request.sequence),
            step_id=str(request.step_id), step_label=request.step_label,
            channel=request.channel, teammate=request.teammate,
            contact=lookup.contact(arrival.task.contact_id), at=arrival.at,
            day=today if arrival.waiting else arrival.at.astimezone(zone).date(),
            reason=decision.reason))
    return RulePreview(
        rule=rule, timezone=timezone, since=since, at=now, reached_gate=len(arrivals),
        past=tuple(found["past"]), past_capped=tuple(found["past_capped"]),
        waiting=tuple(found["waiting"]), waiting_capped=tuple(found["waiting_capped"]))


def preview_world_rules(store: Store, world: World) -> dict[str, RulePreview]:
    """Preview every rule of a finished run, by name: the world's rules and the suggested
    ones the run stored, each over the whole run, per-day caps in the human's time zone.

    Args:
        store: the run's store.
        world: the world that ran.
    """
    timezone = world.approver.timezone
    with store.unit_of_work() as uow:
        return {rule.name: preview(uow, rule, timezone=timezone) for rule in uow.rules.list()}


def _arrivals(uow: UnitOfWork) -> list[_Arrival]:
    """Each step task's first arrival at the approval gate, in time order."""
    items: dict[int, AttentionItem] = {}
    for item in uow.attention.list(None, kind="draft"):
        if item.task_id is not None:
            items.setdefault(item.task_id, item)
    decisions: dict[int, DecisionRecord] = {}
    for decision in uow.drafts.decisions():
        decisions.setdefault(decision.task_id, decision)
    arrivals: list[_Arrival] = []
    for task in uow.tasks.list(kind="step"):
        shown, decided = items.get(task.id), decisions.get(task.id)
        if shown is not None and (decided is None or shown.created_at <= decided.decided_at):
            arrivals.append(_Arrival(task=task, at=shown.created_at, item=shown, decision=None))
        elif decided is not None:
            arrivals.append(_Arrival(task=task, at=decided.decided_at, item=None,
                                     decision=decided))
    arrivals.sort(key=lambda a: (a.at, a.task.id))
    return arrivals


def _now(uow: UnitOfWork, arrivals: list[_Arrival]) -> datetime:
    """When the run ended, else the latest arrival; the Unix epoch for an empty store."""
    ended = run_ended(uow)
    if ended is not None:
        return ended
    if arrivals:
        return arrivals[-1].at
    return datetime.fromtimestamp(0, tz=UTC)


def run_ended(uow: UnitOfWork) -> datetime | None:
    """When the run recorded in the store ended (its ``run.ended`` event), if it did."""
    for event in uow.events.iter(type="run.ended"):
        return event.at
    return None


def human_timezone(uow: UnitOfWork) -> str:
    """The human's time zone as the run recorded it (``UTC`` if it did not)."""
    return uow.meta.get("run.human_timezone") or "UTC"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleUsage:
    """How much of its caps a stored rule has used, as ``teamsim rules list`` shows it.

    Attributes:
        rule: the rule.
        used: drafts it approved in all.
        day: the day counted as today (in the human's time zone).
        used_today: drafts it approved on ``day``.
        suggested: whether the rule came from a suggestion.
    """

    rule: AutoApproveRule
    used: int
    day: date
    used_today: int
    suggested: bool

    @property
    def status(self) -> str:
        """``on`` or ``off``, then which cap is used up, if one is."""
        parts = ["on" if self.rule.enabled else "off"]
        if self.rule.max_total is not None and self.used >= self.rule.max_total:
            parts.append("total cap used up")
        elif self.rule.max_per_day is not None and self.used_today >= self.rule.max_per_day:
            parts.append("today's cap used up")
        return ", ".join(parts)


def rule_usage(
    uow: UnitOfWork, *, at: datetime | None = None, timezone: str | None = None
) -> list[RuleUsage]:
    """Every stored rule's use against its caps, in id order.

    Args:
        uow: an open unit of work on the run's store.
        at: "now", whose day is today (default: when the run ended, else the current time
            of the store's latest decision).
        timezone: the time zone of the per-day caps (default: the human's, as recorded).
    """
    zone = ZoneInfo(timezone or human_timezone(uow))
    now = at or run_ended(uow)
    if now is None:
        decided = uow.drafts.decisions()
        now = decided[-1].decided_at if decided else datetime.fromtimestamp(0, tz=UTC)
    local = now.astimezone(zone)
    today = local.date()
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    suggested = {item.payload.get("rule_id")
                 for item in uow.attention.list(None, kind="rule_suggestion")}
    usage = []
    for rule in uow.rules.list():
        assert rule.id is not None
        usage.append(RuleUsage(
            rule=rule, used=uow.rules.approvals(rule.id), day=today,
            used_today=uow.rules.approvals(rule.id, since=midnight),
            suggested=rule.id in suggested))
    return usage


class _Lookup:
    """Names behind a task's ids, read once per sequence, teammate and contact."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._teammates = {t.id: t.name for t in uow.teammates.list()}
        self._versions: dict[int, list[tuple[datetime, Sequence]]] = {}
        self._contacts: dict[int, str] = {}

    def contact(self, contact_id: int) -> str:
        if contact_id not in self._contacts:
            self._contacts[contact_id] = self._uow.contacts.get(contact_id).email
        return self._contacts[contact_id]

    def _sequence_at(self, sequence_id: int, at: datetime) -> Sequence:
        """The sequence as it was saved at ``at`` (its first version if ``at`` is earlier)."""
        if sequence_id not in self._versions:
            self._versions[sequence_id] = [
                (v.saved_at, v.sequence) for v in self._uow.sequences.versions(sequence_id)]
        versions = self._versions[sequence_id]
        where = bisect.bisect_right(versions, at, key=lambda v: v[0])
        return versions[max(where - 1, 0)][1]

    def request(self, arrival: _Arrival, *, clean: bool) -> ApprovalRequest | None:
        """The request the gate made (``clean`` stands in for the review, checked apart)."""
        task = arrival.task
        if task.sequence_id is None or task.step_id is None:
            return None
        seq = self._sequence_at(task.sequence_id, task.created_at)
        step = next((s for s in seq.iter_steps() if s.id == task.step_id), None)
        shown: dict[str, Any] = arrival.item.payload if arrival.item is not None else {}
        label = (shown.get("step") or {}).get("label")
        if label is None:
            label = step.label if step is not None else ""
        channel = shown.get("channel")
        if channel is None:
            message = self._uow.messages.for_task(task.id)
            if message is not None:
                channel = message.channel
            elif isinstance(step, MessageStep):
                channel = step.channel
            else:
                return None
        return ApprovalRequest(
            task_id=task.id, sequence_id=task.sequence_id, sequence=seq.name,
            step_id=task.step_id, step_label=str(label), channel=str(channel),
            teammate=self._teammates.get(task.teammate_id, ""), clean_review=clean,
            at=arrival.at)

    def clean(self, arrival: _Arrival) -> bool:
        """Whether the final review before the gate passed with no open concerns."""
        if arrival.item is not None:
            shown = arrival.item.payload
            reviews = shown.get("reviews") or []
            passed = bool(reviews) and reviews[-1].get("verdict") == "pass"
            return passed and not shown.get("flagged") and not shown.get("open_concerns")
        reviews = [r for r in self._uow.drafts.reviews(arrival.task.id)
                   if r.created_at <= arrival.at]
        return bool(reviews) and reviews[-1].verdict == "pass"
