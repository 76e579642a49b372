"""Team assembly: which drafter and which reviewer each teammate of a run uses.

The simulator (:mod:`teamsim.sim`) runs a team it is given; it never picks agents itself.
This roof module makes the choice: each teammate's :class:`~teamsim.agents.TemplateDrafter`
and :class:`~teamsim.agents.RuleReviewer` from its ``drafter``/``reviewer`` settings, unless
a drafter or reviewer is plugged in by name (an LLM, a fake in a test)::

    sim = simulation(world, drafters={"Riley": FakeDrafter(write)})
    result = sim.run()

:func:`model_teammates` builds the :class:`~teamsim.agents.ModelTeammate` of each teammate
backed by a chat model (chosen by :class:`teamsim.llm.ModelResolver`); its drafter and reviewer
are plugged in the same way (:func:`model_agents`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from teamsim.agents import Cassette, Drafter, ModelTeammate, Reviewer, RuleReviewer, TemplateDrafter
from teamsim.graph import RuleEvaluator, Team
from teamsim.llm import ModelChoice, redactor
from teamsim.model import Teammate, ValidationError
from teamsim.sim import DecisionSource, Simulation, TeamBuilder, World
from teamsim.store import Store

__all__ = ["model_agents", "model_teammates", "simulation", "team_builder"]


def model_teammates(
    choices: Mapping[str, ModelChoice], *, cassette: Cassette | None, seed: int
) -> dict[str, ModelTeammate]:
    """One :class:`~teamsim.agents.ModelTeammate` per model-backed teammate of one run.

    Args:
        choices: each model-backed teammate's model, by name.
        cassette: the run's recorded replies, shared by every teammate (``None``: none kept).
        seed: the run's seed (the retries' jitter is drawn from it).
    """
    return {name: ModelTeammate(choice.model, name=name, model_id=choice.model_id,
                                settings=choice.settings, cassette=cassette, seed=seed,
                                redact=redactor(choice.spec.args if choice.spec else {}))
            for name, choice in choices.items()}


def model_agents(
    choices: Mapping[str, ModelChoice], teammates: Mapping[str, ModelTeammate]
) -> tuple[dict[str, Drafter], dict[str, Reviewer]]:
    """The drafters and reviewers of the model-backed teammates (as their specs' ``drafts`` and
    ``reviews`` say), to plug into :func:`simulation`."""
    drafters: dict[str, Drafter] = {name: t.drafter for name, t in teammates.items()
                                    if choices[name].drafts}
    reviewers: dict[str, Reviewer] = {name: t.reviewer for name, t in teammates.items()
                                      if choices[name].reviews}
    return drafters, reviewers


def team_builder(
    world: World,
    *,
    drafters: Mapping[str, Drafter] | None = None,
    reviewers: Mapping[str, Reviewer] | None = None,
) -> TeamBuilder:
    """How a :class:`~teamsim.sim.Simulation` of ``world`` builds its team.

    Args:
        world: the world whose teammates (with their drafter/reviewer settings and fixed
            reviewers, ``reviewed_by``) make the team.
        drafters: drafters by teammate name, replacing the template drafter.
        reviewers: reviewers by teammate name, replacing the rule reviewer.

    Returns:
        A function of the stored teammates (with their ids) that returns the team.

    Raises:
        ValidationError: ``drafters`` or ``reviewers`` names someone who is not a teammate of
            ``world``.
    """
    known = [t.name for t in world.teammates]
    for what, given in (("drafters", drafters), ("reviewers", reviewers)):
        unknown = sorted(set(given or {}) - set(known))
        if unknown:
            raise ValidationError(
                f"{what}: {', '.join(map(repr, unknown))} is not a teammate of "
                f"{world.name!r}; its teammates are {', '.join(map(repr, known))}"
            )
    # A scenario's teammates carry `drafter`/`reviewer` settings (teamsim.scenario's
    # ScenarioTeammate); a bare simulated world's teammates use the defaults.
    chosen_drafters = {
        t.name: (drafters or {}).get(t.name) or TemplateDrafter(getattr(t, "drafter", None))
        for t in world.teammates}
    chosen_reviewers = {
        t.name: (reviewers or {}).get(t.name) or RuleReviewer(getattr(t, "reviewer", None))
        for t in world.teammates}
    pairing = {t.name: t.reviewed_by for t in world.teammates if t.reviewed_by}

    def build(teammates: Sequence[Teammate]) -> Team:
        return Team.of(teammates, drafters=chosen_drafters, reviewers=chosen_reviewers,
                       pairing=pairing)

    return build


def simulation(
    world: World,
    *,
    seed: int | None = None,
    store: Store | None = None,
    until_days: float | None = None,
    drafters: Mapping[str, Drafter] | None = None,
    reviewers: Mapping[str, Reviewer] | None = None,
    rules: RuleEvaluator | None = None,
    progress: Callable[[int], None] | None = None,
    max_concurrency: int = 1,
    decisions: DecisionSource | None = None,
) -> Simulation:
    """A :class:`~teamsim.sim.Simulation` of ``world`` with its team assembled.

    Args:
        world: the world to run.
        seed: the run's seed (default: the world's).
        store: where the run is recorded (default: a new in-memory SQLite store).
        until_days: stop after this many days instead of the world's ``days``.
        drafters: drafters by teammate name, replacing the template drafter.
        reviewers: reviewers by teammate name, replacing the rule reviewer.
        rules: the auto-approve rule evaluator (default: the simulator's rules engine).
        progress: called with the simulated day number as each day ends.
        max_concurrency: how many model calls of the steps due in one tick are made at once
            for teammates whose agents prefetch (1: one after another; the digest is the
            same either way).
        decisions: a person's inputs play the human instead of the scripted approver (see
            :class:`~teamsim.sim.DecisionSource`).

    Raises:
        ValidationError: ``drafters`` or ``reviewers`` names someone who is not a teammate.
    """
    return Simulation(world, team=team_builder(world, drafters=drafters, reviewers=reviewers),
                      seed=seed, store=store, until_days=until_days, rules=rules,
                      progress=progress, max_concurrency=max_concurrency,
                      decisions=decisions)
