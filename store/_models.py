"""The tables, as SQLAlchemy 2.0 typed ORM classes.

Rows are internal to the store: other layers get :mod:`teamsim.model` models or the frozen
records of :mod:`teamsim.store._records`. Free-form strings (task status, review verdicts...)
are plain ``String`` columns; the unit of work checks the closed sets before writing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from teamsim.store._types import UTCDateTime

__all__ = [
    "AttentionRow",
    "Base",
    "ContactRow",
    "DecisionRow",
    "DraftRow",
    "EnrollmentRow",
    "EventRow",
    "MessageRow",
    "MetaRow",
    "ReplyRow",
    "ReviewRow",
    "RuleRow",
    "RunMetricRow",
    "RunRow",
    "SequenceRow",
    "SequenceVersionRow",
    "TaskRow",
    "TeammateRow",
]

JSONDoc = dict[str, Any]


class Base(DeclarativeBase):
    """Declarative base of every teamsim table."""

    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute as is
        datetime: UTCDateTime(),
        JSONDoc: JSON(),
        list[Any]: JSON(),
    }


class MetaRow(Base):
    """Key/value facts about the database itself, among them ``schema_version``."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SequenceRow(Base):
    """A sequence: its name and status as columns, the rest (the step tree) as a JSON document."""

    __tablename__ = "sequences"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int]
    document: Mapped[JSONDoc]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    versions: Mapped[list[SequenceVersionRow]] = relationship(
        back_populates="sequence", order_by="SequenceVersionRow.version"
    )
    enrollments: Mapped[list[EnrollmentRow]] = relationship(back_populates="sequence")


class SequenceVersionRow(Base):
    """One saved version of a sequence: a full JSON snapshot."""

    __tablename__ = "sequence_versions"
    __table_args__ = (UniqueConstraint("sequence_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id"))
    version: Mapped[int]
    saved_at: Mapped[datetime]
    snapshot: Mapped[JSONDoc]

    sequence: Mapped[SequenceRow] = relationship(back_populates="versions")


class ContactRow(Base):
    """A person who can be enrolled."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    company: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    attributes: Mapped[JSONDoc]

    enrollments: Mapped[list[EnrollmentRow]] = relationship(back_populates="contact")


class EnrollmentRow(Base):
    """A contact on a sequence; at most one per (sequence, contact)."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("sequence_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequences.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    current_step_id: Mapped[str | None] = mapped_column(String(50))
    next_due_at: Mapped[datetime | None]
    enrolled_at: Mapped[datetime]
    paused_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(Text)

    sequence: Mapped[SequenceRow] = relationship(back_populates="enrollments")
    contact: Mapped[ContactRow] = relationship(back_populates="enrollments")


class TeammateRow(Base):
    """An AI teammate."""

    __tablename__ = "teammates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    roles: Mapped[list[Any]]
    capacity: Mapped[int]


class TaskRow(Base):
    """One pipeline thread: a due message step of one enrollment (``step``) or a ``chat``."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    thread_id: Mapped[str] = mapped_column(String(200), unique=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"), index=True)
    sequence_id: Mapped[int | None] = mapped_column(ForeignKey("sequences.id"))
    step_id: Mapped[str | None] = mapped_column(String(50))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    teammate_id: Mapped[int | None] = mapped_column(ForeignKey("teammates.id"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("teammates.id"))
    brief: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    drafts: Mapped[list[DraftRow]] = relationship(
        back_populates="task", order_by="DraftRow.revision"
    )
    reviews: Mapped[list[ReviewRow]] = relationship(back_populates="task", order_by="ReviewRow.id")
    message: Mapped[MessageRow | None] = relationship(back_populates="task")


class DraftRow(Base):
    """One draft (or revision) of a task's message."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    revision: Mapped[int]
    author_id: Mapped[int | None] = mapped_column(ForeignKey("teammates.id"))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    minutes: Mapped[int]
    created_at: Mapped[datetime]

    task: Mapped[TaskRow] = relationship(back_populates="drafts")


class ReviewRow(Base):
    """A peer review of one draft."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("teammates.id"))
    verdict: Mapped[str] = mapped_column(String(30))
    notes: Mapped[list[Any]]
    minutes: Mapped[int]
    created_at: Mapped[datetime]

    task: Mapped[TaskRow] = relationship(back_populates="reviews")


class AttentionRow(Base):
    """An item of the Needs attention queue: a draft awaiting approval, a reply, a suggestion."""

    __tablename__ = "attention_items"
    __table_args__ = (Index("ix_attention_items_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("replies.id"))
    payload: Mapped[JSONDoc]
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class DecisionRow(Base):
    """What was decided on a draft (approve, edit, reject), by the human or by a rule."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_rule_id_decided_at", "rule_id", "decided_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id"))
    action: Mapped[str] = mapped_column(String(20))
    by: Mapped[str] = mapped_column(String(20))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime]


class MessageRow(Base):
    """An approved message: queued by its task (at most one per task, so a send can never
    happen twice), then sent (delivered) or cancelled."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), unique=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    step_id: Mapped[str | None] = mapped_column(String(50))
    channel: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    teammate_id: Mapped[int | None] = mapped_column(ForeignKey("teammates.id"))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    queued_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime | None]
    clicked_at: Mapped[datetime | None]

    task: Mapped[TaskRow] = relationship(back_populates="message")


class ReplyRow(Base):
    """Something that came back from a contact: a reply, out-of-office, bounce, unsubscribe."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime]


class RuleRow(Base):
    """An auto-approve rule: its name and switch as columns, the definition as JSON."""

    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    enabled: Mapped[bool]
    definition: Mapped[JSONDoc]


class EventRow(Base):
    """One entry of the append-only event log; ``seq`` is assigned in append order.

    Entity ids are plain integers, not foreign keys: the log records what happened, and bulk
    inserts of hundreds of thousands of rows should not pay for constraint checks.
    """

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(60), index=True)
    sequence_id: Mapped[int | None]
    enrollment_id: Mapped[int | None]
    contact_id: Mapped[int | None]
    task_id: Mapped[int | None]
    payload: Mapped[JSONDoc]


class RunRow(Base):
    """One simulation run recorded in this database (``teamsim run --db``).

    The run's own rows (its sequences, contacts, tasks, events...) are in the ``run_*`` tables
    under its ``id`` (:mod:`teamsim.store._archive`); ``started_at`` and ``finished_at`` are
    wall-clock times, metadata that no digest depends on.
    """

    __tablename__ = "runs"
    # SQLite would hand a deleted run's id to the next run (max + 1): a run folder holding
    # that id would then read another run. AUTOINCREMENT never reuses one (PostgreSQL's
    # identity does not either).
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - read by SQLAlchemy

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario: Mapped[str] = mapped_column(String(200), index=True)
    scenario_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int]
    teamsim_version: Mapped[str] = mapped_column(String(50))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))
    digest: Mapped[str | None] = mapped_column(String(64))
    until_days: Mapped[float] = mapped_column(Float)
    sim_start: Mapped[datetime]
    sim_end: Mapped[datetime]
    events: Mapped[int]


class RunMetricRow(Base):
    """One metric of one run, as a number: ``SELECT avg(value) FROM run_metrics WHERE
    name = 'reply_rate'``."""

    __tablename__ = "run_metrics"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    value: Mapped[float | None] = mapped_column(Float)


class RunStopRow(Base):
    """What a stopped ``--db`` run needs to resume (``teamsim run --resume ID --db URL``).

    One row per stopped run, written in the transaction that records it: the simulated
    minute it stopped at, its journal (the chained lines of
    :mod:`teamsim.runner`'s journal, as one text; ``journal_lines`` and ``journal_head`` say
    how many lines and which chain it ended with, so a line removed at the end is found too)
    and its canonical event lines so far (``events``, one a line: what the re-executed run
    must log again). The table is created when the first run stops in a database (a
    database made before it needs no migration); the row goes when the run finishes.
    """

    __tablename__ = "run_stops"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    minute: Mapped[int]
    journal_lines: Mapped[int]
    journal_head: Mapped[str] = mapped_column(String(64))
    journal: Mapped[str] = mapped_column(Text)
    events: Mapped[str] = mapped_column(Text)
