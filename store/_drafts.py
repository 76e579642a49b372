"""Drafts, their peer reviews and the decisions on them (``uow.drafts``).

Write-behind (Core, buffered): every due step writes a draft, a review and a decision.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select

from teamsim.store._models import DecisionRow, DraftRow, ReviewRow
from teamsim.store._records import (
    DecidedBy,
    DecisionAction,
    DecisionRecord,
    DraftRecord,
    ReviewRecord,
)
from teamsim.store._repository import Repository, one_of
from teamsim.store._types import require_utc

__all__ = ["DraftRepository"]

_ACTIONS = frozenset({"approve", "edit", "reject"})
_DECIDERS = frozenset({"human", "rule"})
_DECISIONS = cast(Table, DecisionRow.__table__)


class DraftRepository(Repository):
    """A task's drafts, reviews and decisions (``uow.drafts``)."""

    __slots__ = ()

    def add(
        self,
        *,
        task_id: int,
        revision: int,
        author_id: int | None,
        subject: str | None,
        body: str,
        minutes: int,
        at: datetime,
    ) -> int:
        """Record a draft (``revision`` 0) or a revision of a task's message; returns its id."""
        return self._pending.add(DraftRow, {
            "task_id": task_id, "revision": revision, "author_id": author_id,
            "subject": subject, "body": body, "minutes": minutes,
            "created_at": require_utc(at, "add_draft(at=...)"),
        })

    def get(self, draft_id: int) -> DraftRecord:
        """A draft, by id."""
        return _draft_record(self._load(DraftRow, draft_id, "draft"))

    def list(self, task_id: int) -> builtins.list[DraftRecord]:
        """A task's drafts, first draft first."""
        rows = [_draft_record(row) for row in self._of_task(DraftRow, task_id)]
        rows.sort(key=lambda draft: (draft.revision, draft.id))
        return rows

    def add_review(
        self,
        *,
        task_id: int,
        draft_id: int,
        reviewer_id: int | None,
        verdict: str,
        notes: Iterable[str],
        minutes: int,
        at: datetime,
    ) -> int:
        """Record a peer review of a draft; returns its id."""
        return self._pending.add(ReviewRow, {
            "task_id": task_id, "draft_id": draft_id, "reviewer_id": reviewer_id,
            "verdict": verdict, "notes": list(notes), "minutes": minutes,
            "created_at": require_utc(at, "add_review(at=...)"),
        })

    def reviews(self, task_id: int) -> builtins.list[ReviewRecord]:
        """A task's reviews, oldest first."""
        return [_review_record(row) for row in self._of_task(ReviewRow, task_id)]

    def add_decision(
        self,
        *,
        task_id: int,
        draft_id: int | None,
        action: DecisionAction,
        by: DecidedBy,
        at: datetime,
        rule_id: int | None = None,
        note: str = "",
        subject: str | None = None,
        body: str | None = None,
    ) -> int:
        """Record a decision on a draft (and, when approved, the final text); returns its id."""
        one_of(action, _ACTIONS, "decision action")
        one_of(by, _DECIDERS, "decision by")
        if by == "rule" and rule_id is None:
            raise ValueError("a decision by a rule needs the rule_id of that rule")
        return self._pending.add(DecisionRow, {
            "task_id": task_id, "draft_id": draft_id, "action": action, "by": by,
            "rule_id": rule_id, "note": note, "subject": subject, "body": body,
            "decided_at": require_utc(at, "add_decision(at=...)"),
        })

    def decisions(
        self, task_id: int | None = None, *, rule_id: int | None = None
    ) -> builtins.list[DecisionRecord]:
        """Decisions (of one task, or of one rule), oldest first."""
        if task_id is not None:
            return [
                _decision_record(row) for row in self._of_task(DecisionRow, task_id)
                if rule_id is None or row["rule_id"] == rule_id
            ]
        query = select(_DECISIONS).order_by(_DECISIONS.c.id)
        if rule_id is not None:
            query = query.where(_DECISIONS.c.rule_id == rule_id)
        return [_decision_record(row) for row in self._written(query)]



def _draft_record(row: Mapping[str, Any]) -> DraftRecord:
    return DraftRecord(**row)


def _review_record(row: Mapping[str, Any]) -> ReviewRecord:
    return ReviewRecord(**{**row, "notes": tuple(row["notes"])})


def _decision_record(row: Mapping[str, Any]) -> DecisionRecord:
    return DecisionRecord(**row)
