"""Teammates (``uow.teammates``): a few rows per run, plain ORM reads and a Core insert.
"""

from __future__ import annotations

import builtins

from sqlalchemy import select

from teamsim.model import ConflictError, Teammate
from teamsim.store._models import TeammateRow
from teamsim.store._repository import Repository

__all__ = ["TeammateRepository"]



class TeammateRepository(Repository):
    """The AI teammates who draft and review (``uow.teammates``)."""

    __slots__ = ()

    def add(self, teammate: Teammate) -> Teammate:
        """Store a new teammate; returns it with its ``id``.

        Raises:
            ConflictError: a teammate with that name exists.
        """
        other = self._session.scalar(
            select(TeammateRow.id).where(TeammateRow.name == teammate.name)
        )
        if other is not None:
            raise ConflictError(
                f"a teammate named {teammate.name!r} already exists (id {other}) in "
                f"{self._where}; pick another name"
            )
        data = teammate.model_dump(mode="json", exclude={"id"})
        return teammate.model_copy(update={"id": self._insert(TeammateRow, data)})

    def get(self, id_or_name: int | str) -> Teammate:
        """A teammate, by id or by name."""
        return _teammate_from_row(
            self._get_by(TeammateRow, id_or_name, TeammateRow.name, "teammate named",
                         "the scenario's `teammates:` list names the teammates"))

    def list(self) -> builtins.list[Teammate]:
        """Every teammate, in order of creation."""
        rows = self._session.scalars(select(TeammateRow).order_by(TeammateRow.id))
        return [_teammate_from_row(row) for row in rows]



def _teammate_from_row(row: TeammateRow) -> Teammate:
    return Teammate.model_validate(
        {"id": row.id, "name": row.name, "roles": row.roles, "capacity": row.capacity}
    )
