"""The spec's troubleshooting checklist, "What if it isn't working?", read off a store.

:func:`diagnose` answers, in the spec's order, why a sequence (or one person on it) is not
sending at a moment ``at``: is the sequence active, did you enroll anyone, is a step waiting on
you, did the person reply, or is it just the schedule (the next due time and the scheduler's
next tick); an ended enrollment (bounced, unsubscribed, completed) is the last check. Each
finding states what the store shows, with the facts, and names the spec's fix. :func:`render`
prints the checklist.

Only what had happened by ``at`` counts: sequence versions, enrollments, tasks, drafts, Needs
attention items and replies recorded later are ignored. An enrollment row holds its latest
state only; a pause (``paused_at``) or an end (its event, or the bounce/unsubscribe that caused
it) after ``at`` is undone, but an earlier pause that was later resumed cannot be seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from teamsim.model import (
    Contact,
    Enrollment,
    EnrollmentStatus,
    NotFoundError,
    Sequence,
    SequenceStatus,
    SequenceVersion,
    WaitStep,
)
from teamsim.sim._rules import run_ended
from teamsim.store import AttentionItem, ReplyRecord, TaskRecord, UnitOfWork

__all__ = [
    "DEFAULT_TICK_MINUTES",
    "FIX_ACTIVATE",
    "FIX_ENROLL",
    "FIX_GIVE_IT_A_MOMENT",
    "FIX_NEEDS_ATTENTION",
    "FIX_REPLIED",
    "FIX_STILL_STUCK",
    "Check",
    "Diagnosis",
    "Finding",
    "FindingStatus",
    "diagnose",
    "render",
    "render_lines",
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

_RESUME = (
    " Pick up the conversation from their reply in Needs attention; if they should still get "
    "the remaining steps, resume them (in a scenario timeline: action: resume)."
)
_ENDED: Final = frozenset({
    EnrollmentStatus.COMPLETED, EnrollmentStatus.BOUNCED, EnrollmentStatus.UNSUBSCRIBED,
    EnrollmentStatus.ENDED,
})


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


# --------------------------------------------------------------------------------------------
# the public functions


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
            the store, else the latest time recorded on what the checklist reads (or meta
            ``run.start``, if later).
        tick_minutes: the scheduler's tick. Default: meta ``run.tick_minutes``, else 15.
            Ticks fall at meta ``run.start`` plus whole ticks; with no run start, on the hour
            plus whole ticks. A tick at ``at`` itself counts as run, except at or after the
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
    tick = _tick_minutes(uow, tick_minutes)
    run_start = _run_start(uow)
    seq = _find_sequence(uow, sequence)
    assert seq.id is not None
    person = None if contact is None else _find_contact(uow, contact)
    enrollments = uow.enrollments.list(
        sequence_id=seq.id, contact_id=None if person is None else person.id
    )
    reads = _Reads.load(uow, enrollments)
    versions = uow.sequences.versions(seq.id)
    if at is None:
        at = _default_at(uow, versions, enrollments, reads, run_start)
    at = at.astimezone(UTC)
    ends = _end_times(uow, enrollments, reads)
    rewound = _rewind(uow, enrollments, at)
    for index, enrollment in enumerate(enrollments):
        if enrollment.id in rewound:
            enrollments[index], ended_at = rewound[enrollment.id]
            ends.pop(enrollment.id, None)
            if ended_at is not None:
                ends[enrollment.id] = ended_at
    checklist = _Checklist(
        uow=uow, at=at, tick=tick, run_start=run_start, run_end=run_ended(uow), seq=seq,
        versions=_versions_by(versions, seq, at), reads=reads,
        people=[_person(e, at, ends) for e in enrollments if e.enrolled_at <= at],
        contacts={} if person is not None else {c.id: c for c in uow.contacts.list()},
    )
    if person is None:
        findings = checklist.for_sequence()
    else:
        findings = checklist.for_contact(person, later=[e for e in enrollments
                                                        if e.enrolled_at > at])
    answer = _answer(findings)
    if answer is None:
        answer = Finding(
            check=Check.ALL_CLEAR, status=FindingStatus.OK,
            message=f"Nothing in the checklist is holding {checklist.name_of(person)} back "
                    f"at {_stamp(at)}.",
            fix=FIX_STILL_STUCK,
        )
        findings.append(answer)
    return Diagnosis(
        sequence=seq.name, contact=None if person is None else person.email, at=at,
        tick_minutes=tick, findings=tuple(findings), answer=answer,
    )


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
             f"(as of {_stamp(diagnosis.at)}, tick {diagnosis.tick_minutes} min)"]
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


# --------------------------------------------------------------------------------------------
# reading the store


@dataclass(frozen=True, slots=True, kw_only=True)
class _Reads:
    """The rows the checklist reads besides enrollments, for the enrollments in question."""

    tasks: list[TaskRecord]
    attention: list[AttentionItem]
    replies: list[ReplyRecord]

    @classmethod
    def load(cls, uow: UnitOfWork, enrollments: list[Enrollment]) -> _Reads:
        ids = {e.id for e in enrollments}
        if len(enrollments) == 1:
            # One person: let the store filter, so a big run is not read in full.
            only = enrollments[0].id
            tasks = uow.tasks.list(enrollment_id=only, kind="step")
            replies = uow.replies.list(enrollment_id=only)
        else:
            tasks = [t for t in uow.tasks.list(kind="step") if t.enrollment_id in ids]
            replies = [r for r in uow.replies.list() if r.enrollment_id in ids]
        task_ids = {t.id for t in tasks}
        reply_ids = {r.id for r in replies}
        attention = [
            item for item in uow.attention.list(None)
            if item.task_id in task_ids or item.reply_id in reply_ids
        ]
        return cls(tasks=tasks, attention=attention, replies=replies)

    def times(self) -> Iterable[datetime | None]:
        """Every time recorded on these rows."""
        for task in self.tasks:
            yield task.created_at
            yield task.finished_at
        for item in self.attention:
            yield item.created_at
            yield item.resolved_at
        for reply in self.replies:
            yield reply.received_at


@dataclass(frozen=True, slots=True, kw_only=True)
class _Person:
    """One enrollment as it stood at ``at``."""

    enrollment: Enrollment
    status: EnrollmentStatus
    ended_at: datetime | None

    @property
    def id(self) -> int:
        assert self.enrollment.id is not None
        return self.enrollment.id


def _tick_minutes(uow: UnitOfWork, given: int | None) -> int:
    if given is None:
        stored = uow.meta.get("run.tick_minutes")
        if stored is None:
            return DEFAULT_TICK_MINUTES
        try:
            given = int(stored)
        except ValueError:
            raise ValueError(
                f"diagnose: meta run.tick_minutes is {stored!r}, not a whole number of "
                "minutes; pass tick_minutes= explicitly"
            ) from None
    if isinstance(given, bool) or not isinstance(given, int) or given < 1:
        raise ValueError(f"diagnose: tick_minutes must be a positive whole number, got {given!r}")
    return given


def _run_start(uow: UnitOfWork) -> datetime | None:
    stored = uow.meta.get("run.start")
    if stored is None:
        return None
    try:
        start = datetime.fromisoformat(stored)
    except ValueError:
        raise ValueError(
            f"diagnose: meta run.start is {stored!r}, not an ISO date and time"
        ) from None
    return start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)


def _find_sequence(uow: UnitOfWork, sequence: str | int) -> Sequence:
    try:
        return uow.sequences.get(sequence)
    except NotFoundError:
        names = [s.name for s in uow.sequences.list()]
        shown = ", ".join(repr(n) for n in names[:10]) + (", ..." if len(names) > 10 else "")
        what = f"id {sequence}" if isinstance(sequence, int) else f"name {sequence!r}"
        raise NotFoundError(
            f"diagnose: no sequence with {what}; check the name in CRM > Sequences "
            f"(stored: {shown or 'none'}) or create it with New sequence"
        ) from None


def _find_contact(uow: UnitOfWork, contact: str | int) -> Contact:
    if isinstance(contact, str) and "@" not in contact:
        matches = [c for c in uow.contacts.list() if c.name.casefold() == contact.casefold()]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise NotFoundError(
                f"diagnose: {len(matches)} contacts are named {contact!r} "
                f"({', '.join(c.email for c in matches)}); give the email instead"
            )
    else:
        try:
            return uow.contacts.get(contact)
        except NotFoundError:
            pass
    what = f"id {contact}" if isinstance(contact, int) else repr(contact)
    raise NotFoundError(
        f"diagnose: no contact {what}; check the email address, or add the contact and "
        "then use Enroll to put them on the sequence"
    )


def _versions_by(versions: list[SequenceVersion], seq: Sequence, at: datetime
                 ) -> list[SequenceVersion]:
    saved = [v for v in versions if v.saved_at <= at]
    if not saved:
        first = versions[0].saved_at if versions else None
        raise NotFoundError(
            f"diagnose: sequence {seq.name!r} did not exist yet at {_stamp(at)}"
            + (f" (it was created at {_stamp(first)})" if first is not None else "")
            + "; diagnose a later moment"
        )
    return saved


def _default_at(uow: UnitOfWork, versions: list[SequenceVersion],
                enrollments: list[Enrollment], reads: _Reads,
                run_start: datetime | None) -> datetime:
    count = uow.events.count()
    if count:
        # Sequence numbers run 1, 2, 3... in append order, so the tail is the latest events.
        return max(event.at for event in uow.events.iter(after=count - 1))
    times: list[datetime | None] = [v.saved_at for v in versions]
    times += [e.enrolled_at for e in enrollments] + [e.paused_at for e in enrollments]
    times += list(reads.times())
    times.append(run_start)
    known = [t for t in times if t is not None]
    if not known:
        raise ValueError("diagnose: the store records no time at all; pass at=")
    return max(known)


def _rewind(uow: UnitOfWork, enrollments: list[Enrollment], at: datetime
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
    if kind in ("enrollment.created", "step.due"):
        state.update(current_step_id=step, next_due_at=at if kind == "step.due" else None)
    elif kind == "wait.started":
        until = payload.get("until")
        state.update(current_step_id=step,
                     next_due_at=datetime.fromisoformat(until) if until else None)
    elif kind in ("wait.done", "message.sent", "step.skipped"):
        state.update(next_due_at=None)
    elif kind == "enrollment.moved":
        state.update(current_step_id=payload.get("to"), next_due_at=None)
    elif kind == "enrollment.paused":
        state.update(status=EnrollmentStatus.PAUSED, paused_at=at)
    elif kind == "enrollment.resumed":
        state.update(status=EnrollmentStatus.ACTIVE, paused_at=None)
    elif kind in ("enrollment.completed", "enrollment.ended"):
        status = EnrollmentStatus(payload.get("status", EnrollmentStatus.COMPLETED.value))
        state.update(status=status, ended_reason=payload.get("reason"), ended_at=at)
        if status is EnrollmentStatus.COMPLETED:
            state.update(current_step_id=None, next_due_at=None)


def _person(enrollment: Enrollment, at: datetime, ends: dict[int, datetime]) -> _Person:
    status = enrollment.status
    ended_at = None
    if status in _ENDED:
        ended_at = ends.get(enrollment.id) if enrollment.id is not None else None
        if ended_at is not None and ended_at > at:
            paused = enrollment.paused_at is not None and enrollment.paused_at <= at
            status = EnrollmentStatus.PAUSED if paused else EnrollmentStatus.ACTIVE
            ended_at = None
    if (status is EnrollmentStatus.PAUSED and enrollment.paused_at is not None
            and enrollment.paused_at > at):
        status = EnrollmentStatus.ACTIVE
    return _Person(enrollment=enrollment, status=status, ended_at=ended_at)


def _end_times(uow: UnitOfWork, enrollments: list[Enrollment], reads: _Reads
               ) -> dict[int, datetime]:
    """When each ended enrollment ended: its end event, else the bounce or unsubscribe."""
    ended = {e.id: e.status for e in enrollments if e.status in _ENDED and e.id is not None}
    if not ended:
        return {}
    ends: dict[int, datetime] = {}
    for kind in ("enrollment.completed", "enrollment.ended"):
        for event in uow.events.iter(type=kind):
            if event.enrollment_id in ended:
                ends[event.enrollment_id] = event.at
    causes = {EnrollmentStatus.BOUNCED: "bounce", EnrollmentStatus.UNSUBSCRIBED: "unsubscribe"}
    for reply in reads.replies:
        eid = reply.enrollment_id
        if (eid in ended and eid not in ends
                and causes.get(ended[eid]) == reply.kind):
            ends[eid] = reply.received_at
    return ends


# --------------------------------------------------------------------------------------------
# the checklist


@dataclass(kw_only=True)
class _Checklist:
    """The store as it stood at ``at``, and the questions asked of it."""

    uow: UnitOfWork
    at: datetime
    tick: int
    run_start: datetime | None
    run_end: datetime | None
    seq: Sequence
    versions: list[SequenceVersion]
    reads: _Reads
    people: list[_Person]
    contacts: dict[int | None, Contact]

    # -- facts as of at -----------------------------------------------------------------------

    @property
    def current(self) -> Sequence:
        """The sequence as last saved by ``at``."""
        return self.versions[-1].sequence

    def name_of(self, person: Contact | None) -> str:
        return f"'{self.seq.name}'" if person is None else person.name

    def contact_of(self, person: _Person) -> Contact:
        contact = self.contacts.get(person.enrollment.contact_id)
        if contact is None:
            contact = self.uow.contacts.get(person.enrollment.contact_id)
            self.contacts[contact.id] = contact
        return contact

    def step_text(self, step_id: str | None) -> str:
        if step_id is None:
            return "no step"
        label = next((s.label for s in self.current.iter_steps() if s.id == step_id), "")
        return f"step {step_id} '{label}'" if label else f"step {step_id}"

    def is_wait(self, step_id: str | None) -> bool:
        return any(isinstance(s, WaitStep) and s.id == step_id
                   for s in self.current.iter_steps())

    def open_items(self, kind: str) -> list[AttentionItem]:
        """Needs attention items of ``kind`` that were open at ``at``, oldest first."""
        return [
            item for item in self.reads.attention
            if item.kind == kind and item.created_at <= self.at
            and (item.status == "open"
                 or (item.resolved_at is not None and item.resolved_at > self.at))
        ]

    def task(self, task_id: int | None) -> TaskRecord | None:
        return next((t for t in self.reads.tasks if t.id == task_id), None)

    def draft_id(self, item: AttentionItem) -> int | None:
        draft = item.payload.get("draft")
        if isinstance(draft, dict) and isinstance(draft.get("id"), int):
            return int(draft["id"])
        if item.task_id is None:
            return None
        drafts = [d for d in self.uow.drafts.list(item.task_id) if d.created_at <= self.at]
        return drafts[-1].id if drafts else None

    def drafting(self, person: _Person) -> list[TaskRecord]:
        """The person's tasks a teammate was still drafting (or reviewing) at ``at``."""
        waiting = {item.task_id for item in self.open_items("draft")}
        return [
            t for t in self.reads.tasks
            if t.enrollment_id == person.id and t.created_at <= self.at
            and t.id not in waiting and (t.finished_at is None or t.finished_at > self.at)
        ]

    def replies(self, person: _Person) -> list[ReplyRecord]:
        return [r for r in self.reads.replies
                if r.enrollment_id == person.id and r.received_at <= self.at]

    def when(self, moment: datetime) -> str:
        return f"{_stamp(moment)} ({_relative(moment, self.at)})"

    def next_tick(self, due: datetime | None) -> datetime:
        """The scheduler's next tick at or after ``due`` that has not run by ``at``.

        A run covers the minutes before its end: nothing scheduled at the closing minute runs
        (SimPy's ``run(until=T)`` stops before events at ``T``), so from the run's end on, the
        tick at ``at`` itself is still to come.
        """
        ended = self.run_end is not None and self.at >= self.run_end
        return _next_tick(after=self.at, due=due, anchor=self.run_start, tick=self.tick,
                          inclusive=ended)

    # -- the questions --------------------------------------------------------------------------

    def for_sequence(self) -> list[Finding]:
        findings = [self.active()]
        if not self.people:
            findings.append(Finding(
                check=Check.NO_ONE_ENROLLED, status=FindingStatus.PROBLEM,
                message=f"No one is enrolled in '{self.seq.name}', so it has nothing to do.",
                fix=FIX_ENROLL,
            ))
            return findings
        counts = _counts(p.status.value for p in self.people)
        findings.append(Finding(
            check=Check.NO_ONE_ENROLLED, status=FindingStatus.OK,
            message=f"{_people(len(self.people))} enrolled: {counts}.",
        ))
        findings += [self.sequence_waiting(), self.sequence_replied(),
                     self.sequence_schedule(), self.sequence_ended()]
        return findings

    def for_contact(self, contact: Contact, later: list[Enrollment]) -> list[Finding]:
        findings = [self.active()]
        if not self.people:
            note = f" (they were enrolled later, at {_stamp(later[0].enrolled_at)})" \
                if later else ""
            findings.append(Finding(
                check=Check.NOT_ENROLLED, status=FindingStatus.PROBLEM,
                message=f"{contact.name} <{contact.email}> is not enrolled in "
                        f"'{self.seq.name}'{note}.",
                fix=f"{FIX_ENROLL} Select '{self.seq.name}', click Enroll and pick "
                    f"{contact.name}.",
            ))
            return findings
        person = self.people[0]
        self.contacts[contact.id] = contact
        step_id = person.enrollment.current_step_id
        where = f"they are at {self.step_text(step_id)}" if step_id is not None \
            else "they have no step left"
        findings.append(Finding(
            check=Check.NOT_ENROLLED, status=FindingStatus.OK,
            message=f"{contact.name} has been enrolled since "
                    f"{self.when(person.enrollment.enrolled_at)}; {where} "
                    f"({person.status.value}).",
        ))
        findings += [self.contact_waiting(person), self.contact_replied(person),
                     self.contact_schedule(person), self.contact_ended(person)]
        return findings

    def active(self) -> Finding:
        status = self.current.status
        since = self.versions[-1].saved_at
        for version in reversed(self.versions):
            if version.sequence.status is not status:
                break
            since = version.saved_at
        name = f"'{self.seq.name}'"
        if status is SequenceStatus.ACTIVE:
            return Finding(check=Check.NOT_ACTIVE, status=FindingStatus.OK,
                           message=f"{name} has been active since {self.when(since)}.")
        if status is SequenceStatus.DRAFT:
            message = (f"{name} is a draft (version {self.versions[-1].version}, since "
                       f"{self.when(since)}); a draft sequence doesn't run.")
        else:
            message = f"{name} has been paused since {self.when(since)}; a paused sequence " \
                      "doesn't run."
        return Finding(check=Check.NOT_ACTIVE, status=FindingStatus.PROBLEM,
                       message=message, fix=FIX_ACTIVATE)

    # -- waiting on you

    def describe_draft(self, item: AttentionItem) -> str:
        """``draft 7 of step s3 'Follow up' for Ann Lee`` (the draft the item shows)."""
        task = self.task(item.task_id)
        draft = self.draft_id(item)
        step = self.step_text(task.step_id if task is not None else None)
        who = ""
        if task is not None and task.contact_id in self.contacts:
            who = f" for {self.contacts[task.contact_id].name}"
        return f"{'draft ' + str(draft) if draft is not None else 'a draft'} of {step}{who}"

    def contact_waiting(self, person: _Person) -> Finding:
        items = self.open_items("draft")
        name = self.contact_of(person).name
        if not items:
            return Finding(check=Check.WAITING_ON_YOU, status=FindingStatus.OK,
                           message=f"No draft for {name} waits in Needs attention.")
        item = items[0]
        text = self.describe_draft(item)
        return Finding(check=Check.WAITING_ON_YOU, status=FindingStatus.PROBLEM,
                       message=_cap(text) + " has waited for your OK in Needs "
                               f"attention (item {item.id}) since {self.when(item.created_at)}.",
                       fix=FIX_NEEDS_ATTENTION)

    def sequence_waiting(self) -> Finding:
        items = self.open_items("draft")
        if not items:
            return Finding(check=Check.WAITING_ON_YOU, status=FindingStatus.OK,
                           message=f"No draft of '{self.seq.name}' waits in Needs attention.")
        count = len(items)
        return Finding(check=Check.WAITING_ON_YOU, status=FindingStatus.PROBLEM,
                       message=f"{_n(count, 'draft')} of '{self.seq.name}' "
                               f"{_agree(count, 'waits', 'wait')} for your OK in Needs "
                               f"attention; the oldest, {self.describe_draft(items[0])} "
                               f"(item {items[0].id}), since {self.when(items[0].created_at)}.",
                       fix=FIX_NEEDS_ATTENTION)

    # -- replied

    def reply_of(self, person: _Person) -> ReplyRecord | None:
        return next((r for r in reversed(self.replies(person)) if r.kind == "reply"), None)

    def contact_replied(self, person: _Person) -> Finding:
        name = self.contact_of(person).name
        reply = self.reply_of(person)
        paused_at = person.enrollment.paused_at
        if person.status is EnrollmentStatus.PAUSED:
            pause = f" since {self.when(paused_at)}" if paused_at is not None else ""
            if reply is None:
                return Finding(
                    check=Check.REPLIED, status=FindingStatus.PROBLEM,
                    message=f"'{self.seq.name}' has been paused for {name}{pause} with no reply "
                            "recorded: they were paused by hand, so no further step goes out.",
                    fix="Resume them to send the remaining steps.",
                )
            item = next((i for i in self.open_items("reply") if i.reply_id == reply.id), None)
            waits = f"; their reply waits in Needs attention (item {item.id})" \
                if item is not None else ""
            return Finding(
                check=Check.REPLIED, status=FindingStatus.PROBLEM,
                message=f"{name} replied at {self.when(reply.received_at)}, so "
                        f"'{self.seq.name}' is paused for them{pause}{waits}.",
                fix=FIX_REPLIED + _RESUME,
            )
        if reply is not None:
            now = (f"their enrollment is {person.status.value} anyway"
                   if person.status in _ENDED else
                   "they have been resumed since, so the sequence runs for them again")
            return Finding(check=Check.REPLIED, status=FindingStatus.OK,
                           message=f"{name} replied at {self.when(reply.received_at)}; {now}.")
        other = [r for r in self.replies(person) if r.kind == "out_of_office"]
        note = (f" (an out-of-office note at {_stamp(other[-1].received_at)} does not pause "
                "the sequence)") if other else ""
        return Finding(check=Check.REPLIED, status=FindingStatus.OK,
                       message=f"{name} has not replied{note}.")

    def sequence_replied(self) -> Finding:
        paused = [p for p in self.people if p.status is EnrollmentStatus.PAUSED]
        if not paused:
            return Finding(check=Check.REPLIED, status=FindingStatus.OK,
                           message="No one is paused by a reply.")
        replied = [(p, r) for p in paused if (r := self.reply_of(p)) is not None]
        by_hand = len(paused) - len(replied)
        parts = []
        if replied:
            shown = ", ".join(f"{self.contact_of(p).name} (replied {_stamp(r.received_at)})"
                              for p, r in replied[:3])
            more = f" and {len(replied) - 3} more" if len(replied) > 3 else ""
            verb = _agree(len(replied), "is", "are")
            parts.append(f"{_people(len(replied), verb=False)} replied and {verb} paused: "
                         f"{shown}{more}")
        if by_hand:
            parts.append(f"{_people(by_hand)} paused without a reply")
        active = sum(p.status is EnrollmentStatus.ACTIVE for p in self.people)
        status = FindingStatus.INFO if active else FindingStatus.PROBLEM
        tail = f"; {active} still active" if active else "; no one is active"
        return Finding(check=Check.REPLIED, status=status,
                       message=f"{'; '.join(parts)}{tail}.", fix=FIX_REPLIED + _RESUME)

    # -- schedule

    def contact_schedule(self, person: _Person) -> Finding:
        name = self.contact_of(person).name
        e = person.enrollment
        if person.status is not EnrollmentStatus.ACTIVE:
            why = "their enrollment has ended" if person.status in _ENDED \
                else "the sequence is paused for them"
            return Finding(check=Check.SCHEDULE, status=FindingStatus.OK,
                           message=f"Nothing is scheduled for {name}: {why}.")
        if self.open_items("draft"):
            return Finding(check=Check.SCHEDULE, status=FindingStatus.OK,
                           message=f"The next message to {name} is drafted; it waits on you, "
                                   "not on the schedule.")
        hold = "" if self.current.status is SequenceStatus.ACTIVE else \
            f"; nothing is picked up while '{self.seq.name}' is {self.current.status.value}"
        drafting = self.drafting(person)
        if drafting:
            task = drafting[0]
            mate = "A teammate"
            if task.teammate_id is not None:
                mate = self.uow.teammates.get(task.teammate_id).name
            return Finding(
                check=Check.SCHEDULE, status=FindingStatus.INFO,
                message=f"{mate} has been drafting {self.step_text(task.step_id)} for {name} "
                        f"(task {task.id}) since {self.when(task.created_at)}; the draft "
                        f"lands in Needs attention once it has been reviewed{hold}.",
                fix=FIX_GIVE_IT_A_MOMENT,
            )
        queued = self.queued(person)
        if queued is not None:
            message_id, since, step_id = queued
            return Finding(
                check=Check.SCHEDULE, status=FindingStatus.INFO,
                message=f"Approved message {message_id} ({self.step_text(step_id)}) to {name} "
                        f"has been queued since {self.when(since)}; it goes out at a tick "
                        f"within the send window, the next at {_stamp(self.next_tick(None))}"
                        f"{hold}.",
                fix=FIX_GIVE_IT_A_MOMENT,
            )
        if e.current_step_id is None:
            return Finding(check=Check.SCHEDULE, status=FindingStatus.OK,
                           message=f"No step is left for {name}.")
        step = self.step_text(e.current_step_id)
        due = e.next_due_at
        tick = _stamp(self.next_tick(due))
        is_wait = self.is_wait(e.current_step_id)
        if due is None:
            message = f"{step} is next for {name}; no due time is recorded yet; the next " \
                      f"tick is at {tick}"
        elif is_wait:
            verb = "is waiting in" if due > self.at else "has finished"
            message = f"{name} {verb} {step} until {self.when(due)}; the next step is " \
                      f"picked up at the first tick after that, {tick}"
        elif due > self.at:
            message = f"{step} for {name} is due at {self.when(due)}; the scheduler picks " \
                      f"it up at the tick at {tick}"
        else:
            message = f"{step} for {name} has been due since {self.when(due)}; the " \
                      f"scheduler picks it up at the next tick, {tick}"
        return Finding(check=Check.SCHEDULE, status=FindingStatus.INFO,
                       message=_cap(f"{message}{hold}."), fix=FIX_GIVE_IT_A_MOMENT)

    def queued(self, person: _Person) -> tuple[int, datetime, str | None] | None:
        """An approved message of the person that was queued, not yet sent, at ``at``."""
        for message in self.uow.messages.list(enrollment_id=person.id):
            # Messages carry queued/sent/cancelled times once the outbox records them.
            queued_at: Any = getattr(message, "queued_at", None)
            if not isinstance(queued_at, datetime) or queued_at > self.at:
                continue
            gone: list[Any] = [message.sent_at, getattr(message, "cancelled_at", None)]
            if all(t is None or t > self.at for t in gone):
                return message.id, queued_at, message.step_id
        return None

    def sequence_schedule(self) -> Finding:
        active = [p for p in self.people if p.status is EnrollmentStatus.ACTIVE]
        if not active:
            return Finding(check=Check.SCHEDULE, status=FindingStatus.OK,
                           message=f"Nothing is scheduled: no one is active on "
                                   f"'{self.seq.name}'.")
        parts = []
        drafting = sorted((t for p in active for t in self.drafting(p)),
                          key=lambda t: (t.created_at, t.id))
        if drafting:
            count = len(drafting)
            parts.append(f"{_n(count, 'step')} {_agree(count, 'is', 'are')} being drafted, "
                         f"the oldest since {self.when(drafting[0].created_at)}")
        busy = {t.enrollment_id for t in drafting}
        busy |= {t.enrollment_id for i in self.open_items("draft")
                 if (t := self.task(i.task_id)) is not None}
        dues = sorted(
            ((p.enrollment.next_due_at, p.id, p) for p in active
             if p.id not in busy and p.enrollment.next_due_at is not None),
            key=lambda row: (row[0], row[1]),
        )
        if dues:
            due, _, person = dues[0]
            assert due is not None
            step_id = person.enrollment.current_step_id
            what = "the end of " if self.is_wait(step_id) else ""
            parts.append(
                f"the next due is {what}{self.step_text(step_id)} for "
                f"{self.contact_of(person).name}, at {self.when(due)}; the scheduler picks it "
                f"up at the tick at {_stamp(self.next_tick(due))}"
            )
        if not parts:
            return Finding(check=Check.SCHEDULE, status=FindingStatus.OK,
                           message="Nothing is pending on the schedule; the next tick is at "
                                   f"{_stamp(self.next_tick(None))}.")
        text = "; ".join(parts)
        hold = "" if self.current.status is SequenceStatus.ACTIVE else \
            f"; nothing is picked up while '{self.seq.name}' is {self.current.status.value}"
        return Finding(check=Check.SCHEDULE, status=FindingStatus.INFO,
                       message=_cap(f"{text}{hold}."),
                       fix=FIX_GIVE_IT_A_MOMENT)

    # -- ended

    def contact_ended(self, person: _Person) -> Finding:
        contact = self.contact_of(person)
        e = person.enrollment
        if person.status not in _ENDED:
            return Finding(check=Check.ENDED, status=FindingStatus.OK,
                           message=f"{contact.name}'s enrollment has not ended.")
        when = f" at {self.when(person.ended_at)}" if person.ended_at is not None else ""
        where = f" ({self.step_text(e.current_step_id)})" if e.current_step_id else ""
        if person.status is EnrollmentStatus.BOUNCED:
            message = f"A message to {contact.email} bounced{when}{where}, so the " \
                      "enrollment ended."
        elif person.status is EnrollmentStatus.UNSUBSCRIBED:
            message = f"{contact.name} unsubscribed{when}{where}, so the enrollment ended."
        elif person.status is EnrollmentStatus.COMPLETED:
            message = f"{contact.name} completed '{self.seq.name}'{when}: every step has run."
        else:
            reason = e.ended_reason or "ended by the human"
            message = f"{contact.name}'s enrollment was ended{when}{where} ({reason})."
        return Finding(check=Check.ENDED, status=FindingStatus.PROBLEM, message=message,
                       fix=_ended_fix(person.status, contact))

    def sequence_ended(self) -> Finding:
        ended = [p for p in self.people if p.status in _ENDED]
        if not ended:
            return Finding(check=Check.ENDED, status=FindingStatus.OK,
                           message="No enrollment has ended.")
        statuses = [p.status for p in ended]
        count, everyone = len(ended), len(ended) == len(self.people)
        if everyone:
            head = "The only enrollment has" if count == 1 else f"All {count} enrollments have"
        else:
            head = f"{count} of {_n(len(self.people), 'enrollment')} " \
                   f"{_agree(count, 'has', 'have')}"
        message = f"{head} ended: {_counts(s.value for s in statuses)}."
        fixes = [_ended_fix(s, None) for s in _ENDED_ORDER if s in statuses]
        return Finding(check=Check.ENDED,
                       status=FindingStatus.PROBLEM if everyone else FindingStatus.INFO,
                       message=message, fix=" ".join(fixes))


_ENDED_ORDER: Final = (EnrollmentStatus.BOUNCED, EnrollmentStatus.UNSUBSCRIBED,
                       EnrollmentStatus.COMPLETED, EnrollmentStatus.ENDED)


def _ended_fix(status: EnrollmentStatus, contact: Contact | None) -> str:
    if status is EnrollmentStatus.BOUNCED:
        address = f" ({contact.email})" if contact is not None else "es"
        return (f"Check the address{address}: a bounced address gets nothing more; correct "
                "it and enroll the person into another sequence.")
    if status is EnrollmentStatus.UNSUBSCRIBED:
        return "They asked not to be contacted: leave them off; don't enroll them again."
    if status is EnrollmentStatus.COMPLETED:
        return "They have had every step; to keep in touch, enroll them into another sequence."
    return "It was ended on purpose; to reach them again, enroll them into another sequence."


def _answer(findings: list[Finding]) -> Finding | None:
    for finding in findings:
        if finding.status is FindingStatus.PROBLEM:
            return finding
    for finding in findings:
        if finding.check is Check.SCHEDULE and finding.status is FindingStatus.INFO:
            return finding
    return None


# --------------------------------------------------------------------------------------------
# time and wording


def _next_tick(*, after: datetime, due: datetime | None, anchor: datetime | None,
               tick: int, inclusive: bool = False) -> datetime:
    """The first tick at or after ``due`` that is later than ``after`` (or at ``after`` itself
    when ``inclusive``: the tick there has not run, as at the run's closing minute).

    Ticks fall at ``anchor`` plus whole ticks (none before ``anchor``); with no anchor, at the
    top of the hour plus whole ticks.
    """
    step = timedelta(minutes=tick)
    target = after if due is None or due <= after else due
    strict = target == after and not inclusive
    base = anchor if anchor is not None else target.replace(minute=0, second=0, microsecond=0)
    if target < base:
        return base
    count, rest = divmod(target - base, step)
    if rest or strict:
        count += 1
    return base + count * step


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _relative(moment: datetime, at: datetime) -> str:
    if moment == at:
        return "now"
    span = _span(abs(at - moment))
    return f"{span} ago" if moment < at else f"in {span}"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes == 0:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "min")) if n]
    return " ".join(parts[:2])


def _n(count: int, noun: str, plural: str | None = None) -> str:
    """``1 draft``, ``2 drafts`` (``plural`` for irregular nouns: ``_n(2, "person", "people")``)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _agree(count: int, one: str, many: str) -> str:
    """The verb form that agrees with ``count`` things: ``one`` for exactly one, else ``many``."""
    return one if count == 1 else many


def _people(count: int, *, verb: bool = True) -> str:
    """``1 person is``, ``3 people are`` (without the verb when ``verb`` is false)."""
    text = _n(count, "person", "people")
    return f"{text} {_agree(count, 'is', 'are')}" if verb else text


def _counts(values: Iterable[str]) -> str:
    tally: dict[str, int] = {}
    for value in values:
        tally[value] = tally.get(value, 0) + 1
    order = [s.value for s in EnrollmentStatus]
    return ", ".join(f"{tally[v]} {v}" for v in sorted(tally, key=order.index))
