"""The scenario-file commands of the ``teamsim`` command line: ``validate`` and ``schema``.

:func:`register` adds them to the Typer app. The scenario loader (which needs the simulator) is
imported inside the commands: ``teamsim --help`` must not pay for it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from teamsim.cli._common import fail, out
from teamsim.model import ScenarioError

if TYPE_CHECKING:
    from teamsim.sim import World

__all__ = ["register", "summary"]


def summary(world: World) -> str:
    """What a valid scenario holds, as ``validate`` reports it: ``2 sequences, 120 contacts...``.

    Contacts count the explicit list plus every generated population.
    """
    sequences = len(world.sequences)
    contacts = len(world.contacts) + sum(p.count for p in world.populations)
    return (f"{sequences} sequence{'s' if sequences != 1 else ''}, "
            f"{contacts} contact{'s' if contacts != 1 else ''}, days {world.days:g}")


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``schema`` to ``app``."""
    app.command("validate")(validate)
    app.command("schema")(schema)


def validate(
    files: Annotated[
        list[str], typer.Argument(help="Scenario files (YAML) to check.", show_default=False)
    ],
    allow_large: Annotated[bool, typer.Option(
        "--allow-large", help="Accept more than 100,000 contacts (refused without it).")] = False,
    allow_imports: Annotated[bool, typer.Option(
        "--allow-imports", help="Import (and so check) the model factories the files name; "
        "refused without it, as `run` refuses them, except in replay mode.")] = False,
) -> None:
    """Check scenario files without running them: one line per file, exit 2 if any is bad."""
    # The loader and the runner load the simulator: start-up.
    from teamsim.runner import check_models
    from teamsim.scenario import check_expectation_names, check_size, load_scenario

    bad = False
    for name in files:
        try:
            world = load_scenario(name)
            check_expectation_names(world, name)
            check_size(world, allow_large, name)
            check_models(world, name, allow_imports=allow_imports)
        except ScenarioError as exc:
            fail(str(exc))
            bad = True
            continue
        out.print(f"ok {name} ({summary(world)})", markup=False, emoji=False)
    if bad:
        raise typer.Exit(code=2)


def schema(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write the schema to this file instead of printing it.",
                     show_default=False),
    ] = None,
) -> None:
    """Print the JSON Schema of scenario files, for editors to validate and complete them."""
    from teamsim.scenario import scenario_schema  # loads the simulator: start-up

    text = json.dumps(scenario_schema(), indent=2, ensure_ascii=False) + "\n"
    if out_file is None:
        typer.echo(text, nl=False)
        return
    try:
        _write_atomically(out_file, text)
    except OSError as exc:
        raise fail(f"{out_file}: cannot write the schema: {exc.strerror or exc}") from None
    out.print(f"wrote {out_file}", markup=False, emoji=False)


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that it is never seen half-written."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
