"""``teamsim run --db URL --sequence NAME [--contacts CSV]``: simulate what the toolbar built.

The runner is imported inside the function (``teamsim --help`` must not pay for it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from teamsim.cli._common import fail
from teamsim.model import TeamsimError

if TYPE_CHECKING:
    from teamsim.scenario import Scenario

__all__ = ["from_store"]


def from_store(scenario: str | None, sequence: str | None, contacts: Path | None,
                db: str | None, stop_at: object) -> tuple[str, Scenario]:
    """``--sequence NAME [--contacts CSV]``: the name the run goes by (its folder is
    runs/<name>-seedN) and the stored sequence as a scenario."""
    from teamsim import runner
    from teamsim.store import Store

    if sequence is None:
        raise fail("--contacts: goes with --sequence NAME (the people to enroll in it)")
    if scenario is not None:
        raise fail("--sequence: give a scenario file or --sequence, not both")
    if db is None:
        raise fail("--sequence: name the database the sequence is in with --db URL")
    if stop_at is not None:
        raise fail("--stop-at: a --sequence run cannot be resumed; export it with "
                   "`teamsim seq export` and run the file")
    try:
        people = None if contacts is None else runner.read_contacts_csv(contacts)
        with Store.open(db, read_only=True) as store:  # read, never made or written
            world = runner.stored_scenario(store, sequence, people)
    except TeamsimError as exc:
        raise fail(str(exc)) from None
    name = runner.default_out_dir(world, world.seed).name.removesuffix(f"-seed{world.seed}")
    return name, world
