"""The auto-approve rules engine the simulator plugs into the pipeline's approval gate."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

from teamsim.domain import AutoApproveRule
from teamsim.graph import ApprovalRequest, RuleDecision

__all__ = ["RulesEngine", "rule_matches"]


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


class RulesEngine:
    """Evaluates enabled rules in id order, counting each one's approvals against its caps.

    A matching rule with room under its caps approves; a matching rule whose cap is used up
    answers ``approves=False`` with the reason (the draft then goes to the human), unless a
    later matching rule still has room. Per-day caps count days in ``timezone`` (the human's).

    Args:
        rules: the stored rules (with ids).
        timezone: the IANA time zone whose calendar days the per-day caps count.
    """

    def __init__(self, rules: Iterable[AutoApproveRule], timezone: str = "UTC") -> None:
        self._rules = {r.id or 0: r for r in sorted(rules, key=lambda r: r.id or 0)}
        self._tz = ZoneInfo(timezone)
        self._total: dict[int, int] = dict.fromkeys(self._rules, 0)
        self._daily: dict[tuple[int, date], int] = {}

    def set_enabled(self, rule_id: int, enabled: bool) -> None:
        """Switch a rule on or off; takes effect for the very next evaluation."""
        self._rules[rule_id] = self._rules[rule_id].model_copy(update={"enabled": enabled})

    def add(self, rule: AutoApproveRule) -> None:
        """Add a stored rule (for example one accepted from a suggestion)."""
        assert rule.id is not None
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
            if not rule.enabled or not rule_matches(rule, request):
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
