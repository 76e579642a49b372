"""The toolbar of *CRM > Sequences* as a Python API, persisted in a store.

Each operation loads the sequence, applies one edit through the validated domain model and saves
it in one unit of work: every save records a new version, and an operation that fails changes
nothing (the unit of work rolls back, the domain edit validates before it applies).

Concurrent writers (two shells, two processes) never lose an edit: an operation locks the
sequence for the whole read-modify-write (``uow.sequences.get_for_update``), so a
second writer waits and then edits the version the first one saved; the save itself is
conditional on the version read, and should a writer that does not lock get in between, the
operation re-reads the sequence and applies the edit again (a bounded number of times).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from teamsim.model import (
    AttributeCondition,
    BranchStep,
    ConflictError,
    Contact,
    EngagementCondition,
    Enrollment,
    EnrollmentStatus,
    MessageStep,
    NotFoundError,
    Sequence,
    SequenceStatus,
    SequenceVersion,
    StaleVersionError,
    WaitStep,
)
from teamsim.store import Store, UnitOfWork

__all__ = ["EDIT_ATTEMPTS", "Clock", "Workspace", "first_step_id", "wall_clock"]

EDIT_ATTEMPTS: Final = 5
"""How many times an operation re-reads and re-applies an edit that lost a race."""
ENDED_BY_HUMAN: Final = "ended by the human"
"""The ``ended_reason`` of an enrollment ended with :meth:`Workspace.end`."""

T = TypeVar("T")

Clock = Callable[[], datetime]
"""Returns the current time as a tz-aware UTC datetime."""


def wall_clock() -> datetime:
    """The real current time in UTC: for editing from the CLI, never inside a simulated run."""
    return datetime.now(UTC)


def first_step_id(sequence: Sequence) -> str | None:
    """The id of the step a newly enrolled person starts at, or ``None`` for an empty sequence."""
    return sequence.steps[0].id if sequence.steps else None


class Workspace:
    """Build, edit, activate, pause and enroll into sequences stored in ``store``.

    Args:
        store: where sequences, contacts and enrollments live.
        clock: the time each save is stamped with (the wall clock by default; a simulation
            passes its simulated clock).
    """

    def __init__(self, store: Store, clock: Clock = wall_clock) -> None:
        self.store = store
        self._clock = clock

    # -- reading ------------------------------------------------------------------------------

    def sequence(self, name_or_id: str | int) -> Sequence:
        """The current version of a sequence, by name or id."""
        with self.store.unit_of_work() as uow:
            return uow.sequences.get(_key(uow, name_or_id))

    def sequences(self) -> list[Sequence]:
        """Every sequence, in the order they were created."""
        with self.store.unit_of_work() as uow:
            return uow.sequences.list()

    def versions(self, name_or_id: str | int) -> list[SequenceVersion]:
        """Every saved version of a sequence, oldest first."""
        with self.store.unit_of_work() as uow:
            seq = uow.sequences.get(_key(uow, name_or_id))
            return uow.sequences.versions(_stored_id(seq))

    def enrollments(self, name_or_id: str | int) -> list[tuple[Enrollment, Contact]]:
        """The people enrolled in a sequence, with their enrollment."""
        with self.store.unit_of_work() as uow:
            seq = uow.sequences.get(_key(uow, name_or_id))
            return [
                (e, uow.contacts.get(e.contact_id))
                for e in uow.enrollments.list(sequence_id=seq.id)
            ]

    # -- simulate what the toolbar built -------------------------------------------------------

    def scenario(self, name_or_id: str | int, contacts: list[Any] | None = None) -> Any:
        """A stored sequence as a validated :class:`~teamsim.scenario.Scenario`: the sequence
        as it stands, the people enrolled in it (or ``contacts``, a list of
        :class:`~teamsim.sim.ContactSpec`, each enrolled in it), defaults for the rest; give
        it to :func:`teamsim.run`."""
        from teamsim.runner import stored_scenario  # the simulator: only when asked

        return stored_scenario(self.store, str(name_or_id), contacts)

    def export(self, name_or_id: str | int) -> str:
        """A stored sequence as scenario YAML with comments saying what to fill in (what
        ``teamsim seq export`` prints); it validates as it is."""
        from teamsim.runner import export_scenario  # the simulator: only when asked

        return export_scenario(self.store, str(name_or_id))

    # -- the toolbar --------------------------------------------------------------------------

    def new_sequence(self, name: str, description: str = "") -> Sequence:
        """Create a draft sequence with the spec's example steps (*New sequence*)."""
        seq = Sequence.new(name, description)
        with self.store.unit_of_work() as uow:
            return uow.sequences.add(seq, self._clock())

    def apply(self, name_or_id: str | int, change: Callable[[Sequence], T]) -> T:
        """Apply ``change`` to the current version of a sequence and save the result as one new
        version; returns what ``change`` returns.

        The sequence is locked from the read to the save, so concurrent writers queue up and
        none loses an edit. Should the save still find the sequence changed since it was read
        (a writer that does not lock), the sequence is read again and ``change`` applied again,
        up to :data:`EDIT_ATTEMPTS` times: ``change`` must depend only on the sequence it gets.
        If ``change`` raises, nothing is saved.

        Raises:
            StaleVersionError: every attempt lost its race (nothing was saved).
        """
        return self._apply(name_or_id, change)[0]

    def _apply(self, name_or_id: str | int, change: Callable[[Sequence], T]) -> tuple[T, Sequence]:
        """:meth:`apply`, returning the saved sequence as well."""
        for attempt in range(1, EDIT_ATTEMPTS + 1):
            try:
                with self.store.unit_of_work() as uow:
                    seq = uow.sequences.get_for_update(_key(uow, name_or_id))
                    result = change(seq)
                    saved = uow.sequences.save(seq, self._clock())
                return result, saved
            except StaleVersionError:
                if attempt == EDIT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    @contextmanager
    def edit(self, name_or_id: str | int) -> Iterator[Sequence]:
        """Edit a sequence in a ``with`` block and save it at the end as one new version.

        Works the same on draft, active and paused sequences (*Edit* while running). If the block
        raises, nothing is saved. The sequence is locked for the block (other writers wait), so
        keep the block short; a block cannot be re-run, so prefer :meth:`apply`, which retries.
        """
        with self.store.unit_of_work() as uow:
            seq = uow.sequences.get_for_update(_key(uow, name_or_id))
            yield seq
            uow.sequences.save(seq, self._clock())

    def add_message(self, sequence: str | int, channel: str = "email", label: str = "",
                    **options: Any) -> MessageStep:
        """Add a message step on ``channel``; see :meth:`Sequence.add_message`."""
        return self.apply(sequence, lambda seq: seq.add_message(channel, label, **options))

    def add_email(self, sequence: str | int, label: str = "Email", **options: Any) -> MessageStep:
        """Add an email step (the toolbar's *Add email*)."""
        return self.add_message(sequence, "email", label, **options)

    def add_wait(self, sequence: str | int, days: float = 0, hours: float = 0, label: str = "",
                 **options: Any) -> WaitStep:
        """Add a wait step (*Add wait*)."""
        return self.apply(sequence, lambda seq: seq.add_wait(days, hours, label, **options))

    def add_branch(self, sequence: str | int,
                   condition: AttributeCondition | EngagementCondition | dict[str, Any],
                   label: str = "Branch", **options: Any) -> BranchStep:
        """Add a branch step (*Add branch*)."""
        return self.apply(sequence, lambda seq: seq.add_branch(condition, label, **options))

    def label_step(self, sequence: str | int, step_id: str, label: str) -> None:
        """Label a step so you remember what it is for (an empty label restores the default)."""
        self.apply(sequence, lambda seq: seq.label_step(step_id, label))

    def move_step(self, sequence: str | int, step_id: str, to_index: int) -> None:
        """Move a step to ``to_index`` among its siblings."""
        self.apply(sequence, lambda seq: seq.move_step(step_id, to_index))

    def move_up(self, sequence: str | int, step_id: str) -> None:
        """Move a step one place up (the editor's up arrow)."""
        self.apply(sequence, lambda seq: seq.move_up(step_id))

    def move_down(self, sequence: str | int, step_id: str) -> None:
        """Move a step one place down (the editor's down arrow)."""
        self.apply(sequence, lambda seq: seq.move_down(step_id))

    def remove_step(self, sequence: str | int, step_id: str) -> None:
        """Remove a step (the editor's bin)."""
        self.apply(sequence, lambda seq: seq.remove_step(step_id))

    def set_channel(self, sequence: str | int, step_id: str, channel: str) -> None:
        """Pick the channel of a message step."""
        self.apply(sequence, lambda seq: seq.set_channel(step_id, channel))

    def set_wait(self, sequence: str | int, step_id: str, days: float, hours: float = 0) -> None:
        """Set the timing of a wait step."""
        self.apply(sequence, lambda seq: seq.set_wait(step_id, days, hours))

    def set_brief(self, sequence: str | int, step_id: str, brief: str) -> None:
        """Set what a message step should say."""
        self.apply(sequence, lambda seq: seq.set_brief(step_id, brief))

    def activate(self, name_or_id: str | int) -> Sequence:
        """Start (or restart) a sequence running (*Activate*); it needs a message step."""

        def start(seq: Sequence) -> None:
            seq.check_activatable()
            seq.status = SequenceStatus.ACTIVE

        return self._apply(name_or_id, start)[1]

    def pause(self, name_or_id: str | int) -> Sequence:
        """Pause a sequence (*Pause*): nothing of it drafts or sends until it is activated."""

        def stop(seq: Sequence) -> None:
            if seq.status is not SequenceStatus.ACTIVE:
                raise ConflictError(
                    f"sequence {seq.name!r} is {seq.status.value}, not active, so it cannot be "
                    "paused; only an active sequence can be paused (`teamsim seq activate "
                    f"{shlex.quote(seq.name)}` starts it)"
                )
            seq.status = SequenceStatus.PAUSED

        return self._apply(name_or_id, stop)[1]

    # -- the people on a sequence ----------------------------------------------------------------

    def enroll(self, name_or_id: str | int, contact: Contact | str) -> Enrollment:
        """Put a contact onto a sequence (*Enroll*).

        Args:
            name_or_id: the sequence.
            contact: a new or existing :class:`Contact`, or the email of a stored contact.
        """
        with self.store.unit_of_work() as uow:
            seq = uow.sequences.get_for_update(_key(uow, name_or_id))
            stored = _stored_contact(uow, contact)
            return uow.enrollments.add(_stored_id(seq), _contact_id(stored), self._clock(),
                              current_step_id=first_step_id(seq), next_due_at=None)

    def resume(self, name_or_id: str | int, email: str) -> Enrollment:
        """Resume a paused enrollment (after a reply, say): the person goes on from the step
        they are at.

        Raises:
            NotFoundError: the person is not enrolled in the sequence.
            ConflictError: the enrollment is not paused (nothing is changed).
        """
        with self.store.unit_of_work() as uow:
            seq, enrollment = _enrollment_of(uow, name_or_id, email)
            if enrollment.status is not EnrollmentStatus.PAUSED:
                raise ConflictError(
                    f"{email} is {enrollment.status.value} in sequence {seq.name!r}, not "
                    f"paused, so there is nothing to resume; nothing was changed"
                    + _status_advice(seq.name, email, enrollment.status)
                )
            enrollment_id = _enrollment_id(enrollment)
            uow.enrollments.update(enrollment_id, status=EnrollmentStatus.ACTIVE, paused_at=None)
            return uow.enrollments.get(enrollment_id)

    def end(self, name_or_id: str | int, email: str) -> Enrollment:
        """End an active or paused enrollment: the person gets nothing more from the sequence.

        Raises:
            NotFoundError: the person is not enrolled in the sequence.
            ConflictError: the enrollment has already finished (nothing is changed).
        """
        with self.store.unit_of_work() as uow:
            seq, enrollment = _enrollment_of(uow, name_or_id, email)
            if enrollment.status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED):
                raise ConflictError(
                    f"{email} is already {enrollment.status.value} in sequence {seq.name!r}; "
                    "nothing was changed"
                )
            enrollment_id = _enrollment_id(enrollment)
            uow.enrollments.update(enrollment_id, status=EnrollmentStatus.ENDED,
                                  next_due_at=None, ended_reason=ENDED_BY_HUMAN)
            return uow.enrollments.get(enrollment_id)

    def unenroll(self, name_or_id: str | int, email: str) -> Enrollment:
        """Take a person off a sequence before anything happened to them (no draft, message or
        event yet), as if they had never been enrolled; returns the removed enrollment.

        Raises:
            NotFoundError: the person is not enrolled in the sequence.
            ConflictError: the enrollment has started (nothing is changed; end it instead).
        """
        with self.store.unit_of_work() as uow:
            _, enrollment = _enrollment_of(uow, name_or_id, email)
            uow.enrollments.remove(_enrollment_id(enrollment))
            return enrollment


def _key(uow: UnitOfWork, name_or_id: str | int) -> str | int:
    """Accept ``"12"`` from the command line as the id 12, unless a sequence is named so.

    Only ASCII digits of a size an id can have count (not ``"²"`` or ``"٣"``, which
    ``str.isdigit`` accepts).
    """
    if (isinstance(name_or_id, str) and name_or_id.isascii() and name_or_id.isdigit()
            and len(name_or_id) <= 18):
        try:
            uow.sequences.get(name_or_id)
        except NotFoundError:
            return int(name_or_id)
    return name_or_id


def _stored_contact(uow: UnitOfWork, contact: Contact | str) -> Contact:
    if isinstance(contact, str):
        return uow.contacts.get(contact)
    if contact.id is not None:
        return uow.contacts.get(contact.id)
    try:
        return uow.contacts.get(contact.email)
    except NotFoundError:
        return uow.contacts.add(contact)


def _stored_id(seq: Sequence) -> int:
    if seq.id is None:
        raise ValueError(f"sequence {seq.name!r} has no id: it was never stored")
    return seq.id


def _contact_id(contact: Contact) -> int:
    if contact.id is None:
        raise ValueError(f"contact {contact.email!r} has no id: it was never stored")
    return contact.id


def _enrollment_id(enrollment: Enrollment) -> int:
    if enrollment.id is None:
        raise ValueError("enrollment has no id: it was never stored")
    return enrollment.id


def _enrollment_of(
    uow: UnitOfWork, name_or_id: str | int, email: str
) -> tuple[Sequence, Enrollment]:
    """The sequence (locked for writing) and the enrollment of the contact ``email`` in it."""
    seq = uow.sequences.get_for_update(_key(uow, name_or_id))
    advice = f"`teamsim seq people {shlex.quote(seq.name)}` lists who is enrolled"
    try:
        contact = uow.contacts.get(email)
    except NotFoundError:
        raise NotFoundError(
            f"no contact with email {email!r} is enrolled in sequence {seq.name!r}; {advice}"
        ) from None
    found = uow.enrollments.list(sequence_id=seq.id, contact_id=contact.id)
    if not found:
        raise NotFoundError(
            f"{contact.email} is not enrolled in sequence {seq.name!r}; {advice}"
        )
    return seq, found[0]


def _status_advice(sequence: str, email: str, status: EnrollmentStatus) -> str:
    if status is EnrollmentStatus.ACTIVE:
        where = f"{shlex.quote(sequence)} {shlex.quote(email)}"
        return f" (it is running; `teamsim seq end {where}` ends it)"
    return ""
