"""Needs attention as the human sees it: each open item read once, for every page that shows it.

An attention item keeps what it is about as a JSON payload written by the simulator (a draft
with its contact, sequence, step, drafter, reviewer and open concerns; a reply; a rule
suggestion; a draft failure). :func:`read_item` reads that payload into an
:class:`ItemReading`, with the contact looked up in the store; :func:`inbox_entry` lays a
reading out as the heading, detail lines and text that ``teamsim inbox`` prints and the HTML
report shows. The web page's view adds the conversation and the rule preview to the same
reading. Texts are whole and unescaped here; each page escapes or shortens them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from teamsim.model import TeamsimError
from teamsim.store import AttentionItem, UnitOfWork

__all__ = ["InboxEntry", "ItemReading", "inbox_entries", "inbox_entry", "read_item"]

_FAILED = "a teammate could not work"
"""A draft failure's text when its payload gives none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemReading:
    """What one Needs attention item says (fields that do not apply to its kind are empty).

    Attributes:
        item_id: the item's id.
        kind: ``draft``, ``reply``, ``rule_suggestion`` or ``draft_failure``.
        since: when it arrived (UTC).
        contact: the contact as ``Name <email>``; the reference itself when no such contact
            is stored; ``""`` when the item names none.
        contact_id: the contact's id, when it is stored.
        sequence: the sequence's name (``chat`` for a draft or reply outside any sequence).
        sequence_id: the sequence's id, when it is known.
        step: the step as ``id label``, ``""`` outside a sequence.
        channel: the draft's channel.
        drafter: the teammate who drafted it.
        reviewer: the peer teammate who reviewed it.
        subject: a draft's subject line, if it has one.
        text: the text to read: a draft's body, a reply's body, a failure's reason.
        flagged: the reviewer left concerns open.
        concerns: those concerns.
        reviews: each review round as a payload mapping (``revision``, ``verdict``,
            ``notes``).
        rule: the auto-approve rule the draft matched, if any; a suggestion's rule name.
        rule_id: a suggestion's rule id.
        approvals_in_a_row: a suggestion's reason: approvals without edits in a row.
        tries: a failure's number of tries.
        message_id: the message a reply answers.
    """

    item_id: int
    kind: str
    since: datetime
    contact: str = ""
    contact_id: int | None = None
    sequence: str = ""
    sequence_id: int | None = None
    step: str = ""
    channel: str = ""
    drafter: str = ""
    reviewer: str = ""
    subject: str | None = None
    text: str = ""
    flagged: bool = False
    concerns: tuple[str, ...] = ()
    reviews: tuple[dict[str, Any], ...] = ()
    rule: str = ""
    rule_id: int | None = None
    approvals_in_a_row: Any = "?"
    tries: Any = "?"
    message_id: int | None = None

    @property
    def where(self) -> str:
        """The sequence and step (``Welcome / 2 Intro``), or the sequence alone."""
        return f"{self.sequence} / {self.step}" if self.step else self.sequence


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxEntry:
    """One open Needs attention item laid out for reading.

    Attributes:
        item_id: the item's id.
        kind: ``draft``, ``reply``, ``rule_suggestion`` or ``draft_failure``.
        since: when it arrived (UTC, ``YYYY-MM-DD HH:MM UTC``).
        heading: what it is about: the contact, the sequence and step, the channel.
        details: its lines: a draft's subject and reviewer's word, a suggestion's reason.
        text: the text to read: a draft's body, a reply's body, a failure's reason.
    """

    item_id: int
    kind: str
    since: str
    heading: str
    details: tuple[str, ...]
    text: str


def _part(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _contact(uow: UnitOfWork, key: Any) -> tuple[str, int | None]:
    if not isinstance(key, int | str) or isinstance(key, bool):
        return "", None
    try:
        contact = uow.contacts.get(key)
    except TeamsimError:
        return str(key), None
    return f"{contact.name} <{contact.email}>", contact.id


def _sequence_id(uow: UnitOfWork, name: Any) -> int | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return uow.sequences.get(name).id
    except TeamsimError:
        return None


def read_item(uow: UnitOfWork, item: AttentionItem) -> ItemReading:
    """Read ``item``'s payload (looking its contact up in ``uow``); a payload missing a part
    gives empty fields, never an error."""
    p = item.payload
    head = ItemReading(item_id=item.id, kind=item.kind, since=item.created_at)
    if item.kind in ("draft", "draft_failure"):
        sequence, step = _part(p.get("sequence")), _part(p.get("step"))
        contact, contact_id = _contact(uow, _part(p.get("contact")).get("id"))
        draft = _part(p.get("draft"))
        common = replace(
            head, contact=contact, contact_id=contact_id,
            sequence=str(sequence.get("name") or "chat"), sequence_id=_id(sequence.get("id")),
            step=f"{step.get('id', '')} {step.get('label') or ''}".strip() if step else "",
            channel=str(p.get("channel") or ""),
            drafter=str(_part(p.get("drafter")).get("name", "")),
            reviewer=str(_part(p.get("reviewer")).get("name", "")))
        if item.kind == "draft_failure":
            return replace(common, text=str(p.get("text") or p.get("reason") or _FAILED),
                            tries=p.get("tries", "?"))
        subject = draft.get("subject")
        return replace(
            common, subject=None if subject is None else str(subject),
            text=str(draft.get("body") or ""), flagged=bool(p.get("flagged")),
            concerns=tuple(map(str, p.get("open_concerns") or [])),
            reviews=tuple(_part(r) for r in p.get("reviews") or []),
            rule=str(p.get("rule") or ""))
    if item.kind == "reply":
        contact, contact_id = _contact(uow, p.get("contact"))
        name = p.get("sequence")  # None: a reply to a chat message
        sequence_id = _sequence_id(uow, name)
        return replace(head, contact=contact, contact_id=contact_id,
                       sequence=str(name or "chat"), sequence_id=sequence_id,
                       text=str(p.get("body") or ""), message_id=_id(p.get("message_id")))
    if item.kind == "rule_suggestion":
        return replace(head, rule=str(p.get("name", "")), rule_id=_id(p.get("rule_id")),
                       approvals_in_a_row=p.get("approvals_in_a_row", "?"))
    return head


def inbox_entry(reading: ItemReading) -> InboxEntry:
    """``reading`` laid out: a heading, detail lines and the text to read."""
    heading = ""
    details: list[str] = []
    contact = reading.contact or "?"
    if reading.kind == "draft":
        if reading.subject:
            details.append(f"Subject: {reading.subject}")
        reviewer = reading.reviewer or "?"
        if reading.flagged:
            details.append(f"Reviewer {reviewer} flagged it: " + "; ".join(reading.concerns))
        else:
            details.append(f"Reviewer {reviewer}: no open concerns")
        if reading.rule:
            details.append(f"Rule: {reading.rule}")
        heading = (f"{contact} · {reading.where} · {reading.channel} · "
                   f"by {reading.drafter or '?'}")
    elif reading.kind == "reply":
        heading = f"{contact} · {reading.sequence}"
    elif reading.kind == "draft_failure":
        tries = reading.tries
        heading = f"{contact} · {reading.where} · {tries} {'try' if tries == 1 else 'tries'}"
    elif reading.kind == "rule_suggestion":
        heading = reading.rule
        details.append(f"{reading.approvals_in_a_row} approvals in a row without edits; "
                       "the rule starts switched off")
    return InboxEntry(item_id=reading.item_id, kind=reading.kind,
                      since=reading.since.strftime("%Y-%m-%d %H:%M UTC"), heading=heading,
                      details=tuple(details), text=reading.text)


def inbox_entries(uow: UnitOfWork) -> list[InboxEntry]:
    """The items open in Needs attention, oldest first, laid out for reading."""
    return [inbox_entry(read_item(uow, item)) for item in uow.attention.list("open")]
