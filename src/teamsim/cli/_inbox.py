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


def describe_item(uow: UnitOfWork, item: AttentionItem) -> list[str]:
    """An open Needs attention item as the human sees it: a heading and its details (the
    reading of :mod:`teamsim.reports.inbox`, texts shortened to one line)."""
    from teamsim.reports.inbox import inbox_entry, read_item

    reading = read_item(uow, item)
    entry = inbox_entry(reading)
    known = entry.kind in ("draft", "reply", "draft_failure", "rule_suggestion")
    lines = [f"{entry.kind.replace('_', ' ')} · since {entry.since} · {entry.heading}" if known
             else f"{entry.kind} · since {entry.since}"]
    details = list(entry.details)
    if entry.kind == "draft":
        details.insert(1 if reading.subject else 0, f"Body: {_excerpt(entry.text)}")
    elif entry.kind == "reply":
        details.append(f"Reply: {_excerpt(entry.text)}")
    elif entry.kind == "draft_failure":
        details.append(entry.text)
    return lines + details


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
