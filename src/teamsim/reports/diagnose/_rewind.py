"""Enrollments rewound to a moment: replayed from the simulator's event log.

An enrollment row holds its latest state only; when the log goes on past the moment asked, the
checklist replays each enrollment's events up to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from teamsim.model import Enrollment, EnrollmentStatus, EventKind
from teamsim.store import UnitOfWork

__all__ = ["rewind"]

_STEP_AT: Final = frozenset({EventKind.ENROLLMENT_CREATED, EventKind.STEP_DUE})
_NOTHING_DUE: Final = frozenset({EventKind.WAIT_DONE, EventKind.MESSAGE_SENT,
                                 EventKind.STEP_SKIPPED})
_FINISHED: Final = frozenset({EventKind.ENROLLMENT_COMPLETED, EventKind.ENROLLMENT_ENDED})


def rewind(uow: UnitOfWork, enrollments: list[Enrollment], at: datetime
           ) -> dict[int, tuple[Enrollment, datetime | None]]:
    """The enrollments as they stood at ``at``, replayed from the simulator's event log.

    Only when the log goes on past ``at`` (the rows then show a later state) and only for
    enrollments with events by ``at``; returns each with the time it ended, if it had.
    """
    count = uow.events.count()
    if not count or max(e.at for e in uow.events.iter(after=count - 1)) <= at:
        return {}
    rows = {e.id: e for e in enrollments if e.id is not None}
    states: dict[int, dict[str, Any]] = {}
    for event in uow.events.iter():
        if event.at > at:
            break  # the simulator appends in time order
        eid = event.enrollment_id
        if eid is None or eid not in rows:
            continue
        state = states.setdefault(eid, {
            "status": EnrollmentStatus.ACTIVE, "current_step_id": None, "next_due_at": None,
            "paused_at": None, "ended_reason": None, "ended_at": None,
        })
        _replay(state, event.type, event.at, event.payload)
    rewound: dict[int, tuple[Enrollment, datetime | None]] = {}
    for eid, state in states.items():
        ended_at = state.pop("ended_at")
        rewound[eid] = (rows[eid].model_copy(update=state), ended_at)
    return rewound


def _replay(state: dict[str, Any], kind: str, at: datetime, payload: dict[str, Any]) -> None:
    """Apply one enrollment event to its replayed state."""
    step = payload.get("step_id")
    if kind in _STEP_AT:
        state.update(current_step_id=step,
                     next_due_at=at if kind == EventKind.STEP_DUE else None)
    elif kind == EventKind.WAIT_STARTED:
        until = payload.get("until")
        state.update(current_step_id=step,
                     next_due_at=datetime.fromisoformat(until) if until else None)
    elif kind in _NOTHING_DUE:
        state.update(next_due_at=None)
    elif kind == EventKind.ENROLLMENT_MOVED:
        state.update(current_step_id=payload.get("to"), next_due_at=None)
    elif kind == EventKind.ENROLLMENT_PAUSED:
        state.update(status=EnrollmentStatus.PAUSED, paused_at=at)
    elif kind == EventKind.ENROLLMENT_RESUMED:
        state.update(status=EnrollmentStatus.ACTIVE, paused_at=None)
    elif kind in _FINISHED:
        status = EnrollmentStatus(payload.get("status", EnrollmentStatus.COMPLETED.value))
        state.update(status=status, ended_reason=payload.get("reason"), ended_at=at)
        if status is EnrollmentStatus.COMPLETED:
            state.update(current_step_id=None, next_due_at=None)
