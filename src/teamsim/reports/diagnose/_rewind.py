"""Enrollments rewound to a moment: their events folded up to it.

An enrollment row holds its latest state only; when the log goes on past the moment asked, the
checklist reads each enrollment as it stood then from the one fold of the event log
(:func:`teamsim.model.fold`), as the audit and the metrics do.
"""

from __future__ import annotations

from datetime import datetime

from teamsim.model import Enrollment, fold
from teamsim.store import UnitOfWork

__all__ = ["rewind"]


def rewind(uow: UnitOfWork, enrollments: list[Enrollment], at: datetime
           ) -> dict[int, tuple[Enrollment, datetime | None]]:
    """The enrollments as they stood at ``at``, folded from the simulator's event log.

    Only when the log goes on past ``at`` (the rows then show a later state) and only for
    enrollments with events by ``at``; returns each with the time it ended, if it had.
    """
    count = uow.events.count()
    if not count or max(e.at for e in uow.events.iter(after=count - 1)) <= at:
        return {}
    rows = {e.id: e for e in enrollments if e.id is not None}
    # Only these enrollments' events: one person on a big run folds one history, not all.
    events = (event for event in uow.events.iter() if event.enrollment_id in rows)
    return {
        eid: (rows[eid].model_copy(update={
            "status": history.status, "current_step_id": history.step_id,
            "next_due_at": history.due_at, "paused_at": history.paused_at,
            "ended_reason": history.ended_reason,
        }), history.ended_at)
        for eid, history in fold(events, until=at).items()
    }
