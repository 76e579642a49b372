"""``teamsim report``: a run's or a sweep's HTML report, one self-contained offline page.

The page is written by :func:`teamsim.notebook.write_report` (pandas and matplotlib: the
``notebook`` extra), imported inside the command so that ``teamsim --help`` does not pay for
them. Without the extra the command says which to install, in one ``error:`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from teamsim.cli._common import RunDbOption, RunIdOption, check_db_option, fail, mask_url, out
from teamsim.cli._text import plain
from teamsim.model import TeamsimError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""
    app.command("report")(report_command)


def report_command(
    run_dir: Annotated[Path | None, typer.Argument(
        help="A run directory (what `teamsim run` wrote) or a sweep directory (what "
        "`teamsim sweep --out` wrote); or none, with --db URL --run ID.",
        show_default=False)] = None,
    out_file: Annotated[Path, typer.Option(
        "--out", help="The page to write.")] = Path("report.html"),
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier teamsim report at --out (never another file).")]
        = False,
    db: RunDbOption = None,
    run: RunIdOption = None,
) -> None:
    """Write a run's (or a sweep's) report: one HTML page, offline, with its plots."""
    check_db_option(db)
    if run_dir is None and db is None:
        raise fail("give a run directory (what `teamsim run` wrote) or a sweep directory, "
                   "or --db URL with --run ID (`teamsim runs list --db URL` shows the runs)")
    if run is not None and db is None:
        raise fail(f"--run: needs --db, the database the run is kept in; or give only the "
                   f"run directory {run_dir}")
    try:
        # pandas and matplotlib (the notebook extra): only when a report is made.
        from teamsim.notebook import write_report
    except TeamsimError as exc:  # the extra is missing: one line naming it
        raise fail(f"teamsim report: {exc}") from None
    try:
        written = write_report(run_dir, out_file, force=force, db=db, run=run)
    except TeamsimError as exc:
        raise fail(str(exc)) from None
    shown = run_dir if run_dir is not None else f"run {run} in {mask_url(db or '')}" \
        if run is not None else mask_url(db or "")
    out.print(plain(f"report of {shown} -> {written}"))
