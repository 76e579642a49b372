"""Needs attention at the end of a run, as the human sees it: one typed entry per open item.

The same reading of each item as ``teamsim inbox`` prints (a draft with its text and the
reviewer's concerns, a reply, a rule suggestion, a draft failure), as values a page can lay
out. Texts are whole here; the page escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from teamsim.model import TeamsimError
from teamsim.store import AttentionItem, UnitOfWork

__all__ = ["InboxEntry", "inbox_entries"]


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxEntry:
    """One open Needs attention item.

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


def _contact(uow: UnitOfWork, key: Any) -> str:
    if not isinstance(key, int | str) or isinstance(key, bool):
        return "?"
    try:
        contact = uow.contacts.get(key)
    except TeamsimError:
        return str(key)
    return f"{contact.name} <{contact.email}>"


def _where(p: dict[str, Any]) -> str:
    sequence = p.get("sequence")
    name = (sequence.get("name") if isinstance(sequence, dict) else None) or "chat"
    step = p.get("step")
    if not isinstance(step, dict) or not step:
        return str(name)
    return f"{name} / {step.get('id')} {step.get('label') or ''}".strip()


def _part(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _entry(uow: UnitOfWork, item: AttentionItem) -> InboxEntry:
    p = item.payload
    since = item.created_at.strftime("%Y-%m-%d %H:%M UTC")
    heading = ""
    details: list[str] = []
    text = ""
    if item.kind == "draft":
        draft, reviewer = _part(p.get("draft")), _part(p.get("reviewer"))
        if draft.get("subject"):
            details.append(f"Subject: {draft['subject']}")
        concerns = [str(c) for c in p.get("open_concerns") or []]
        if p.get("flagged"):
            details.append(f"Reviewer {reviewer.get('name', '?')} flagged it: "
                           + "; ".join(concerns))
        else:
            details.append(f"Reviewer {reviewer.get('name', '?')}: no open concerns")
        if p.get("rule"):
            details.append(f"Rule: {p['rule']}")
        heading = (f"{_contact(uow, _part(p.get('contact')).get('id'))} · {_where(p)} · "
                   f"{p.get('channel', '')} · by {_part(p.get('drafter')).get('name', '?')}")
        text = str(draft.get("body") or "")
    elif item.kind == "reply":
        heading = f"{_contact(uow, p.get('contact'))} · {p.get('sequence', '')}"
        text = str(p.get("body") or "")
    elif item.kind == "draft_failure":
        tries = p.get("tries", "?")
        heading = (f"{_contact(uow, _part(p.get('contact')).get('id'))} · {_where(p)} · "
                   f"{tries} {'try' if tries == 1 else 'tries'}")
        text = str(p.get("text") or p.get("reason") or "a teammate could not work")
    elif item.kind == "rule_suggestion":
        heading = str(p.get("name", ""))
        details.append(f"{p.get('approvals_in_a_row', '?')} approvals in a row without edits; "
                       "the rule starts switched off")
    return InboxEntry(item_id=item.id, kind=item.kind, since=since, heading=heading,
                      details=tuple(details), text=text)


def inbox_entries(uow: UnitOfWork) -> list[InboxEntry]:
    """The items open in Needs attention, oldest first."""
    return [_entry(uow, item) for item in uow.attention.list("open")]
