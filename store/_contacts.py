"""Contacts (``uow.contacts``).

Core inserts (``INSERT ... RETURNING``), one multi-row statement for a whole population;
reads through the ORM.
"""

from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError

from teamsim.model import ConflictError, Contact
from teamsim.store._models import ContactRow
from teamsim.store._repository import Repository

__all__ = ["ContactRepository"]



class ContactRepository(Repository):
    """The people sequences write to (``uow.contacts``)."""

    __slots__ = ()

    def add(self, contact: Contact) -> Contact:
        """Store a new contact; returns it with its ``id``.

        Raises:
            ConflictError: a contact with that email exists.
        """
        other = self._session.scalar(
            select(ContactRow.id).where(ContactRow.email == contact.email)
        )
        if other is not None:
            raise ConflictError(
                f"a contact with email {contact.email!r} already exists (id {other}) in "
                f"{self._where}; use that contact or another email"
            )
        data = contact.model_dump(mode="json", exclude={"id"})
        try:
            contact_id = self._insert(ContactRow, data)
        except IntegrityError:  # another writer added that email after the check above
            raise ConflictError(
                f"a contact with email {contact.email!r} was just added by another writer in "
                f"{self._where}; nothing was saved. Try again: that contact will be used"
            ) from None
        return contact.model_copy(update={"id": contact_id})

    def add_many(self, contacts: Iterable[Contact]) -> builtins.list[Contact]:
        """Store many new contacts with one multi-row ``INSERT``; returns them with their ids,
        in the order given (the simulator adds whole populations this way).

        Raises:
            ConflictError: an email is given twice, or a contact with it exists (nothing is
                written).
        """
        batch = list(contacts)
        counts = Counter(c.email for c in batch)
        twice = sorted(email for email, n in counts.items() if n > 1)
        if twice:
            raise ConflictError(
                f"add_contacts: email(s) {', '.join(map(repr, twice[:5]))} given more than once; "
                "every contact needs its own email"
            )
        table = cast(Table, ContactRow.__table__)
        emails = list(counts)
        for start in range(0, len(emails), 500):
            found = self._session.connection().execute(
                select(table.c.email).where(table.c.email.in_(emails[start:start + 500]))
            ).scalars().all()
            if found:
                raise ConflictError(
                    f"add_contacts: contact(s) with email {', '.join(map(repr, sorted(found)[:5]))}"
                    f" already exist in {self._where}; use them or other emails"
                )
        if not batch:
            return []
        rows = [c.model_dump(mode="json", exclude={"id"}) for c in batch]
        ids = self._session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        ).scalars().all()
        return [c.model_copy(update={"id": i}) for c, i in zip(batch, ids, strict=True)]

    def get(self, id_or_email: int | str) -> Contact:
        """A contact, by id or by email."""
        key = id_or_email if isinstance(id_or_email, int) else id_or_email.lower()
        return _contact_from_row(
            self._get_by(ContactRow, key, ContactRow.email, "contact with email",
                         "`teamsim seq enroll SEQUENCE --email EMAIL` adds and enrolls a "
                         "contact"))

    def list(self) -> builtins.list[Contact]:
        """Every contact, in order of creation."""
        rows = self._session.scalars(select(ContactRow).order_by(ContactRow.id))
        return [_contact_from_row(row) for row in rows]



def _contact_from_row(row: ContactRow) -> Contact:
    return Contact(
        id=row.id, name=row.name, email=row.email, company=row.company,
        timezone=row.timezone, attributes=row.attributes,
    )
