"""Sequences and their saved versions (``uow.sequences``).

ORM: sequences are edited rarely, as whole documents with a version history, and the
session's identity map plus ``SELECT ... FOR UPDATE`` give read-modify-write for free.
"""

from __future__ import annotations

import builtins
import shlex
from datetime import datetime
from typing import Any, cast

import pydantic
from sqlalchemy import CursorResult, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from teamsim.model import (
    ConflictError,
    DatabaseError,
    NotFoundError,
    Sequence,
    SequenceVersion,
    StaleVersionError,
    StoreError,
    TeamsimError,
    ValidationError,
    format_errors,
)
from teamsim.store._models import SequenceRow, SequenceVersionRow
from teamsim.store._repository import Repository
from teamsim.store._types import MAX_ID, require_utc

__all__ = ["SequenceRepository"]



class SequenceRepository(Repository):
    """Sequences, their versions, and the row lock for editing one (``uow.sequences``)."""

    __slots__ = ()

    def add(self, seq: Sequence, at: datetime) -> Sequence:
        """Store a new sequence and record it as version 1.

        Returns:
            The sequence as stored, with its ``id`` and ``version`` set.

        Raises:
            ValidationError: the sequence is invalid.
            ConflictError: a sequence with that name exists (also when another writer stored
                one at the same moment).
        """
        at = require_utc(at, "add_sequence(at=...)")
        checked = _validated_sequence(seq)
        self._check_sequence_name(checked.name, None)
        document = _sequence_document(checked)
        row = SequenceRow(
            name=checked.name, status=checked.status.value, version=1, document=document,
            created_at=at, updated_at=at,
        )
        row.versions.append(SequenceVersionRow(version=1, saved_at=at, snapshot=document))
        self._session.add(row)
        try:
            self._session.flush()
        except IntegrityError:
            # Only the unique name can clash: another writer stored that name after our check.
            raise ConflictError(
                f"a sequence named {checked.name!r} was just stored by another writer in "
                f"{self._where}; nothing was saved. Pick another name or edit that sequence"
            ) from None
        return checked.model_copy(update={"id": row.id, "version": 1})

    def save(self, seq: Sequence, at: datetime) -> Sequence:
        """Save changes to a stored sequence, recording the next version.

        The save is conditional (optimistic concurrency): it succeeds only while the stored
        current version is still ``seq.version``, the version the edit started from. To edit
        without ever meeting :class:`~teamsim.model.errors.StaleVersionError`, read the sequence
        with :meth:`get_for_update` in the same unit of work.

        Returns:
            The sequence as stored, with its new ``version``.

        Raises:
            ValidationError: the sequence is invalid.
            NotFoundError: no sequence has ``seq.id``.
            ConflictError: another sequence has the new name.
            StaleVersionError: someone saved the sequence since ``seq`` was read (nothing is
                saved; read it again and re-apply the edit).
        """
        at = require_utc(at, "save_sequence(at=...)")
        if seq.id is None:
            raise ValueError(
                f"save_sequence: sequence {seq.name!r} has no id; store it with add_sequence first"
            )
        checked = _validated_sequence(seq)
        sequences = cast(Table, SequenceRow.__table__)
        versions = cast(Table, SequenceVersionRow.__table__)
        connection = self._conn()
        stored = connection.execute(
            select(sequences.c.name, sequences.c.version).where(sequences.c.id == seq.id)
        ).one_or_none()
        if stored is None:
            raise NotFoundError(
                f"sequence {seq.id} does not exist in {self._where}; `teamsim seq list` shows "
                "the stored ones"
            )
        if stored.name != checked.name:
            self._check_sequence_name(checked.name, seq.id)
        document = _sequence_document(checked)
        new_version = seq.version + 1
        try:
            changed = connection.execute(
                update(sequences)
                .where(sequences.c.id == seq.id, sequences.c.version == seq.version)
                .values(name=checked.name, status=checked.status.value, version=new_version,
                        document=document, updated_at=at)
            )
            if cast(CursorResult[Any], changed).rowcount != 1:
                raise self._stale(checked.name, seq.id, seq.version)
            connection.execute(insert(versions).values(
                sequence_id=seq.id, version=new_version, saved_at=at, snapshot=document))
        except IntegrityError:
            raise ConflictError(
                f"sequence {checked.name!r} could not be saved: another writer stored a "
                f"conflicting name or version at the same moment in {self._where}; nothing was "
                "saved. Read it again and repeat the edit"
            ) from None
        self._forget_loaded(SequenceRow, [seq.id])
        return checked.model_copy(update={"version": new_version})

    def get_for_update(self, id_or_name: int | str) -> Sequence:
        """The current version of a sequence, locked against other writers until this unit of
        work ends: read-modify-write without lost updates.

        On SQLite this takes the database's write lock (``BEGIN IMMEDIATE``; other writers wait
        up to the busy timeout); on PostgreSQL it locks the sequence's row
        (``SELECT ... FOR UPDATE``). Call it first in the unit of work, before any write.
        """
        connection = self._conn()
        if connection.dialect.name == "sqlite":
            raw = connection.connection.dbapi_connection
            if raw is not None and not raw.in_transaction:
                try:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                except DatabaseError as err:  # the engine's error hook turned it into one
                    reason = err.reason
                    raise StoreError(
                        f"cannot lock {self._where} for writing ({reason}); nothing was "
                        "changed. If another teamsim is writing it, try again when it has "
                        "finished"
                    ) from None
        query = (select(SequenceRow).with_for_update()
                 .execution_options(populate_existing=True))
        if isinstance(id_or_name, int):
            query = query.where(SequenceRow.id == id_or_name)
        else:
            query = query.where(SequenceRow.name == id_or_name)
        row = self._session.scalars(query).one_or_none()
        if row is None:
            raise self._no_sequence(id_or_name)
        return _sequence_from_row(row)

    def _stale(self, name: str, sequence_id: int, read: int) -> TeamsimError:
        current = self._conn().scalar(
            select(SequenceRow.version).where(SequenceRow.id == sequence_id))
        if current is None:
            return NotFoundError(
                f"sequence {name!r} (id {sequence_id}) was deleted from {self._where}; "
                "`teamsim seq list` shows the stored ones"
            )
        return StaleVersionError(
            f"sequence {name!r} was saved by someone else since version {read} was read (it is "
            f"at version {current} now in {self._where}); nothing was saved. Read it again and "
            "repeat the edit"
        )

    def _no_sequence(self, key: int | str) -> NotFoundError:
        if isinstance(key, int):
            return NotFoundError(
                f"sequence {key} does not exist in {self._where}; `teamsim seq list` shows the "
                "stored ones"
            )
        return NotFoundError(
            f"no sequence named {key!r} in {self._where}; `teamsim seq list` shows the stored "
            "ones"
        )

    def get(self, id_or_name: int | str) -> Sequence:
        """The current version of a sequence, by id or by name."""
        return _sequence_from_row(self._sequence_row(id_or_name))

    def list(self) -> builtins.list[Sequence]:
        """Every sequence, in order of creation."""
        rows = self._session.scalars(select(SequenceRow).order_by(SequenceRow.id))
        return [_sequence_from_row(row) for row in rows]

    def versions(self, sequence_id: int) -> builtins.list[SequenceVersion]:
        """Every saved version of a sequence, oldest first."""
        self._sequence_row(sequence_id)
        rows = self._session.scalars(
            select(SequenceVersionRow)
            .where(SequenceVersionRow.sequence_id == sequence_id)
            .order_by(SequenceVersionRow.version)
        )
        return [_version_from_row(row) for row in rows]

    def version(self, sequence_id: int, version: int) -> SequenceVersion:
        """Version ``version`` of a sequence, as it was saved."""
        row = self._session.scalars(
            select(SequenceVersionRow).where(
                SequenceVersionRow.sequence_id == sequence_id,
                SequenceVersionRow.version == version,
            )
        ).one_or_none()
        if row is None:
            name = self._sequence_row(sequence_id).name
            raise NotFoundError(
                f"sequence {sequence_id} has no version {version} in {self._where}; "
                f"`teamsim seq versions {shlex.quote(name)}` lists the saved ones"
            )
        return _version_from_row(row)

    def _sequence_row(self, id_or_name: int | str) -> SequenceRow:
        if isinstance(id_or_name, int):
            row = (self._session.get(SequenceRow, id_or_name) if 0 <= id_or_name <= MAX_ID
                   else None)
        else:
            row = self._session.scalars(
                select(SequenceRow).where(SequenceRow.name == id_or_name)).one_or_none()
        if row is None:
            raise self._no_sequence(id_or_name)
        return row

    def _check_sequence_name(self, name: str, own_id: int | None) -> None:
        other = self._session.scalar(select(SequenceRow.id).where(SequenceRow.name == name))
        if other is not None and other != own_id:
            raise ConflictError(
                f"a sequence named {name!r} already exists (id {other}) in {self._where}; "
                "pick another name or edit that sequence"
            )



def _validated_sequence(seq: Sequence) -> Sequence:
    try:
        return Sequence.model_validate(seq.model_dump())
    except pydantic.ValidationError as err:
        raise ValidationError(format_errors(err, f"sequence {seq.name!r}")) from None


def _sequence_document(seq: Sequence) -> dict[str, Any]:
    return seq.model_dump(mode="json", exclude={"id", "version"})


def _sequence_from_row(row: SequenceRow) -> Sequence:
    return _stored_sequence(row.document, row.id, row.version)


def _version_from_row(row: SequenceVersionRow) -> SequenceVersion:
    return SequenceVersion(
        sequence_id=row.sequence_id, version=row.version, saved_at=row.saved_at,
        sequence=_stored_sequence(row.snapshot, row.sequence_id, row.version),
    )


def _stored_sequence(document: dict[str, Any], sequence_id: int, version: int) -> Sequence:
    """A stored sequence document as a domain model; one this teamsim no longer accepts (an
    infinite wait saved by an older teamsim, say) is a clear error, not a crash."""
    try:
        return Sequence.model_validate({**document, "id": sequence_id, "version": version})
    except pydantic.ValidationError as err:
        where = f"stored sequence {sequence_id} version {version}"
        raise StoreError(
            f"{format_errors(err, where)}; this teamsim refuses what is stored there, so "
            "edit the database with the teamsim that wrote it or start a new database"
        ) from None
