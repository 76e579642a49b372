"""The last question: has the enrollment ended (bounced, unsubscribed, completed, ended)?"""

from __future__ import annotations

from teamsim.model import EnrollmentStatus
from teamsim.reports.diagnose._facts import Facts
from teamsim.reports.diagnose._findings import (
    ENDED,
    ENDED_ORDER,
    Check,
    Finding,
    FindingStatus,
    ended_fix,
)
from teamsim.reports.diagnose._reads import Person
from teamsim.reports.diagnose._wording import agree, count_noun, counts

__all__ = ['contact_ended', 'sequence_ended']


def contact_ended(facts: Facts, person: Person) -> Finding:
    """Has the enrollment ended? (one person)"""
    contact = facts.contact_of(person)
    e = person.enrollment
    if person.status not in ENDED:
        return Finding(check=Check.ENDED, status=FindingStatus.OK,
                       message=f"{contact.name}'s enrollment has not ended.")
    when = f" at {facts.when(person.ended_at)}" if person.ended_at is not None else ""
    where = f" ({facts.step_text(e.current_step_id)})" if e.current_step_id else ""
    if person.status is EnrollmentStatus.BOUNCED:
        message = f"A message to {contact.email} bounced{when}{where}, so the " \
                  "enrollment ended."
    elif person.status is EnrollmentStatus.UNSUBSCRIBED:
        message = f"{contact.name} unsubscribed{when}{where}, so the enrollment ended."
    elif person.status is EnrollmentStatus.COMPLETED:
        message = f"{contact.name} completed '{facts.seq.name}'{when}: every step has run."
    else:
        reason = e.ended_reason or "ended by the human"
        message = f"{contact.name}'s enrollment was ended{when}{where} ({reason})."
    return Finding(check=Check.ENDED, status=FindingStatus.PROBLEM, message=message,
                   fix=ended_fix(person.status, contact))

def sequence_ended(facts: Facts) -> Finding:
    """Has the enrollment ended? (a whole sequence)"""
    ended = [p for p in facts.people if p.status in ENDED]
    if not ended:
        return Finding(check=Check.ENDED, status=FindingStatus.OK,
                       message="No enrollment has ended.")
    statuses = [p.status for p in ended]
    count, everyone = len(ended), len(ended) == len(facts.people)
    if everyone:
        head = "The only enrollment has" if count == 1 else f"All {count} enrollments have"
    else:
        head = f"{count} of {count_noun(len(facts.people), 'enrollment')} " \
               f"{agree(count, 'has', 'have')}"
    message = f"{head} ended: {counts(s.value for s in statuses)}."
    fixes = [ended_fix(s, None) for s in ENDED_ORDER if s in statuses]
    return Finding(check=Check.ENDED,
                   status=FindingStatus.PROBLEM if everyone else FindingStatus.INFO,
                   message=message, fix=" ".join(fixes))
