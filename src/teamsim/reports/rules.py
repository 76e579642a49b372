"""What auto-approve rules did in a run, and what one would have done: read off the run's store.

:func:`preview` answers what a rule *would* have approved had it been on (see its docstring for
how), through the simulator's own :class:`~teamsim.sim.RulesEngine`; :func:`rule_usage` tells
how much of its caps each stored rule has used. ``teamsim rules`` prints both.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from teamsim.graph import ApprovalRequest
from teamsim.model import AutoApproveRule, MessageStep, Sequence
from teamsim.reports._meta import human_timezone, run_ended
from teamsim.sim import RulesEngine, rule_matches
from teamsim.store import AttentionItem, DecisionRecord, Store, TaskRecord, UnitOfWork

if TYPE_CHECKING:
    from teamsim.sim import World

__all__ = [
    "PreviewedDraft",
    "RulePreview",
    "RuleUsage",
    "preview",
    "preview_world_rules",
    "rule_usage",
]


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
        if decision is None:  # the candidate is on and matches: the engine always answers
            raise RuntimeError(f"preview: the rules engine did not answer for task "
                               f"{arrival.task.id}")
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
        if rule.id is None:  # pragma: no cover - a stored rule always has its id
            raise RuntimeError(f"rule {rule.name!r} was read from the store without an id")
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
