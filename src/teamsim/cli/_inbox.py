"""Reading a finished run: ``teamsim inbox`` (Needs attention at the end, as the human sees it)
and ``teamsim diagnose`` (the "Why isn't it sending?" checklist).

Both read a run folder's ``store.db`` read-only, or a run recorded in a database (``--db URL
--run ID``). Every user-supplied string is printed through :mod:`teamsim.cli._text`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from teamsim.cli._common import RunDbOption, RunDirArg, RunIdOption, fail, out, run_store
from teamsim.cli._text import plain
from teamsim.model import TeamsimError

if TYPE_CHECKING:
    from teamsim.store import AttentionItem, UnitOfWork

__all__ = ["describe_item", "register"]

_EXCERPT = 160


def register(app: typer.Typer) -> None:
    """Add ``inbox`` and ``diagnose`` to ``app``."""
    app.command("inbox")(inbox_command)
    app.command("diagnose")(diagnose_command)


def _excerpt(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= _EXCERPT else flat[:_EXCERPT - 1].rstrip() + "…"


def _contact(uow: UnitOfWork, key: int | str | None) -> str:
    if key is None:
        return "?"
    try:
        contact = uow.contacts.get(key)
    except TeamsimError:
        return str(key)
    return f"{contact.name} <{contact.email}>"


def describe_item(uow: UnitOfWork, item: AttentionItem) -> list[str]:
    """An open Needs attention item as the human sees it: a heading and its details."""
    p = item.payload
    since = item.created_at.strftime("%Y-%m-%d %H:%M UTC")
    if item.kind == "draft":
        seq = (p.get("sequence") or {}).get("name") or "chat"
        step = p.get("step") or {}
        where = f"{seq} / {step.get('id')} {step.get('label') or ''}".strip() if step else seq
        contact = _contact(uow, (p.get("contact") or {}).get("id"))
        draft = p.get("draft") or {}
        lines = [f"draft · since {since} · {contact} · {where} · {p.get('channel', '')} · "
                 f"by {(p.get('drafter') or {}).get('name', '?')}"]
        if draft.get("subject"):
            lines.append(f"Subject: {draft['subject']}")
        lines.append(f"Body: {_excerpt(draft.get('body'))}")
        concerns = p.get("open_concerns") or []
        reviewer = (p.get("reviewer") or {}).get("name", "?")
        if p.get("flagged"):
            lines.append(f"Reviewer {reviewer} flagged it: " + "; ".join(map(str, concerns)))
        else:
            lines.append(f"Reviewer {reviewer}: no open concerns")
        if p.get("rule"):
            lines.append(f"Rule: {p['rule']}")
        return lines
    if item.kind == "reply":
        return [f"reply · since {since} · {_contact(uow, p.get('contact'))} · "
                f"{p.get('sequence', '')}",
                f"Reply: {_excerpt(p.get('body'))}"]
    if item.kind == "draft_failure":
        seq = (p.get("sequence") or {}).get("name") or "chat"
        step = p.get("step") or {}
        where = f"{seq} / {step.get('id')} {step.get('label') or ''}".strip() if step else seq
        contact = _contact(uow, (p.get("contact") or {}).get("id"))
        tries = p.get("tries", "?")
        return [f"draft failure · since {since} · {contact} · {where} · "
                f"{tries} {'try' if tries == 1 else 'tries'}",
                str(p.get("text") or p.get("reason") or "a teammate could not work")]
    if item.kind != "rule_suggestion":
        return [f"{item.kind} · since {since}"]
    return [f"rule suggestion · since {since} · {p.get('name', '')}",
            f"{p.get('approvals_in_a_row', '?')} approvals in a row without edits; "
            "the rule starts switched off"]


def inbox_command(run_dir: RunDirArg = None, db: RunDbOption = None,
                  run: RunIdOption = None) -> None:
    """What is in Needs attention at the end of a run, oldest first, as the human sees it."""
    with run_store(run_dir, db, run) as info:
        uow = info.uow
        items = uow.attention.list("open")
        plural = "item" if len(items) == 1 else "items"
        out.print(f"Needs attention at the end of {info.scenario!r} (seed {info.seed}, "
                  f"{info.end:%Y-%m-%d %H:%M} UTC): {len(items)} open {plural}, oldest first")
        for number, item in enumerate(items, start=1):
            heading, *details = describe_item(uow, item)
            out.print(f"{number}. {heading}")
            for line in details:
                out.print(f"   {line}")


def diagnose_command(
    sequence: Annotated[str, typer.Option(help="The sequence's name.", show_default=False)],
    run_dir: RunDirArg = None,
    contact: Annotated[str | None, typer.Option(
        help="One person's email; default: the whole sequence.", show_default=False)] = None,
    db: RunDbOption = None,
    run: RunIdOption = None,
) -> None:
    """The troubleshooting checklist for a sequence (or one person) at the run's end."""
    from teamsim.reports.diagnose import diagnose, render_lines  # the store: start-up

    with run_store(run_dir, db, run) as info:
        try:
            diagnosis = diagnose(info.uow, sequence, contact, at=info.end)
        except TeamsimError as exc:
            raise fail(str(exc)) from None
        # The checklist is several lines on purpose; each is printed as one plain, cleaned line
        # (a line break inside a name is shown as \n).
        for line in render_lines(diagnosis):
            out.print(plain(line))
