"""Team assembly: which drafter and reviewer each teammate of a run gets.

STAND-IN on the ``scen`` branch: helper B's ``teamsim.assembly`` (``team_builder``,
``simulation``) replaces this file at merge. It offers the same ``simulation(world, ...)``
call so that the runner and the scenario's checks build every simulation in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from teamsim.agents import Drafter, Reviewer, RuleReviewer, TemplateDrafter
from teamsim.sim import Simulation, World
from teamsim.store import Store

__all__ = ["simulation"]


def simulation(
    world: World,
    *,
    seed: int | None = None,
    store: Store | None = None,
    until_days: float | None = None,
    drafters: Mapping[str, Drafter] | None = None,
    reviewers: Mapping[str, Reviewer] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Simulation:
    """A simulation of ``world`` whose teammates use the template drafter and rule reviewer
    configured in the scenario (their defaults for a bare world), unless ``drafters`` /
    ``reviewers`` name others by teammate."""
    chosen_drafters: dict[str, Drafter] = {}
    chosen_reviewers: dict[str, Reviewer] = {}
    for t in world.teammates:
        # A scenario's teammates carry `drafter`/`reviewer` settings; a bare world's do not.
        # (Read by name: teamsim.scenario imports this module.)
        chosen_drafters[t.name] = (drafters or {}).get(t.name) or TemplateDrafter(
            getattr(t, "drafter", None))
        chosen_reviewers[t.name] = (reviewers or {}).get(t.name) or RuleReviewer(
            getattr(t, "reviewer", None))
    return Simulation(world, seed=seed, store=store, until_days=until_days,
                      drafters=chosen_drafters, reviewers=chosen_reviewers, progress=progress)
