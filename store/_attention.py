"""The Needs attention queue (``uow.attention``).

Write-behind (Core, buffered): a draft waiting for the human opens an item on the hot path.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, cast, get_args

from sqlalchemy import Table, select

from teamsim.model import ConflictError, NotFoundError
from teamsim.store._models import AttentionRow
from teamsim.store._records import AttentionItem, AttentionKind, AttentionStatus
from teamsim.store._repository import Repository, one_of
from teamsim.store._types import require_utc

__all__ = ["AttentionRepository"]

_ATTENTION_KINDS = frozenset(get_args(AttentionKind))
_ATTENTION_STATUSES = frozenset({"open", "resolved", "withdrawn"})
_ATTENTION = cast(Table, AttentionRow.__table__)
_PLAIN_DEPTH: Final = 64
_SCALARS: Final = frozenset({str, int, bool, type(None)})


class AttentionRepository(Repository):
    """Items waiting for the human (``uow.attention``)."""

    __slots__ = ()

    def open(
        self,
        *,
        kind: AttentionKind,
        at: datetime,
        task_id: int | None = None,
        reply_id: int | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> int:
        """Put an item in the Needs attention queue; returns its id."""
        one_of(kind, _ATTENTION_KINDS, "attention kind")
        return self._pending.add(AttentionRow, {
            "kind": kind, "status": "open", "task_id": task_id, "reply_id": reply_id,
            "payload": _json_copy(dict(payload or {}), "open_attention(payload=...)"),
            "created_at": require_utc(at, "open_attention(at=...)"), "resolved_at": None,
        })

    def resolve(
        self, item_id: int, *, status: AttentionStatus = "resolved", at: datetime
    ) -> None:
        """Close an open attention item as ``resolved`` or ``withdrawn``.

        Raises:
            NotFoundError: no such item.
            ConflictError: the item is not open.
        """
        one_of(status, _ATTENTION_STATUSES - {"open"}, "resolve_attention status")
        values = {"status": status, "resolved_at": require_utc(at, "resolve_attention(at=...)")}
        row = self._pending.tables[AttentionRow].get(item_id)
        if row is not None:
            current: str | None = row["status"]
            if current == "open":
                row.update(values)
                return
        elif self._update(AttentionRow, item_id, values, _ATTENTION.c.status == "open"):
            return
        else:
            current = self._conn().scalar(
                select(_ATTENTION.c.status).where(_ATTENTION.c.id == item_id))
        if current is None:
            raise NotFoundError(f"attention item {item_id} does not exist in {self._where}")
        raise ConflictError(
            f"attention item {item_id} is already {current}; only open items can be {status}"
        )

    def get(self, item_id: int) -> AttentionItem:
        """An attention item, by id."""
        return _attention_item(self._load(AttentionRow, item_id, "attention item"))

    def list(
        self, status: AttentionStatus | None = "open", *, kind: AttentionKind | None = None
    ) -> builtins.list[AttentionItem]:
        """Attention items with ``status`` (``None``: any), oldest first."""
        query = select(_ATTENTION).order_by(_ATTENTION.c.id)
        if status is not None:
            query = query.where(_ATTENTION.c.status == status)
        if kind is not None:
            query = query.where(_ATTENTION.c.kind == kind)
        # Buffered ids are above every written one, so written rows then buffered rows is
        # id order.
        items = [_attention_item(row) for row in self._fetch(query)]
        items.extend(
            _attention_item(row) for row in self._pending.tables[AttentionRow].rows.values()
            if (status is None or row["status"] == status)
            and (kind is None or row["kind"] == kind)
        )
        return items



def _attention_item(row: Mapping[str, Any]) -> AttentionItem:
    # A fresh payload each time, as a read from the database would give.
    return AttentionItem(**{**row, "payload": _json_copy(row["payload"], "attention payload")})


class _NotPlain(Exception):
    """A value :func:`_plain_copy` leaves to the JSON round trip."""


def _plain_copy(value: Any, depth: int) -> Any:
    """A fresh copy of plain JSON data (dicts with ``str`` keys, lists, tuples, ``str``,
    ``int``, ``bool``, finite ``float``, ``None``; exactly those types) as
    ``json.loads(json.dumps(value))`` would give it: containers copied, tuples turned into
    lists, scalars kept (immutable, and the round trip gives them back equal and of the same
    type). Anything else raises :class:`_NotPlain`."""
    kind = value.__class__
    if kind in _SCALARS:
        return value
    if kind is float:
        if value - value != 0.0:
            raise _NotPlain  # NaN and infinities: left to json, as before
        return value
    if depth > _PLAIN_DEPTH:
        raise _NotPlain  # deep (or circular) data: json's own checks apply
    if kind is dict:
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if key.__class__ is not str:
                raise _NotPlain  # json turns other keys into strings
            copied[key] = item if item.__class__ in _SCALARS else _plain_copy(item, depth + 1)
        return copied
    if kind is list or kind is tuple:
        return [item if item.__class__ in _SCALARS else _plain_copy(item, depth + 1)
                for item in value]
    raise _NotPlain


def _json_copy(value: dict[str, Any], what: str) -> dict[str, Any]:
    """``value`` as the database would give it back (a fresh copy; tuples become lists)."""
    try:
        # Plain data (the usual case) is copied structurally, with the same result as the
        # JSON round trip below and a fraction of its cost.
        plain: dict[str, Any] = _plain_copy(value, 0)
        return plain
    except _NotPlain:
        pass
    try:
        copied: dict[str, Any] = json.loads(json.dumps(value))
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what}: not JSON data ({err})") from None
    return copied
