"""Is the step waiting on you (a draft in Needs attention)? Did the person reply?"""

from __future__ import annotations

from teamsim.model import EnrollmentStatus
from teamsim.reports.diagnose._facts import Facts
from teamsim.reports.diagnose._findings import (
    ENDED,
    FIX_NEEDS_ATTENTION,
    FIX_REPLIED,
    RESUME,
    Check,
    Finding,
    FindingStatus,
)
from teamsim.reports.diagnose._reads import Person
from teamsim.reports.diagnose._wording import agree, cap, count_noun, people, stamp

__all__ = ['contact_replied', 'contact_waiting', 'sequence_replied', 'sequence_waiting']


def contact_waiting(facts: Facts, person: Person) -> Finding:
    """Is the step waiting on you? (one person)"""
    items = facts.open_items("draft")
    name = facts.contact_of(person).name
    if not items:
        return Finding(check=Check.WAITING_ON_YOU, status=FindingStatus.OK,
                       message=f"No draft for {name} waits in Needs attention.")
    item = items[0]
    text = facts.describe_draft(item)
    return Finding(check=Check.WAITING_ON_YOU, status=FindingStatus.PROBLEM,
                   message=cap(text) + " has waited for your OK in Needs "
                           f"attention (item {item.id}) since {facts.when(item.created_at)}.",
                   fix=FIX_NEEDS_ATTENTION)

def sequence_waiting(facts: Facts) -> Finding:
    """Is the step waiting on you? (a whole sequence)"""
    items = facts.open_items("draft")
    if not items:
        return Finding(check=Check.WAITING_ON_YOU, status=FindingStatus.OK,
                       message=f"No draft of '{facts.seq.name}' waits in Needs attention.")
    count = len(items)
    return Finding(check=Check.WAITING_ON_YOU, status=FindingStatus.PROBLEM,
                   message=f"{count_noun(count, 'draft')} of '{facts.seq.name}' "
                           f"{agree(count, 'waits', 'wait')} for your OK in Needs "
                           f"attention; the oldest, {facts.describe_draft(items[0])} "
                           f"(item {items[0].id}), since {facts.when(items[0].created_at)}.",
                   fix=FIX_NEEDS_ATTENTION)


def contact_replied(facts: Facts, person: Person) -> Finding:
    """Did the person reply? (one person)"""
    name = facts.contact_of(person).name
    reply = facts.reply_of(person)
    paused_at = person.enrollment.paused_at
    if person.status is EnrollmentStatus.PAUSED:
        pause = f" since {facts.when(paused_at)}" if paused_at is not None else ""
        if reply is None:
            return Finding(
                check=Check.REPLIED, status=FindingStatus.PROBLEM,
                message=f"'{facts.seq.name}' has been paused for {name}{pause} with no reply "
                        "recorded: they were paused by hand, so no further step goes out.",
                fix="Resume them to send the remaining steps.",
            )
        item = next((i for i in facts.open_items("reply") if i.reply_id == reply.id), None)
        waits = f"; their reply waits in Needs attention (item {item.id})" \
            if item is not None else ""
        return Finding(
            check=Check.REPLIED, status=FindingStatus.PROBLEM,
            message=f"{name} replied at {facts.when(reply.received_at)}, so "
                    f"'{facts.seq.name}' is paused for them{pause}{waits}.",
            fix=FIX_REPLIED + RESUME,
        )
    if reply is not None:
        now = (f"their enrollment is {person.status.value} anyway"
               if person.status in ENDED else
               "they have been resumed since, so the sequence runs for them again")
        return Finding(check=Check.REPLIED, status=FindingStatus.OK,
                       message=f"{name} replied at {facts.when(reply.received_at)}; {now}.")
    other = [r for r in facts.replies(person) if r.kind == "out_of_office"]
    note = (f" (an out-of-office note at {stamp(other[-1].received_at)} does not pause "
            "the sequence)") if other else ""
    return Finding(check=Check.REPLIED, status=FindingStatus.OK,
                   message=f"{name} has not replied{note}.")

def sequence_replied(facts: Facts) -> Finding:
    """Did the person reply? (a whole sequence: who is paused by a reply)"""
    paused = [p for p in facts.people if p.status is EnrollmentStatus.PAUSED]
    if not paused:
        return Finding(check=Check.REPLIED, status=FindingStatus.OK,
                       message="No one is paused by a reply.")
    replied = [(p, r) for p in paused if (r := facts.reply_of(p)) is not None]
    by_hand = len(paused) - len(replied)
    parts = []
    if replied:
        shown = ", ".join(f"{facts.contact_of(p).name} (replied {stamp(r.received_at)})"
                          for p, r in replied[:3])
        more = f" and {len(replied) - 3} more" if len(replied) > 3 else ""
        verb = agree(len(replied), "is", "are")
        parts.append(f"{people(len(replied), verb=False)} replied and {verb} paused: "
                     f"{shown}{more}")
    if by_hand:
        parts.append(f"{people(by_hand)} paused without a reply")
    active = sum(p.status is EnrollmentStatus.ACTIVE for p in facts.people)
    status = FindingStatus.INFO if active else FindingStatus.PROBLEM
    tail = f"; {active} still active" if active else "; no one is active"
    return Finding(check=Check.REPLIED, status=status,
                   message=f"{'; '.join(parts)}{tail}.", fix=FIX_REPLIED + RESUME)
