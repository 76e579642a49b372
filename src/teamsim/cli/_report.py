"""``teamsim report``: a run's or a sweep's HTML report, one self-contained offline page.

The page is written by :func:`teamsim.notebook.write_report` (pandas and matplotlib: the
``notebook`` extra), imported inside the command so that ``teamsim --help`` does not pay for
them. Without the extra the command says which to install, in one ``error:`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from teamsim.cli._common import fail, out
from teamsim.model import TeamsimError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""
    app.command("report")(report_command)


def report_command(
    run_dir: Annotated[Path, typer.Argument(
        help="A run directory (what `teamsim run` wrote) or a sweep directory (what "
        "`teamsim sweep --out` wrote).", show_default=False)],
    out_file: Annotated[Path, typer.Option(
        "--out", help="The page to write.")] = Path("report.html"),
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier teamsim report at --out (never another file).")]
        = False,
) -> None:
    """Write a run's (or a sweep's) report: one HTML page, offline, with its plots."""
    try:
        # pandas and matplotlib (the notebook extra): only when a report is made.
        from teamsim.notebook import write_report
    except TeamsimError as exc:  # the extra is missing: one line naming it
        raise fail(f"teamsim report: {exc}") from None
    try:
        written = write_report(run_dir, out_file, force=force)
    except TeamsimError as exc:
        raise fail(str(exc)) from None
    out.print(f"report of {run_dir} -> {written}")
