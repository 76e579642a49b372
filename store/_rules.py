"""Auto-approve rules (``uow.rules``): ORM, a handful of rows edited as whole objects.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from teamsim.model import AutoApproveRule, ConflictError
from teamsim.store._models import DecisionRow, RuleRow
from teamsim.store._repository import Repository
from teamsim.store._types import require_utc

__all__ = ["RuleRepository"]



class RuleRepository(Repository):
    """Auto-approve rules and how often each approved (``uow.rules``)."""

    __slots__ = ()

    def add(self, rule: AutoApproveRule) -> AutoApproveRule:
        """Store a new auto-approve rule; returns it with its ``id``.

        Raises:
            ConflictError: a rule with that name exists.
        """
        self._check_rule_name(rule.name, None)
        rule_id = self._insert(RuleRow, {
            "name": rule.name, "enabled": rule.enabled, "definition": _rule_definition(rule),
        })
        return rule.model_copy(update={"id": rule_id})

    def save(self, rule: AutoApproveRule) -> AutoApproveRule:
        """Save changes to a stored rule (switching it on or off, changing caps...)."""
        if rule.id is None:
            raise ValueError(f"save_rule: rule {rule.name!r} has no id; store it with add_rule")
        row = self._get(RuleRow, rule.id, "rule")
        if row.name != rule.name:
            self._check_rule_name(rule.name, row.id)
        row.name = rule.name
        row.enabled = rule.enabled
        row.definition = _rule_definition(rule)
        self._session.flush()
        return rule

    def get(self, id_or_name: int | str) -> AutoApproveRule:
        """A rule, by id or by name."""
        return _rule_from_row(
            self._get_by(RuleRow, id_or_name, RuleRow.name, "rule named",
                         "`teamsim rules list RUN_DIR` shows them"))

    def list(self) -> builtins.list[AutoApproveRule]:
        """Every rule, in order of creation."""
        rows = self._session.scalars(select(RuleRow).order_by(RuleRow.id))
        return [_rule_from_row(row) for row in rows]

    def approvals(self, rule_id: int, since: datetime | None = None) -> int:
        """How many drafts rule ``rule_id`` approved (at or after ``since``, if given)."""
        self._pending.flush()
        query = select(func.count()).select_from(DecisionRow).where(
            DecisionRow.rule_id == rule_id, DecisionRow.action.in_(("approve", "edit"))
        )
        if since is not None:
            query = query.where(
                DecisionRow.decided_at >= require_utc(since, "rule_approvals(since=...)")
            )
        return int(self._session.scalar(query) or 0)

    def _check_rule_name(self, name: str, own_id: int | None) -> None:
        other = self._session.scalar(select(RuleRow.id).where(RuleRow.name == name))
        if other is not None and other != own_id:
            raise ConflictError(
                f"a rule named {name!r} already exists (id {other}) in {self._where}; "
                "pick another name or edit that rule"
            )



def _rule_definition(rule: AutoApproveRule) -> dict[str, Any]:
    return rule.model_dump(mode="json", exclude={"id", "name", "enabled"})


def _rule_from_row(row: RuleRow) -> AutoApproveRule:
    return AutoApproveRule.model_validate(
        {**row.definition, "id": row.id, "name": row.name, "enabled": row.enabled}
    )
