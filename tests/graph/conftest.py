"""Fixtures for the pipeline tests: a store with two teammates, a contact, an enrollment."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from teamsim.agents import (
    Draft,
    DraftRequest,
    FakeDrafter,
    FakeReviewer,
    Review,
    ReviewRequest,
    Verdict,
)
from teamsim.graph import Pipeline, PipelineResult, TeamMember
from teamsim.model import AutoApproveRule, Contact, MessageStep, Sequence, Teammate
from teamsim.store import Store, UnitOfWork

AT = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def writes(minutes: int = 10) -> FakeDrafter:
    """A drafter whose body shows the revision and the notes it answered."""

    def draft(request: DraftRequest) -> Draft:
        notes = "; ".join(request.review_notes)
        return Draft(subject=f"Hello {request.contact.first_name}",
                     body=f"r{request.revision} {request.brief} [{notes}]", minutes=minutes)

    return FakeDrafter(draft)


def passes(minutes: int = 5) -> FakeReviewer:
    """A reviewer that passes every draft."""
    return FakeReviewer(lambda request: Review(verdict=Verdict.PASS, minutes=minutes))


def revises(until: int | None = None, minutes: int = 5) -> FakeReviewer:
    """A reviewer that asks for a revision of every draft before revision ``until``."""

    def review(request: ReviewRequest) -> Review:
        if until is not None and request.request.revision >= until:
            return Review(verdict=Verdict.PASS, minutes=minutes)
        return Review(verdict=Verdict.REVISE, reasons=(f"tone: r{request.request.revision}",),
                      minutes=minutes)

    return FakeReviewer(review)


@dataclass
class World:
    """A stored sequence, contact and enrollment, and two stored teammates."""

    uow: UnitOfWork
    sequence: Sequence
    step: MessageStep
    contact: Contact
    enrollment_id: int
    ann: Teammate
    bob: Teammate

    def start(self, pipeline: Pipeline, *, drafter: FakeDrafter | None = None,
              reviewer: FakeReviewer | None = None, at: datetime = AT) -> PipelineResult:
        """Run the sequence's first message step for the contact: Ann drafts, Bob reviews."""
        return pipeline.start_step(
            uow=self.uow, enrollment_id=self.enrollment_id, sequence=self.sequence,
            step=self.step, contact=self.contact,
            drafter_member=TeamMember(teammate=self.ann, drafter=drafter or writes(),
                                      reviewer=passes()),
            reviewer_member=TeamMember(teammate=self.bob, drafter=writes(),
                                       reviewer=reviewer or passes()),
            at=at,
        )

    def rule(self, name: str) -> int:
        """Store an enabled auto-approve rule; return its id."""
        stored = self.uow.rules.add(AutoApproveRule(name=name, enabled=True))
        assert stored.id is not None
        return stored.id

    def types(self) -> list[str]:
        """The event types logged so far, in order."""
        return [event.type for event in self.uow.events.iter()]


@pytest.fixture
def uow(store: Store) -> Iterator[UnitOfWork]:
    """A unit of work on an empty store (both backends)."""
    with store.unit_of_work() as opened:
        yield opened


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    """A stored sequence with one email step, a contact enrolled on it, Ann and Bob."""
    return make_world(uow)


def make_world(uow: UnitOfWork) -> World:
    """Store the sequence, contact, enrollment and teammates of :func:`world`."""
    sequence = uow.sequences.add(Sequence.new("Welcome new leads"), AT)
    step = sequence.message_steps()[0]
    contact = uow.contacts.add(Contact(name="Dana Diaz", email="dana@example.com"))
    assert sequence.id is not None
    assert contact.id is not None
    enrollment = uow.enrollments.add(sequence.id, contact.id, AT, current_step_id=step.id,
                            next_due_at=AT)
    assert enrollment.id is not None
    return World(
        uow=uow, sequence=sequence, step=step, contact=contact, enrollment_id=enrollment.id,
        ann=uow.teammates.add(Teammate(name="Ann")), bob=uow.teammates.add(Teammate(name="Bob")),
    )


