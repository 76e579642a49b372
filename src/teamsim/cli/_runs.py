"""The ``teamsim runs`` commands: ``list`` the runs a database keeps, ``show`` one, ``delete``
one.

A database keeps every ``teamsim run --db URL`` (see :func:`teamsim.runner.runs`). The runner
is imported inside the commands: ``teamsim --help`` must not pay for it. Scenario names come
from users: every cell is printed as plain text (:mod:`teamsim.cli._text`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from teamsim.cli._app import Typer
from teamsim.cli._common import check_db_option, fail, out
from teamsim.cli._text import plain
from teamsim.model import TeamsimError

if TYPE_CHECKING:
    from teamsim.runner import RunRecord

__all__ = ["register", "runs_app"]

runs_app = Typer(
    help="The runs a database keeps (teamsim run --db URL): list, show, delete.",
    no_args_is_help=True,
)

DbOption = Annotated[str, typer.Option(
    "--db", envvar="TEAMSIM_DATABASE_URL",
    help="Database: a SQLite file path or any SQLAlchemy URL (postgresql+psycopg://user@host/db).",
    show_default=True)]
RunIdArg = Annotated[int, typer.Argument(
    help="The run's id (`teamsim runs list` shows them).", min=1, show_default=False)]


def register(app: typer.Typer) -> None:
    """Add the ``runs`` group (``list``, ``show``, ``delete``) to ``app``."""
    app.add_typer(runs_app, name="runs")


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def _days(value: float) -> str:
    return f"{value:g}"


@runs_app.command("list")
def list_runs(
    db: DbOption = "teamsim.db",
    scenario: Annotated[str | None, typer.Option(
        help="Only the runs of this scenario (its name).", show_default=False)] = None,
) -> None:
    """Every run the database keeps, oldest first: id, scenario, seed, status, digest."""
    from teamsim.runner import runs  # LangGraph, SimPy, SciPy: start-up

    check_db_option(db)
    try:
        found = runs(db, scenario=scenario)
    except TeamsimError as exc:
        raise fail(f"--db: {exc}") from None
    if not found:
        out.print("no runs yet: record one with `teamsim run SCENARIO --db URL`", markup=False)
        return
    table = Table(show_edge=False, pad_edge=False)
    for column, right in (("id", True), ("scenario", False), ("seed", True), ("days", True),
                          ("status", False), ("events", True), ("digest", False),
                          ("started (UTC)", False)):
        table.add_column(column, justify="right" if right else "left")
    for run in found:
        table.add_row(*(plain(cell) for cell in (
            run.id, run.scenario, run.seed, _days(run.until_days), run.status.value,
            run.events, (run.digest or "")[:12], _when(run.started_at))))
    out.print(table)


def _fields(run: RunRecord) -> list[tuple[str, str]]:
    return [
        ("scenario", run.scenario), ("scenario hash", run.scenario_hash),
        ("seed", str(run.seed)), ("status", run.status.value),
        ("simulated", f"{_days(run.until_days)} days, {_when(run.sim_start)} to "
                      f"{_when(run.sim_end)} UTC"),
        ("events", str(run.events)), ("digest", run.digest or ""),
        ("teamsim", run.teamsim_version),
        ("started", f"{_when(run.started_at)} UTC"),
        ("finished", f"{_when(run.finished_at)} UTC" if run.finished_at else ""),
    ]


@runs_app.command("show")
def show_run(run_id: RunIdArg, db: DbOption = "teamsim.db") -> None:
    """One run: what ran, its digest, and every metric."""
    from teamsim.runner import run_metrics, runs  # LangGraph, SimPy, SciPy: start-up

    check_db_option(db)
    try:
        metrics = run_metrics(db, run_id)
        run = next(found for found in runs(db) if found.id == run_id)
    except TeamsimError as exc:
        raise fail(f"--db: {exc}") from None
    out.print(f"run {run.id}", markup=False)
    about = Table(show_header=False, show_edge=False, pad_edge=False, box=None)
    about.add_column("field")
    about.add_column("value")
    for name, value in _fields(run):
        about.add_row(plain(name), plain(value))
    out.print(about)
    if not metrics:
        return
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for metric, number in metrics.items():
        table.add_row(plain(metric), plain("" if number is None else f"{number:g}"))
    out.print(table)


@runs_app.command("delete")
def delete_run(run_id: RunIdArg, db: DbOption = "teamsim.db") -> None:
    """Delete one run: its row, its metrics and its rows; nothing else in the database."""
    from teamsim.runner import delete_run as delete  # LangGraph, SimPy, SciPy: start-up

    check_db_option(db)
    try:
        run = delete(db, run_id)
    except TeamsimError as exc:
        raise fail(f"--db: {exc}") from None
    out.print(f"deleted run {run.id} ({run.scenario!r}, seed {run.seed}, "
              f"{run.status.value})", markup=False)
