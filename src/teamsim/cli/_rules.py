"""The ``teamsim rules`` commands: ``list`` a run's auto-approve rules, ``preview`` one.

Both read a *run directory* (what ``teamsim run`` leaves: ``run.json`` and the run's
``store.db``, or the database ``run.json`` names). :func:`register` adds the group to the
Typer app. The reports (and with them the store and the simulator's rules engine) are imported
inside the commands: ``teamsim --help`` must not pay for them. Names come from users: every one
is printed as plain text (:mod:`teamsim.cli._text`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from teamsim.cli._app import Typer
from teamsim.cli._common import RunDbOption, RunDirArg, RunIdOption, fail, run_store
from teamsim.cli._text import PlainConsole, plain
from teamsim.model import NotFoundError, check_timezone

if TYPE_CHECKING:
    from rich.console import Console

    from teamsim.model import AutoApproveRule
    from teamsim.reports import PreviewedDraft, RulePreview
    from teamsim.store import UnitOfWork

__all__ = ["describe_match", "register", "rules_app"]

rules_app = Typer(
    help="Auto-approve rules of a run: list them with their use, preview one.",
    no_args_is_help=True,
)

TimezoneOption = Annotated[
    str | None,
    typer.Option("--timezone", help="Time zone of the per-day caps (default: the human's).",
                 show_default=False),
]


def register(app: typer.Typer) -> None:
    """Add the ``rules`` group (``list``, ``preview``) to ``app``."""
    app.add_typer(rules_app, name="rules")


def describe_match(rule: AutoApproveRule) -> str:
    """What a rule matches, in words: ``Welcome / step hello / email / any teammate / clean
    review``."""
    return " / ".join([
        rule.sequence or "any sequence",
        f"step {rule.step}" if rule.step is not None else "any step",
        rule.channel or "any channel",
        rule.teammate or "any teammate",
        "clean review" if rule.require_clean_review else "flagged too",
    ])


def _of(used: int, cap: int | None) -> str:
    return str(used) if cap is None else f"{used} of {cap}"


def _console() -> Console:
    # Made per command so the width follows the terminal (or COLUMNS) at the time.
    return PlainConsole()


def _timezone(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return check_timezone(name)
    except ValueError as exc:
        raise fail(f"--timezone: {exc}") from None


@rules_app.command("list")
def list_rules(run_dir: RunDirArg = None, timezone: TimezoneOption = None,
               db: RunDbOption = None, run: RunIdOption = None) -> None:
    """Each rule of a run: what it matches, whether it is on, its use against its caps."""
    from teamsim.reports import rule_usage  # the store and the rules engine: start-up

    zone = _timezone(timezone)
    with run_store(run_dir, db, run) as view:
        usage = rule_usage(view.uow, timezone=zone)
    console = _console()
    if not usage:
        console.print("no auto-approve rules in this run", markup=False)
        return
    table = Table(show_edge=False, pad_edge=False)
    for column, right in (("id", True), ("name", False), ("on", False), ("matches", False),
                          ("used", True), (f"today ({usage[0].day})", True),
                          ("status", False)):
        table.add_column(column, justify="right" if right else "left")
    for use in usage:
        rule = use.rule
        name = f"{rule.name} (suggested)" if use.suggested else rule.name
        table.add_row(*(plain(cell) for cell in (
            rule.id, name, "yes" if rule.enabled else "no", describe_match(rule),
            _of(use.used, rule.max_total), _of(use.used_today, rule.max_per_day), use.status)))
    console.print(table)


@rules_app.command("preview")
def preview_rule(
    run_dir: Annotated[str | None, typer.Argument(
        metavar="RUN_DIR", help="A run directory (what `teamsim run` wrote); left out with "
        "--db URL --run ID, where the only argument is the rule.", show_default=False)] = None,
    rule: Annotated[str | None, typer.Argument(
        help="The rule's name or id.", show_default=False)] = None,
    timezone: TimezoneOption = None,
    examples: Annotated[
        int, typer.Option("--examples", min=0, help="How many example drafts to show.")
    ] = 5,
    db: RunDbOption = None,
    run: RunIdOption = None,
) -> None:
    """What a rule would approve: past drafts, drafts waiting now, and where its caps stop it.

    ``teamsim rules preview RUN_DIR RULE``, or ``teamsim rules preview RULE --db URL --run ID``.
    """
    from teamsim.reports import preview  # the store and the rules engine: start-up

    if rule is None and run_dir is not None and db is not None:
        rule, run_dir = run_dir, None  # the rule alone: the run is --db's
    if rule is None:
        raise fail("RULE: missing; give the rule's name or id: `teamsim rules preview "
                   "RUN_DIR RULE`, or `teamsim rules preview RULE --db URL --run ID`")
    folder = None if run_dir is None else Path(run_dir)
    zone = _timezone(timezone)
    with run_store(folder, db, run) as view:
        found = _find_rule(view.uow, rule)
        if found is None:
            listing = (f"`teamsim rules list {view.name}`" if folder is not None
                       else "`teamsim rules list --db URL --run ID`")
            raise fail(f"{view.name}: no rule {rule!r}; {listing} shows them by name and id")
        result = preview(view.uow, found, timezone=zone)
    _render(_console(), result, examples)


def _find_rule(uow: UnitOfWork, key: str) -> AutoApproveRule | None:
    try:
        return uow.rules.get(key)
    except NotFoundError:
        pass
    if key.isascii() and key.isdigit() and len(key) <= 18:
        try:
            return uow.rules.get(int(key))
        except NotFoundError:
            return None
    return None


def _render(console: Console, result: RulePreview, examples: int) -> None:
    rule = result.rule
    say = console.print
    say(f"rule {rule.id} {rule.name!r} ({'on' if rule.enabled else 'off'}): "
        f"{describe_match(rule)}", markup=False)
    caps = [f"{rule.max_total} in all"] if rule.max_total is not None else []
    if rule.max_per_day is not None:
        caps.append(f"{rule.max_per_day} a day ({result.timezone})")
    say(f"caps: {', '.join(caps) or 'none'}", markup=False)
    say(f"drafts that reached approval: {result.reached_gate}", markup=False)
    say(f"would have approved: {len(result.past)} past drafts"
        + (f" ({len(result.past_capped)} more matched; a cap stopped them)"
           if result.past_capped else ""), markup=False)
    say(f"would approve now: {len(result.waiting)} waiting drafts"
        + (f" ({len(result.waiting_capped)} more matched; a cap stops them)"
           if result.waiting_capped else ""), markup=False)
    if rule.max_total is not None:
        say(f"total cap: {result.would_approve} of {rule.max_total} "
            f"({result.total_left} left)", markup=False)
    if result.per_day:
        say("per day:", markup=False)
        for day, count in result.per_day.items():
            full = (" (cap reached)" if rule.max_per_day is not None and count >= rule.max_per_day
                    else "")
            say(f"  {day}  {_of(count, rule.max_per_day)}{full}", markup=False)
    shown = [*result.past, *result.waiting][:examples]
    stopped = [*result.past_capped, *result.waiting_capped][:examples]
    if shown:
        say("for example:", markup=False)
        for draft in shown:
            say(_example(draft, result.timezone), markup=False)
    if stopped:
        say("stopped by a cap, for example:", markup=False)
        for draft in stopped:
            say(f"{_example(draft, result.timezone)}: {draft.reason}", markup=False)


def _example(draft: PreviewedDraft, timezone: str) -> str:
    local = draft.at.astimezone(ZoneInfo(timezone))
    step = draft.step_label or draft.step_id
    return (f"  task {draft.task_id}  {local:%Y-%m-%d %H:%M}  {draft.sequence} / {step}  "
            f"{draft.channel}  {draft.teammate} -> {draft.contact}")
