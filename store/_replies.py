"""Replies, out-of-office notices, bounces and unsubscribes (``uow.replies``).

Write-behind (Core, buffered), like the other pipeline tables.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select

from teamsim.store._models import ReplyRow
from teamsim.store._records import ReplyKind, ReplyRecord
from teamsim.store._repository import Repository, one_of
from teamsim.store._types import require_utc

__all__ = ["ReplyRepository"]

_REPLY_KINDS = frozenset({"reply", "out_of_office", "bounce", "unsubscribe"})
_REPLIES = cast(Table, ReplyRow.__table__)


class ReplyRepository(Repository):
    """What came back from contacts (``uow.replies``)."""

    __slots__ = ()

    def add(
        self,
        *,
        contact_id: int,
        kind: ReplyKind,
        at: datetime,
        enrollment_id: int | None = None,
        message_id: int | None = None,
        body: str = "",
    ) -> int:
        """Record something that came back from a contact; returns its id."""
        return self._pending.add(ReplyRow, {
            "contact_id": contact_id, "enrollment_id": enrollment_id,
            "message_id": message_id, "kind": one_of(kind, _REPLY_KINDS, "reply kind"),
            "body": body, "received_at": require_utc(at, "add_reply(at=...)"),
        })

    def get(self, reply_id: int) -> ReplyRecord:
        """A reply, by id."""
        return _reply_record(self._load(ReplyRow, reply_id, "reply"))

    def list(
        self, *, contact_id: int | None = None, enrollment_id: int | None = None
    ) -> builtins.list[ReplyRecord]:
        """Replies matching every filter given, in order of arrival."""
        query = select(_REPLIES).order_by(_REPLIES.c.received_at, _REPLIES.c.id)
        if contact_id is not None:
            query = query.where(_REPLIES.c.contact_id == contact_id)
        if enrollment_id is not None:
            query = query.where(_REPLIES.c.enrollment_id == enrollment_id)
        return [_reply_record(row) for row in self._written(query)]



def _reply_record(row: Mapping[str, Any]) -> ReplyRecord:
    return ReplyRecord(**row)
