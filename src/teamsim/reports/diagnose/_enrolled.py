"""The first questions: is the sequence active, and did you enroll anyone (or them)?"""

from __future__ import annotations

from teamsim.model import Contact, Enrollment, SequenceStatus
from teamsim.reports.diagnose._facts import Facts
from teamsim.reports.diagnose._findings import (
    FIX_ACTIVATE,
    FIX_ENROLL,
    Check,
    Finding,
    FindingStatus,
)
from teamsim.reports.diagnose._wording import counts, people, stamp

__all__ = ['active', 'contact_enrolled', 'sequence_enrolled']


def active(facts: Facts) -> Finding:
    """Is the sequence active?"""
    status = facts.current.status
    since = facts.versions[-1].saved_at
    for version in reversed(facts.versions):
        if version.sequence.status is not status:
            break
        since = version.saved_at
    name = f"'{facts.seq.name}'"
    if status is SequenceStatus.ACTIVE:
        return Finding(check=Check.NOT_ACTIVE, status=FindingStatus.OK,
                       message=f"{name} has been active since {facts.when(since)}.")
    if status is SequenceStatus.DRAFT:
        message = (f"{name} is a draft (version {facts.versions[-1].version}, since "
                   f"{facts.when(since)}); a draft sequence doesn't run.")
    else:
        message = f"{name} has been paused since {facts.when(since)}; a paused sequence " \
                  "doesn't run."
    return Finding(check=Check.NOT_ACTIVE, status=FindingStatus.PROBLEM,
                   message=message, fix=FIX_ACTIVATE)

def sequence_enrolled(facts: Facts) -> Finding:
    """Did you enroll anyone? (a whole sequence)"""
    if not facts.people:
        return Finding(
            check=Check.NO_ONE_ENROLLED, status=FindingStatus.PROBLEM,
            message=f"No one is enrolled in '{facts.seq.name}', so it has nothing to do.",
            fix=FIX_ENROLL,
        )
    return Finding(
        check=Check.NO_ONE_ENROLLED, status=FindingStatus.OK,
        message=f"{people(len(facts.people))} enrolled: "
                f"{counts(p.status.value for p in facts.people)}.",
    )


def contact_enrolled(facts: Facts, contact: Contact, later: list[Enrollment]) -> Finding:
    """Did you enroll them? (one person; ``later``: their enrollments after ``at``)"""
    if not facts.people:
        note = f" (they were enrolled later, at {stamp(later[0].enrolled_at)})" \
            if later else ""
        return Finding(
            check=Check.NOT_ENROLLED, status=FindingStatus.PROBLEM,
            message=f"{contact.name} <{contact.email}> is not enrolled in "
                    f"'{facts.seq.name}'{note}.",
            fix=f"{FIX_ENROLL} Select '{facts.seq.name}', click Enroll and pick "
                f"{contact.name}.",
        )
    person = facts.people[0]
    step_id = person.enrollment.current_step_id
    where = f"they are at {facts.step_text(step_id)}" if step_id is not None \
        else "they have no step left"
    return Finding(
        check=Check.NOT_ENROLLED, status=FindingStatus.OK,
        message=f"{contact.name} has been enrolled since "
                f"{facts.when(person.enrollment.enrolled_at)}; {where} "
                f"({person.status.value}).",
    )
