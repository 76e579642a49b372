"""The checklist itself: :func:`diagnose` works through the questions in the spec's order and
picks the answer; :func:`render` prints it."""

from __future__ import annotations

from datetime import UTC, datetime

from teamsim.model import Contact, Enrollment, NotFoundError
from teamsim.reports import run_ended, run_meta
from teamsim.reports.diagnose._ended import contact_ended, sequence_ended
from teamsim.reports.diagnose._enrolled import active, contact_enrolled, sequence_enrolled
from teamsim.reports.diagnose._facts import Facts
from teamsim.reports.diagnose._findings import (
    FIX_STILL_STUCK,
    Check,
    Diagnosis,
    Finding,
    FindingStatus,
)
from teamsim.reports.diagnose._reads import (
    Reads,
    default_at,
    end_times,
    find_contact,
    find_sequence,
    person_at,
    run_start,
    versions_by,
)
from teamsim.reports.diagnose._reads import tick_minutes as scheduler_tick
from teamsim.reports.diagnose._rewind import rewind
from teamsim.reports.diagnose._schedule import contact_schedule, sequence_schedule
from teamsim.reports.diagnose._waiting import (
    contact_replied,
    contact_waiting,
    sequence_replied,
    sequence_waiting,
)
from teamsim.reports.diagnose._wording import stamp
from teamsim.store import UnitOfWork

__all__ = ["diagnose", "render", "render_lines"]


def diagnose(
    uow: UnitOfWork,
    sequence: str | int,
    contact: str | int | None = None,
    *,
    at: datetime | None = None,
    tick_minutes: int | None = None,
) -> Diagnosis:
    """Work through "What if it isn't working?" for a sequence, or one person on it.

    Args:
        uow: the unit of work to read the store through (nothing is written).
        sequence: the sequence's name or id.
        contact: the contact's email, name or id; ``None`` diagnoses the whole sequence.
        at: the moment to diagnose (timezone-aware). Default: the time of the last event in
            the store, else the latest time recorded on what the checklist reads (or the
            run's start, if later).
        tick_minutes: the scheduler's tick. Default: the run's (:class:`~teamsim.model.RunMeta`),
            else 15. Ticks fall at the run's start plus whole ticks; with no run start, on the
            hour plus whole ticks. A tick at ``at`` itself counts as run, except at or after the
            end of a recorded run (its ``run.ended`` event): a run never reaches its closing
            minute, so a tick there is the next one, as it would be in a longer run.

    Returns:
        The findings in the spec's order and the answer among them.

    Raises:
        NotFoundError: no such sequence or contact, or the sequence did not exist yet at
            ``at``.
        ValueError: ``at`` is naive, a tick is not a positive whole number of minutes, or the
            store records no time at all and ``at`` is not given.
    """
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise ValueError(f"diagnose: at must be timezone-aware, got {at.isoformat()}")
    try:
        meta = run_meta(uow)
    except ValueError as exc:
        raise ValueError(f"diagnose: {exc}; pass tick_minutes= explicitly") from None
    tick = scheduler_tick(meta, tick_minutes)
    start = run_start(meta)
    seq = find_sequence(uow, sequence)
    if seq.id is None:  # pragma: no cover - a stored sequence always has its id
        raise NotFoundError(f"diagnose: sequence {seq.name!r} is not stored")
    person = None if contact is None else find_contact(uow, contact)
    enrollments = uow.enrollments.list(
        sequence_id=seq.id, contact_id=None if person is None else person.id
    )
    reads = Reads.load(uow, enrollments)
    versions = uow.sequences.versions(seq.id)
    if at is None:
        at = default_at(uow, versions, enrollments, reads, start)
    at = at.astimezone(UTC)
    ends = end_times(uow, enrollments, reads)
    rewound = rewind(uow, enrollments, at)
    for index, enrollment in enumerate(enrollments):
        if enrollment.id in rewound:
            enrollments[index], ended_at = rewound[enrollment.id]
            ends.pop(enrollment.id, None)
            if ended_at is not None:
                ends[enrollment.id] = ended_at
    facts = Facts(
        uow=uow, at=at, tick=tick, run_start=start, run_end=run_ended(uow), seq=seq,
        versions=versions_by(versions, seq, at), reads=reads,
        people=[person_at(e, at, ends) for e in enrollments if e.enrolled_at <= at],
        contacts={} if person is not None else {c.id: c for c in uow.contacts.list()},
    )
    if person is None:
        findings = _for_sequence(facts)
    else:
        findings = _for_contact(facts, person, later=[e for e in enrollments
                                                      if e.enrolled_at > at])
    answer = _answer(findings)
    if answer is None:
        answer = Finding(
            check=Check.ALL_CLEAR, status=FindingStatus.OK,
            message=f"Nothing in the checklist is holding {facts.name_of(person)} back "
                    f"at {stamp(at)}.",
            fix=FIX_STILL_STUCK,
        )
        findings.append(answer)
    return Diagnosis(
        sequence=seq.name, contact=None if person is None else person.email, at=at,
        tick_minutes=tick, findings=tuple(findings), answer=answer,
    )


def _for_sequence(facts: Facts) -> list[Finding]:
    findings = [active(facts), sequence_enrolled(facts)]
    if not facts.people:
        return findings
    return [*findings, sequence_waiting(facts), sequence_replied(facts),
            sequence_schedule(facts), sequence_ended(facts)]


def _for_contact(facts: Facts, contact: Contact, later: list[Enrollment]) -> list[Finding]:
    findings = [active(facts), contact_enrolled(facts, contact, later)]
    if not facts.people:
        return findings
    person = facts.people[0]
    facts.contacts[contact.id] = contact
    return [*findings, contact_waiting(facts, person), contact_replied(facts, person),
            contact_schedule(facts, person), contact_ended(facts, person)]


def _answer(findings: list[Finding]) -> Finding | None:
    for finding in findings:
        if finding.status is FindingStatus.PROBLEM:
            return finding
    for finding in findings:
        if finding.check is Check.SCHEDULE and finding.status is FindingStatus.INFO:
            return finding
    return None


def render(diagnosis: Diagnosis) -> str:
    """The diagnosis as a numbered checklist, one item per finding, then the answer.

    Each item reads ``N. [status] Question? message`` with an indented ``Fix: ...`` line when
    there is something to do.
    """
    return "\n".join(render_lines(diagnosis))


def render_lines(diagnosis: Diagnosis) -> list[str]:
    """:func:`render`'s lines, each one line of the checklist (a name in it may still hold a
    line break of its own: a terminal shows each line through an escaping helper)."""
    who = f" for {diagnosis.contact}" if diagnosis.contact is not None else ""
    lines = [f"Why isn't '{diagnosis.sequence}' sending{who}? "
             f"(as of {stamp(diagnosis.at)}, tick {diagnosis.tick_minutes} min)"]
    answer_number = 0
    for number, finding in enumerate(diagnosis.findings, start=1):
        lines.append(f"{number}. [{finding.status}] {finding.check.question} {finding.message}")
        if finding.fix:
            lines.append(f"   Fix: {finding.fix}")
        if finding is diagnosis.answer:
            answer_number = number
    lines.append(f"Answer: {answer_number}. {diagnosis.answer.check.question} "
                 f"{diagnosis.answer.fix}".rstrip())
    return lines
