"""Enrollments: a contact on a sequence (``uow.enrollments``).

Core statements for the simulator's many enrollments and daily ``executemany`` updates; ORM
reads, whose loaded objects are expired after a Core update.
"""

from __future__ import annotations

import builtins
import shlex
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from teamsim.model import (
    ConflictError,
    DuplicateEnrollmentError,
    Enrollment,
    EnrollmentStatus,
    NotFoundError,
)
from teamsim.store._models import (
    ContactRow,
    EnrollmentRow,
    EventRow,
    MessageRow,
    ReplyRow,
    SequenceRow,
    TaskRow,
)
from teamsim.store._pending import WriteBehind
from teamsim.store._repository import Repository
from teamsim.store._types import require_utc

__all__ = ["EnrollmentRepository"]

_ENROLLMENT_FIELDS = frozenset(
    {"status", "current_step_id", "next_due_at", "paused_at", "ended_reason"}
)


class EnrollmentRepository(Repository):
    """Contacts on sequences and their state (``uow.enrollments``)."""

    __slots__ = ("_flush",)

    def __init__(self, session: Session, pending: WriteBehind, *, where: str,
                 flush: Callable[[], None]) -> None:
        """Work in ``session``; ``flush`` sends the whole unit of work's pending writes (a
        removal must see every row that refers to the enrollment)."""
        super().__init__(session, pending, where=where)
        self._flush = flush

    def add(
        self,
        sequence_id: int,
        contact_id: int,
        at: datetime,
        *,
        current_step_id: str | None = None,
        next_due_at: datetime | None = None,
    ) -> Enrollment:
        """Put a contact on a sequence.

        Raises:
            NotFoundError: the sequence or the contact does not exist (nothing is written).
            DuplicateEnrollmentError: the contact is already on the sequence (nothing is
                written).
        """
        at = require_utc(at, "enroll(at=...)")
        if next_due_at is not None:
            next_due_at = require_utc(next_due_at, "enroll(next_due_at=...)")
        # One Core statement on the session's connection answers all three checks (the
        # simulator enrolls thousands of people; three ORM round trips cost four times more).
        connection = self._session.connection()
        sequences, contacts = cast(Table, SequenceRow.__table__), cast(Table, ContactRow.__table__)
        enrollments = cast(Table, EnrollmentRow.__table__)
        name, email, existing_id = connection.execute(select(
            select(sequences.c.name).where(sequences.c.id == sequence_id).scalar_subquery(),
            select(contacts.c.email).where(contacts.c.id == contact_id).scalar_subquery(),
            select(enrollments.c.id).where(
                enrollments.c.sequence_id == sequence_id,
                enrollments.c.contact_id == contact_id,
            ).scalar_subquery(),
        )).one()
        if name is None:
            raise NotFoundError(
                f"cannot enroll contact {contact_id} into sequence {sequence_id}: no such "
                f"sequence in {self._where}; `teamsim seq list` shows the stored ones"
            )
        if email is None:
            raise NotFoundError(
                f"cannot enroll contact {contact_id} into sequence {name!r} (id {sequence_id}): "
                f"no such contact in {self._where}; enroll by email with `teamsim seq enroll "
                "SEQUENCE --email EMAIL`, which adds the contact"
            )
        if existing_id is not None:
            status = str(connection.execute(
                select(enrollments.c.status).where(enrollments.c.id == existing_id)).scalar())
            raise DuplicateEnrollmentError(
                f"contact {email!r} (id {contact_id}) is already enrolled in sequence {name!r} "
                f"(id {sequence_id}) as enrollment {existing_id} ({status}) in "
                f"{self._where}; nothing was changed. {_enrollment_advice(name, email, status)}"
            )
        values = {
            "sequence_id": sequence_id, "contact_id": contact_id,
            "status": EnrollmentStatus.ACTIVE.value, "current_step_id": current_step_id,
            "next_due_at": next_due_at, "enrolled_at": at, "paused_at": None,
            "ended_reason": None,
        }
        try:
            enrollment_id = self._insert(EnrollmentRow, values)
        except IntegrityError:  # another writer enrolled them after the check above
            raise DuplicateEnrollmentError(
                f"contact {email!r} (id {contact_id}) was just enrolled in sequence {name!r} "
                f"(id {sequence_id}) by another writer in {self._where}; nothing was changed"
            ) from None
        return Enrollment(id=enrollment_id, sequence_id=sequence_id, contact_id=contact_id,
                          enrolled_at=at, current_step_id=current_step_id,
                          next_due_at=next_due_at)

    def get(self, enrollment_id: int) -> Enrollment:
        """An enrollment, by id."""
        return _enrollment_from_row(self._get(EnrollmentRow, enrollment_id, "enrollment"))

    def list(
        self,
        sequence_id: int | None = None,
        contact_id: int | None = None,
        status: EnrollmentStatus | str | None = None,
    ) -> builtins.list[Enrollment]:
        """The enrollments matching every filter given, in order of creation."""
        query = select(EnrollmentRow).order_by(EnrollmentRow.id)
        if sequence_id is not None:
            query = query.where(EnrollmentRow.sequence_id == sequence_id)
        if contact_id is not None:
            query = query.where(EnrollmentRow.contact_id == contact_id)
        if status is not None:
            query = query.where(EnrollmentRow.status == EnrollmentStatus(status).value)
        return [_enrollment_from_row(row) for row in self._session.scalars(query)]

    def update(self, enrollment_id: int, **fields: Any) -> None:
        """Change an enrollment's ``status``, ``current_step_id``, ``next_due_at``,
        ``paused_at`` or ``ended_reason`` (one ``UPDATE``, no read).

        Raises:
            TypeError: a field that cannot be changed.
            NotFoundError: no such enrollment.
        """
        values = _enrollment_values(fields)
        if values and not self._update(EnrollmentRow, enrollment_id, values):
            raise NotFoundError(f"enrollment {enrollment_id} does not exist in {self._where}")
        self._forget_loaded(EnrollmentRow, [enrollment_id])

    def update_many(self, changes: Mapping[int, Mapping[str, Any]]) -> None:
        """Apply many :meth:`update` changes at once: one ``executemany`` per set
        of changed fields (the simulator writes its enrollments' state this way each day).

        Raises:
            TypeError: a field that cannot be changed.
            NotFoundError: an enrollment that does not exist (nothing is changed then only if
                the caller rolls back, as with any error inside a unit of work).
        """
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for enrollment_id, fields in changes.items():
            values = _enrollment_values(fields)
            if values:
                groups.setdefault(tuple(sorted(values)), []).append(
                    {"row_id_": enrollment_id, **{f"v_{k}": v for k, v in values.items()}})
        table = cast(Table, EnrollmentRow.__table__)
        for names, rows in groups.items():
            statement = update(table).where(table.c.id == bindparam("row_id_")).values(
                {name: bindparam(f"v_{name}") for name in names})
            result = self._session.execute(statement, rows)
            if cast(CursorResult[Any], result).rowcount != len(rows):
                raise NotFoundError(
                    f"some of enrollments {sorted(r['row_id_'] for r in rows)} do not exist in "
                    f"{self._where}"
                )
        self._forget_loaded(EnrollmentRow, list(changes))

    def remove(self, enrollment_id: int) -> None:
        """Delete an enrollment that has not started: nothing (no task, message, reply or
        event) refers to it yet.

        Raises:
            NotFoundError: no such enrollment.
            ConflictError: the enrollment has started (nothing is deleted; end it instead).
        """
        self._flush()
        row = self._get(EnrollmentRow, enrollment_id, "enrollment")
        for model, what in ((TaskRow, "tasks"), (MessageRow, "messages"),
                            (ReplyRow, "replies"), (EventRow, "events")):
            table = cast(Table, model.__table__)
            used = self._session.scalar(
                select(func.count()).select_from(table)
                .where(table.c.enrollment_id == enrollment_id))
            if used:
                raise ConflictError(
                    f"enrollment {enrollment_id} has started ({used} {what} refer to it in "
                    f"{self._where}), so it cannot be removed; nothing was changed. End it "
                    "instead with `teamsim seq end SEQUENCE EMAIL`"
                )
        self._session.delete(row)
        self._session.flush()



def _enrollment_advice(sequence: str, email: str, status: str) -> str:
    """What a person already enrolled can do instead of enrolling again (real CLI commands)."""
    where = f"{shlex.quote(sequence)} {shlex.quote(email)}"
    if status == EnrollmentStatus.PAUSED.value:
        return (f"Resume it with `teamsim seq resume {where}` or end it with "
                f"`teamsim seq end {where}`")
    if status == EnrollmentStatus.ACTIVE.value:
        return (f"It is already running; end it with `teamsim seq end {where}`, or remove it "
                f"before it starts with `teamsim seq unenroll {where}`")
    return ("A contact goes through a sequence once; to reach them again, enroll them in "
            "another sequence (`teamsim seq new NAME` creates one)")


def _enrollment_from_row(row: EnrollmentRow) -> Enrollment:
    return Enrollment(
        id=row.id, sequence_id=row.sequence_id, contact_id=row.contact_id,
        status=EnrollmentStatus(row.status), current_step_id=row.current_step_id,
        next_due_at=row.next_due_at, enrolled_at=row.enrolled_at, paused_at=row.paused_at,
        ended_reason=row.ended_reason,
    )


def _enrollment_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Checked column values for an enrollment update."""
    unknown = set(fields) - _ENROLLMENT_FIELDS
    if unknown:
        raise TypeError(
            f"update_enrollment: cannot change {', '.join(sorted(unknown))}; "
            f"changeable fields are {', '.join(sorted(_ENROLLMENT_FIELDS))}"
        )
    values = dict(fields)
    if "status" in values:
        values["status"] = EnrollmentStatus(values["status"]).value
    for key in ("next_due_at", "paused_at"):
        if values.get(key) is not None:
            values[key] = require_utc(values[key], f"update_enrollment({key}=...)")
    return values
