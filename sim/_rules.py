"""The auto-approve rules engine the simulator plugs into the pipeline's approval gate.

:class:`RulesEngine` answers the gate while a run goes on. What a rule *would* have approved
had it been on (``teamsim rules preview``) is a report: :mod:`teamsim.reports`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from teamsim.graph import ApprovalRequest, RuleDecision
from teamsim.model import AutoApproveRule, MessageStep

__all__ = ["RulesEngine", "covering_rule", "rule_matches"]


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
