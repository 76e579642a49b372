"""The ``teamsim`` command line.

Errors that teamsim raises on purpose (a :class:`~teamsim.model.TeamsimError`) are printed to
stderr as one ``error: ...`` line per problem and exit with code 2; so are usage errors (a bad
option value, a missing argument). An unexpected exception exits with code 3 and asks for a
report; the codes are listed in :mod:`teamsim.cli._app` and the README.

The modules, one way round (each imports only those below it):

- this package: the app and :func:`main`; it registers the command modules' commands;
- the command modules: :mod:`~teamsim.cli._seq` (``seq ...``), :mod:`~teamsim.cli._scenario`
  (``validate``, ``schema``), :mod:`~teamsim.cli._run` (``run``, ``test``, and ``sweep`` of
  :mod:`~teamsim.cli._sweep`), :mod:`~teamsim.cli._inbox` (``inbox``, ``diagnose``),
  :mod:`~teamsim.cli._rules` (``rules list``, ``rules preview``), :mod:`~teamsim.cli._report`
  (``report``), :mod:`~teamsim.cli._runs` (``runs list``, ``runs show``, ``runs delete``),
  :mod:`~teamsim.cli._serve` (``serve``); :mod:`~teamsim.cli._tables` holds the progress bar
  and report tables the evaluation commands share;
- :mod:`~teamsim.cli._app`: the Typer shell (usage lines, usage errors, exit codes);
- :mod:`~teamsim.cli._common`: what the commands share (consoles, ``fail``, URLs, opening a
  workspace or a run folder);
- :mod:`~teamsim.cli._text`: user-supplied text made safe for the terminal.

Start-up is kept light: the store, the runner and the simulator (SQLAlchemy, LangGraph, SimPy,
SciPy) are imported only inside the commands that use them, so ``teamsim --help`` and the
``seq`` commands do not pay for them.
"""

from __future__ import annotations

import gc
from typing import Annotated

import typer

from teamsim.cli import _inbox, _report, _rules, _run, _runs, _scenario, _seq, _serve
from teamsim.cli._app import Group, Typer

__all__ = ["app", "main"]


def _version(value: bool) -> None:
    if value:
        # importlib.metadata pulls in zipfile, email and socket (about 10 ms): only for --version.
        from importlib.metadata import version

        typer.echo(f"teamsim {version('teamsim')}")
        raise typer.Exit()


app = Typer(
    name="teamsim",
    help="Simulate AI teammates running outreach sequences, deterministically.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=Group,
    epilog="Exit codes: 0 all passed, 1 an expectation or invariant failed, 2 bad input, "
    "3 internal error (please report it), 130 interrupted.",
)
"""The ``teamsim`` Typer application."""


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the teamsim version and exit.")] = False,
) -> None:
    """Simulate AI teammates running outreach sequences, deterministically."""


for _commands in (_seq, _scenario, _run, _inbox, _rules, _runs, _report, _serve):
    _commands.register(app)


def main() -> None:
    """Entry point of the ``teamsim`` console script (and of ``python -m teamsim``)."""
    try:
        app(prog_name="teamsim")
    finally:
        # The command is done (its files written and closed) and the process is about to
        # exit: spare the exit the collector's passes over everything the simulation stack
        # imported (about half a second of a `teamsim run` or `sweep`). Frozen objects are
        # still released as modules are torn down. Here only, not in the app: a process
        # that goes on (a test calling the app) keeps its collector as it was.
        gc.freeze()
