"""Small builders shared by the store tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from teamsim.model import Contact, Sequence, Teammate
from teamsim.store import UnitOfWork

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    """``minutes`` of simulated time after the start."""
    return T0 + timedelta(minutes=minutes)


@dataclass(frozen=True, slots=True, kw_only=True)
class World:
    """Ids of one sequence, contact, enrollment, teammate and task."""

    sequence_id: int
    contact_id: int
    enrollment_id: int
    teammate_id: int
    task_id: int


def world(uow: UnitOfWork, n: int = 0) -> World:
    """Store a sequence with one enrolled contact, a teammate and a task for step s1."""
    seq = uow.sequences.add(Sequence.new(f"Welcome {n}"), T0)
    contact = uow.contacts.add(Contact(name=f"Ann Lee {n}", email=f"ann{n}@example.com"))
    mate = uow.teammates.add(Teammate(name=f"Ada {n}"))
    assert seq.id is not None
    assert contact.id is not None
    assert mate.id is not None
    enrollment = uow.enrollments.add(seq.id, contact.id, T0, current_step_id="s1", next_due_at=T0)
    assert enrollment.id is not None
    task = uow.tasks.add(
        kind="step", thread_id=f"enr-{enrollment.id}-s1", contact_id=contact.id,
        teammate_id=mate.id, at=T0, enrollment_id=enrollment.id, sequence_id=seq.id,
        step_id="s1", brief="Say hello",
    )
    return World(sequence_id=seq.id, contact_id=contact.id, enrollment_id=enrollment.id,
                 teammate_id=mate.id, task_id=task)
