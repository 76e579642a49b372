"""Is it the schedule? The next due time, the next tick, and what is being drafted or queued."""

from __future__ import annotations

from teamsim.model import EnrollmentStatus, SequenceStatus
from teamsim.reports.diagnose._facts import Facts
from teamsim.reports.diagnose._findings import (
    ENDED,
    FIX_GIVE_IT_A_MOMENT,
    Check,
    Finding,
    FindingStatus,
)
from teamsim.reports.diagnose._reads import Person
from teamsim.reports.diagnose._wording import agree, cap, count_noun, stamp

__all__ = ['contact_schedule', 'sequence_schedule']


def contact_schedule(facts: Facts, person: Person) -> Finding:
    """Is it the schedule? (one person)"""
    name = facts.contact_of(person).name
    e = person.enrollment
    if person.status is not EnrollmentStatus.ACTIVE:
        why = "their enrollment has ended" if person.status in ENDED \
            else "the sequence is paused for them"
        return Finding(check=Check.SCHEDULE, status=FindingStatus.OK,
                       message=f"Nothing is scheduled for {name}: {why}.")
    if facts.open_items("draft"):
        return Finding(check=Check.SCHEDULE, status=FindingStatus.OK,
                       message=f"The next message to {name} is drafted; it waits on you, "
                               "not on the schedule.")
    hold = "" if facts.current.status is SequenceStatus.ACTIVE else \
        f"; nothing is picked up while '{facts.seq.name}' is {facts.current.status.value}"
    drafting = facts.drafting(person)
    if drafting:
        task = drafting[0]
        mate = "A teammate"
        if task.teammate_id is not None:
            mate = facts.uow.teammates.get(task.teammate_id).name
        return Finding(
            check=Check.SCHEDULE, status=FindingStatus.INFO,
            message=f"{mate} has been drafting {facts.step_text(task.step_id)} for {name} "
                    f"(task {task.id}) since {facts.when(task.created_at)}; the draft "
                    f"lands in Needs attention once it has been reviewed{hold}.",
            fix=FIX_GIVE_IT_A_MOMENT,
        )
    queued = facts.queued(person)
    if queued is not None:
        message_id, since, step_id = queued
        return Finding(
            check=Check.SCHEDULE, status=FindingStatus.INFO,
            message=f"Approved message {message_id} ({facts.step_text(step_id)}) to {name} "
                    f"has been queued since {facts.when(since)}; it goes out at a tick "
                    f"within the send window, the next at {stamp(facts.next_tick(None))}"
                    f"{hold}.",
            fix=FIX_GIVE_IT_A_MOMENT,
        )
    if e.current_step_id is None:
        return Finding(check=Check.SCHEDULE, status=FindingStatus.OK,
                       message=f"No step is left for {name}.")
    step = facts.step_text(e.current_step_id)
    due = e.next_due_at
    tick = stamp(facts.next_tick(due))
    is_wait = facts.is_wait(e.current_step_id)
    if due is None:
        message = f"{step} is next for {name}; no due time is recorded yet; the next " \
                  f"tick is at {tick}"
    elif is_wait:
        verb = "is waiting in" if due > facts.at else "has finished"
        message = f"{name} {verb} {step} until {facts.when(due)}; the next step is " \
                  f"picked up at the first tick after that, {tick}"
    elif due > facts.at:
        message = f"{step} for {name} is due at {facts.when(due)}; the scheduler picks " \
                  f"it up at the tick at {tick}"
    else:
        message = f"{step} for {name} has been due since {facts.when(due)}; the " \
                  f"scheduler picks it up at the next tick, {tick}"
    return Finding(check=Check.SCHEDULE, status=FindingStatus.INFO,
                   message=cap(f"{message}{hold}."), fix=FIX_GIVE_IT_A_MOMENT)

def sequence_schedule(facts: Facts) -> Finding:
    """Is it the schedule? (a whole sequence)"""
    active = [p for p in facts.people if p.status is EnrollmentStatus.ACTIVE]
    if not active:
        return Finding(check=Check.SCHEDULE, status=FindingStatus.OK,
                       message=f"Nothing is scheduled: no one is active on "
                               f"'{facts.seq.name}'.")
    parts = []
    drafting = sorted((t for p in active for t in facts.drafting(p)),
                      key=lambda t: (t.created_at, t.id))
    if drafting:
        count = len(drafting)
        parts.append(f"{count_noun(count, 'step')} {agree(count, 'is', 'are')} being drafted, "
                     f"the oldest since {facts.when(drafting[0].created_at)}")
    busy = {t.enrollment_id for t in drafting}
    busy |= {t.enrollment_id for i in facts.open_items("draft")
             if (t := facts.task(i.task_id)) is not None}
    dues = sorted(
        ((due, p.id, p) for p in active
         if p.id not in busy and (due := p.enrollment.next_due_at) is not None),
        key=lambda row: (row[0], row[1]),
    )
    if dues:
        due, _, person = dues[0]
        step_id = person.enrollment.current_step_id
        what = "the end of " if facts.is_wait(step_id) else ""
        parts.append(
            f"the next due is {what}{facts.step_text(step_id)} for "
            f"{facts.contact_of(person).name}, at {facts.when(due)}; the scheduler picks it "
            f"up at the tick at {stamp(facts.next_tick(due))}"
        )
    if not parts:
        return Finding(check=Check.SCHEDULE, status=FindingStatus.OK,
                       message="Nothing is pending on the schedule; the next tick is at "
                               f"{stamp(facts.next_tick(None))}.")
    text = "; ".join(parts)
    hold = "" if facts.current.status is SequenceStatus.ACTIVE else \
        f"; nothing is picked up while '{facts.seq.name}' is {facts.current.status.value}"
    return Finding(check=Check.SCHEDULE, status=FindingStatus.INFO,
                   message=cap(f"{text}{hold}."),
                   fix=FIX_GIVE_IT_A_MOMENT)
