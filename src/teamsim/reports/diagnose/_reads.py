"""What the checklist reads off the store, and each enrollment as it stood at the moment asked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from teamsim.model import (
    Contact,
    Enrollment,
    EnrollmentStatus,
    EventKind,
    NotFoundError,
    RunMeta,
    Sequence,
    SequenceVersion,
)
from teamsim.reports.diagnose._findings import DEFAULT_TICK_MINUTES, ENDED
from teamsim.reports.diagnose._wording import stamp
from teamsim.store import AttentionItem, ReplyRecord, TaskRecord, UnitOfWork

__all__ = [
    "Person",
    "Reads",
    "default_at",
    "end_times",
    "find_contact",
    "find_sequence",
    "person_at",
    "run_start",
    "tick_minutes",
    "versions_by",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reads:
    """The rows the checklist reads besides enrollments, for the enrollments in question."""

    tasks: list[TaskRecord]
    attention: list[AttentionItem]
    replies: list[ReplyRecord]

    @classmethod
    def load(cls, uow: UnitOfWork, enrollments: list[Enrollment]) -> Reads:
        """Read the rows of ``enrollments``."""
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
class Person:
    """One enrollment as it stood at ``at``."""

    enrollment: Enrollment
    id: int
    status: EnrollmentStatus
    ended_at: datetime | None


def tick_minutes(meta: RunMeta | None, given: int | None) -> int:
    """The scheduler's tick: ``given``, else the run's, else :data:`DEFAULT_TICK_MINUTES`."""
    if given is None:
        if meta is None or not meta.tick_minutes:
            return DEFAULT_TICK_MINUTES
        given = meta.tick_minutes
    if isinstance(given, bool) or not isinstance(given, int) or given < 1:
        raise ValueError(f"diagnose: tick_minutes must be a positive whole number, got {given!r}")
    return given


def run_start(meta: RunMeta | None) -> datetime | None:
    """When the run started (UTC), if the store records a run."""
    if meta is None or not meta.start:
        return None
    try:
        start = datetime.fromisoformat(meta.start)
    except ValueError:
        raise ValueError(
            f"diagnose: meta run.start is {meta.start!r}, not an ISO date and time"
        ) from None
    return start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)


def find_sequence(uow: UnitOfWork, sequence: str | int) -> Sequence:
    """The sequence by name or id, or the error that lists the stored ones."""
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


def find_contact(uow: UnitOfWork, contact: str | int) -> Contact:
    """The contact by email, name (when only one has it) or id."""
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


def versions_by(versions: list[SequenceVersion], seq: Sequence, at: datetime
                ) -> list[SequenceVersion]:
    """The versions of ``seq`` saved by ``at``; an error if there is none yet."""
    saved = [v for v in versions if v.saved_at <= at]
    if not saved:
        first = versions[0].saved_at if versions else None
        raise NotFoundError(
            f"diagnose: sequence {seq.name!r} did not exist yet at {stamp(at)}"
            + (f" (it was created at {stamp(first)})" if first is not None else "")
            + "; diagnose a later moment"
        )
    return saved


def default_at(uow: UnitOfWork, versions: list[SequenceVersion],
               enrollments: list[Enrollment], reads: Reads,
               run_start: datetime | None) -> datetime:
    """The moment to diagnose when none is given: the last event, else the latest time the
    store records."""
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


def person_at(enrollment: Enrollment, at: datetime, ends: dict[int, datetime]) -> Person:
    """``enrollment`` as it stood at ``at``: an end or a pause after ``at`` is undone."""
    if enrollment.id is None:
        raise ValueError(f"diagnose: an enrollment of contact {enrollment.contact_id} has no "
                         "id; diagnose reads stored enrollments")
    status = enrollment.status
    ended_at = None
    if status in ENDED:
        ended_at = ends.get(enrollment.id)
        if ended_at is not None and ended_at > at:
            paused = enrollment.paused_at is not None and enrollment.paused_at <= at
            status = EnrollmentStatus.PAUSED if paused else EnrollmentStatus.ACTIVE
            ended_at = None
    if (status is EnrollmentStatus.PAUSED and enrollment.paused_at is not None
            and enrollment.paused_at > at):
        status = EnrollmentStatus.ACTIVE
    return Person(enrollment=enrollment, id=enrollment.id, status=status, ended_at=ended_at)


def end_times(uow: UnitOfWork, enrollments: list[Enrollment], reads: Reads
              ) -> dict[int, datetime]:
    """When each ended enrollment ended: its end event, else the bounce or unsubscribe."""
    ended = {e.id: e.status for e in enrollments if e.status in ENDED and e.id is not None}
    if not ended:
        return {}
    ends: dict[int, datetime] = {}
    for kind in (EventKind.ENROLLMENT_COMPLETED, EventKind.ENROLLMENT_ENDED):
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

