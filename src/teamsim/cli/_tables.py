"""What the evaluation commands share: the progress bar on stderr, the report tables, and the
``--allow-large`` option."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from teamsim.cli._common import err
from teamsim.cli._text import clean, plain

__all__ = ["AllowLarge", "progress_bar", "report_table"]

AllowLarge = Annotated[bool, typer.Option(
    "--allow-large", help="Run a scenario of more than 100,000 contacts (about 10 KiB and "
    "3 ms of CPU each on a file store); refused without this flag.")]


@contextmanager
def progress_bar(
    total: float, what: str, *, eta: bool = False
) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (drawn only on a terminal), with the time left when ``eta``;
    yields ``update(completed)``."""
    # Not at the top: rich.progress brings rich.live and eight more modules (about 5 ms of CPU,
    # measured) that only the commands that run scenarios use.
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    left = (TimeRemainingColumn(),) if eta else ()
    bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                   MofNCompleteColumn(), TimeElapsedColumn(), *left, console=err,
                   transient=True, disable=not err.is_terminal)
    with bar:
        task = bar.add_task(clean(what), total=total)
        yield lambda done: bar.update(task, completed=done)


def report_table(*columns: str, title: str | None = None, right: tuple[str, ...] = ()) -> Table:
    """A table in the run report's style; its title is plain text (it may hold a name)."""
    table = Table(title=None if title is None else plain(title), title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    return table
