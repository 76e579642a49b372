"""What the checklist answers: the questions, the findings, the diagnosis, and the spec's fixes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from teamsim.model import Contact, EnrollmentStatus

__all__ = [
    "DEFAULT_TICK_MINUTES",
    "ENDED",
    "ENDED_ORDER",
    "FIX_ACTIVATE",
    "FIX_ENROLL",
    "FIX_GIVE_IT_A_MOMENT",
    "FIX_NEEDS_ATTENTION",
    "FIX_REPLIED",
    "FIX_STILL_STUCK",
    "RESUME",
    "Check",
    "Diagnosis",
    "Finding",
    "FindingStatus",
    "ended_fix",
]

DEFAULT_TICK_MINUTES: Final = 15
"""The scheduler's tick when neither the caller nor meta ``run.tick_minutes`` gives one."""

FIX_ACTIVATE: Final = "Select it and click Activate."
FIX_ENROLL: Final = "Use Enroll to add a contact."
FIX_NEEDS_ATTENTION: Final = (
    "Open Needs attention — the next message may be drafted and waiting for your OK."
)
FIX_REPLIED: Final = (
    "A reply pauses the sequence for that person on purpose, so the next step won't go out "
    "to them."
)
FIX_GIVE_IT_A_MOMENT: Final = (
    "Give it a moment. Steps run on a schedule, so a just-added step or a fresh draft can "
    "take a little while to appear."
)
FIX_STILL_STUCK: Final = "Still stuck? Head to Getting help and we'll sort it out with you."

RESUME: Final = (
    " Pick up the conversation from their reply in Needs attention; if they should still get "
    "the remaining steps, resume them (in a scenario timeline: action: resume)."
)
ENDED: Final = frozenset({
    EnrollmentStatus.COMPLETED, EnrollmentStatus.BOUNCED, EnrollmentStatus.UNSUBSCRIBED,
    EnrollmentStatus.ENDED,
})
ENDED_ORDER: Final = (EnrollmentStatus.BOUNCED, EnrollmentStatus.UNSUBSCRIBED,
                      EnrollmentStatus.COMPLETED, EnrollmentStatus.ENDED)
"""The ended statuses in the order their fixes are given."""


class Check(StrEnum):
    """Which question of the checklist a finding answers (in the spec's order)."""

    NOT_ACTIVE = "not_active"
    NO_ONE_ENROLLED = "no_one_enrolled"
    NOT_ENROLLED = "not_enrolled"
    WAITING_ON_YOU = "waiting_on_you"
    REPLIED = "replied"
    SCHEDULE = "schedule"
    ENDED = "ended"
    ALL_CLEAR = "all_clear"

    @property
    def question(self) -> str:
        """The checklist's question, as the spec words it."""
        return _QUESTIONS[self]


_QUESTIONS: Final = {
    Check.NOT_ACTIVE: "Is the sequence active?",
    Check.NO_ONE_ENROLLED: "Did you enroll anyone?",
    Check.NOT_ENROLLED: "Did you enroll them?",
    Check.WAITING_ON_YOU: "Is the step waiting on you?",
    Check.REPLIED: "Did the person reply?",
    Check.SCHEDULE: "Is it the schedule?",
    Check.ENDED: "Has the enrollment ended?",
    Check.ALL_CLEAR: "Anything else?",
}


class FindingStatus(StrEnum):
    """``problem``: this stops sends; ``info``: pending on the schedule; ``ok``: nothing wrong."""

    PROBLEM = "problem"
    OK = "ok"
    INFO = "info"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """The answer to one question of the checklist.

    Attributes:
        check: the question answered.
        status: whether it explains why nothing goes out.
        message: what the store shows, with the facts (ids, steps, times).
        fix: what to do, in the spec's words; empty when there is nothing to do.
    """

    check: Check
    status: FindingStatus
    message: str
    fix: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnosis:
    """The checklist for one sequence (and optionally one person on it) at one moment.

    Attributes:
        sequence: the sequence's name.
        contact: the contact's email, or ``None`` for the whole sequence.
        at: the moment diagnosed (UTC).
        tick_minutes: the scheduler's tick used for "next tick".
        findings: one finding per question, in the spec's order.
        answer: the first problem; else the schedule, if something is pending on it; else an
            all-clear finding (then also the last of ``findings``).
    """

    sequence: str
    contact: str | None
    at: datetime
    tick_minutes: int
    findings: tuple[Finding, ...]
    answer: Finding


def ended_fix(status: EnrollmentStatus, contact: Contact | None) -> str:
    """The spec's fix for an enrollment that ended with ``status`` (``contact``: one person)."""
    if status is EnrollmentStatus.BOUNCED:
        address = f" ({contact.email})" if contact is not None else "es"
        return (f"Check the address{address}: a bounced address gets nothing more; correct "
                "it and enroll the person into another sequence.")
    if status is EnrollmentStatus.UNSUBSCRIBED:
        return "They asked not to be contacted: leave them off; don't enroll them again."
    if status is EnrollmentStatus.COMPLETED:
        return "They have had every step; to keep in touch, enroll them into another sequence."
    return "It was ended on purpose; to reach them again, enroll them into another sequence."
