"""The toolbar of *CRM > Sequences* as a Python API, persisted in a store.

Each operation loads the sequence, applies one edit through the validated domain model and saves
it in one unit of work: every save records a new version, and an operation that fails changes
nothing (the unit of work rolls back, the domain edit validates before it applies).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from teamsim.domain import (
    AttributeCondition,
    BranchStep,
    Contact,
    EngagementCondition,
    Enrollment,
    MessageStep,
    Sequence,
    SequenceStatus,
    SequenceVersion,
    WaitStep,
)
from teamsim.errors import ConflictError, NotFoundError
from teamsim.store import Store, UnitOfWork

__all__ = ["Clock", "Workspace", "first_step_id", "wall_clock"]

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
            return uow.get_sequence(_key(name_or_id))

    def sequences(self) -> list[Sequence]:
        """Every sequence, in the order they were created."""
        with self.store.unit_of_work() as uow:
            return uow.list_sequences()

    def versions(self, name_or_id: str | int) -> list[SequenceVersion]:
        """Every saved version of a sequence, oldest first."""
        with self.store.unit_of_work() as uow:
            seq = uow.get_sequence(_key(name_or_id))
            assert seq.id is not None
            return uow.sequence_versions(seq.id)

    def enrollments(self, name_or_id: str | int) -> list[tuple[Enrollment, Contact]]:
        """The people enrolled in a sequence, with their enrollment."""
        with self.store.unit_of_work() as uow:
            seq = uow.get_sequence(_key(name_or_id))
            return [
                (e, uow.get_contact(e.contact_id))
                for e in uow.list_enrollments(sequence_id=seq.id)
            ]

    # -- the toolbar --------------------------------------------------------------------------

    def new_sequence(self, name: str, description: str = "") -> Sequence:
        """Create a draft sequence with the spec's example steps (*New sequence*)."""
        seq = Sequence.new(name, description)
        with self.store.unit_of_work() as uow:
            return uow.add_sequence(seq, self._clock())

    @contextmanager
    def edit(self, name_or_id: str | int) -> Iterator[Sequence]:
        """Edit a sequence in a ``with`` block and save it at the end as one new version.

        Works the same on draft, active and paused sequences (*Edit* while running). If the block
        raises, nothing is saved.
        """
        with self.store.unit_of_work() as uow:
            seq = uow.get_sequence(_key(name_or_id))
            yield seq
            uow.save_sequence(seq, self._clock())

    def add_message(self, sequence: str | int, channel: str = "email", label: str = "",
                    **options: Any) -> MessageStep:
        """Add a message step on ``channel``; see :meth:`Sequence.add_message`."""
        with self.edit(sequence) as seq:
            return seq.add_message(channel, label, **options)

    def add_email(self, sequence: str | int, label: str = "Email", **options: Any) -> MessageStep:
        """Add an email step (the toolbar's *Add email*)."""
        return self.add_message(sequence, "email", label, **options)

    def add_wait(self, sequence: str | int, days: float = 0, hours: float = 0, label: str = "",
                 **options: Any) -> WaitStep:
        """Add a wait step (*Add wait*)."""
        with self.edit(sequence) as seq:
            return seq.add_wait(days, hours, label, **options)

    def add_branch(self, sequence: str | int,
                   condition: AttributeCondition | EngagementCondition | dict[str, Any],
                   label: str = "Branch", **options: Any) -> BranchStep:
        """Add a branch step (*Add branch*)."""
        with self.edit(sequence) as seq:
            return seq.add_branch(condition, label, **options)

    def label_step(self, sequence: str | int, step_id: str, label: str) -> None:
        """Label a step so you remember what it is for."""
        with self.edit(sequence) as seq:
            seq.label_step(step_id, label)

    def move_step(self, sequence: str | int, step_id: str, to_index: int) -> None:
        """Move a step to ``to_index`` among its siblings."""
        with self.edit(sequence) as seq:
            seq.move_step(step_id, to_index)

    def move_up(self, sequence: str | int, step_id: str) -> None:
        """Move a step one place up (the editor's up arrow)."""
        with self.edit(sequence) as seq:
            seq.move_up(step_id)

    def move_down(self, sequence: str | int, step_id: str) -> None:
        """Move a step one place down (the editor's down arrow)."""
        with self.edit(sequence) as seq:
            seq.move_down(step_id)

    def remove_step(self, sequence: str | int, step_id: str) -> None:
        """Remove a step (the editor's bin)."""
        with self.edit(sequence) as seq:
            seq.remove_step(step_id)

    def set_channel(self, sequence: str | int, step_id: str, channel: str) -> None:
        """Pick the channel of a message step."""
        with self.edit(sequence) as seq:
            seq.set_channel(step_id, channel)

    def set_wait(self, sequence: str | int, step_id: str, days: float, hours: float = 0) -> None:
        """Set the timing of a wait step."""
        with self.edit(sequence) as seq:
            seq.set_wait(step_id, days, hours)

    def set_brief(self, sequence: str | int, step_id: str, brief: str) -> None:
        """Set what a message step should say."""
        with self.edit(sequence) as seq:
            seq.set_brief(step_id, brief)

    def activate(self, name_or_id: str | int) -> Sequence:
        """Start (or restart) a sequence running (*Activate*); it needs a message step."""
        with self.store.unit_of_work() as uow:
            seq = uow.get_sequence(_key(name_or_id))
            seq.check_activatable()
            seq.status = SequenceStatus.ACTIVE
            return uow.save_sequence(seq, self._clock())

    def pause(self, name_or_id: str | int) -> Sequence:
        """Pause a sequence (*Pause*): nothing of it drafts or sends until it is activated."""
        with self.store.unit_of_work() as uow:
            seq = uow.get_sequence(_key(name_or_id))
            if seq.status is not SequenceStatus.ACTIVE:
                raise ConflictError(
                    f"sequence {seq.name!r} is {seq.status.value}, not active, so it cannot be "
                    "paused; only an active sequence can be paused"
                )
            seq.status = SequenceStatus.PAUSED
            return uow.save_sequence(seq, self._clock())

    def enroll(self, name_or_id: str | int, contact: Contact | str) -> Enrollment:
        """Put a contact onto a sequence (*Enroll*).

        Args:
            name_or_id: the sequence.
            contact: a new or existing :class:`Contact`, or the email of a stored contact.
        """
        with self.store.unit_of_work() as uow:
            seq = uow.get_sequence(_key(name_or_id))
            stored = _stored_contact(uow, contact)
            assert seq.id is not None
            assert stored.id is not None
            return uow.enroll(seq.id, stored.id, self._clock(),
                              current_step_id=first_step_id(seq), next_due_at=None)


def _key(name_or_id: str | int) -> str | int:
    """Accept ``"12"`` from the command line as the id 12 unless a name is meant."""
    if isinstance(name_or_id, str) and name_or_id.isdigit():
        return int(name_or_id)
    return name_or_id


def _stored_contact(uow: UnitOfWork, contact: Contact | str) -> Contact:
    if isinstance(contact, str):
        return uow.get_contact(contact)
    if contact.id is not None:
        return uow.get_contact(contact.id)
    try:
        return uow.get_contact(contact.email)
    except NotFoundError:
        return uow.add_contact(contact)
