"""Storing a world at the start of a run: teammates, sequences, rules and contacts.

The order of the store calls here fixes every id of the run (and so its digest): teammates,
then sequences, rules, the pipeline's rules engine, and the contacts last.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence as SequenceOf
from dataclasses import dataclass

from teamsim.graph import Pipeline, PipelineConfig, RuleEvaluator, Team
from teamsim.model import (
    Contact,
    EventKind,
    RuleSwitched,
    RunMeta,
    RunStarted,
    SequenceCreated,
    SimMinutes,
    Teammate,
    TeammateRole,
)
from teamsim.sim._actions import DisableRuleAction, EnableRuleAction
from teamsim.sim._context import DAY, RunContext
from teamsim.sim._names import generated_contact
from teamsim.sim._rules import RulesEngine

__all__ = ["Plan", "TeamBuilder", "set_up"]

TeamBuilder = Callable[[SequenceOf[Teammate]], Team]
"""Builds a run's team from its teammates as stored (with their ids); see
:func:`teamsim.assembly.team_builder`."""

Plan = list[tuple[SimMinutes, int, str, str]]
"""Planned enrollments: (minute, order, email, sequence name), sorted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetUp:
    """What storing the world gave: the team and the planned enrollments."""

    team: Team
    plan: Plan


def set_up(ctx: RunContext, team: TeamBuilder, rules: RuleEvaluator | None, *,
           max_concurrency: int = 1) -> SetUp:
    """Store ``ctx.world`` and fill the context's shared state.

    Args:
        ctx: the run's context (its sequences, rule ids, contacts, pipeline are set here).
        team: builds the team from the stored teammates.
        rules: the auto-approve rule evaluator (default: a rules engine over the world's
            rules, kept as ``ctx.rules_engine``).
        max_concurrency: the pipeline's bound on concurrent model calls.
    """
    world, uow, at = ctx.world, ctx.uow, ctx.start
    uow.meta.save_run(RunMeta(world=world.name, seed=ctx.seed, start=at.isoformat(),
                              tick_minutes=world.settings.tick_minutes,
                              human_timezone=world.approver.timezone))
    ctx.log(RunStarted(world=world.name, seed=ctx.seed, start=at.isoformat(),
                       minutes=ctx.until))
    stored = [uow.teammates.add(Teammate(name=t.name, roles=t.roles, capacity=t.capacity))
              for t in world.teammates]
    built = team(stored)
    ctx.default_drafter = next(t.name for t in world.teammates
                               if TeammateRole.DRAFTER in t.roles)
    for seq in world.sequences:
        fresh = seq.model_copy(update={"id": None, "version": 0}, deep=True)
        saved = ctx.sequences[seq.name] = uow.sequences.add(fresh, at)
        ctx.log(SequenceCreated(name=seq.name, status=seq.status.value, version=saved.version,
                                **ctx.send_limits(seq)),
                sequence_id=saved.id)
    for rule in world.rules:
        stored_rule = uow.rules.add(rule.model_copy(update={"id": None}))
        if stored_rule.id is None:
            raise RuntimeError(f"the store gave rule {rule.name!r} no id")
        ctx.rule_ids[rule.name] = stored_rule.id
        if rule.enabled:
            ctx.log(RuleSwitched(**ctx.rule_fields(stored_rule, stored_rule.id)),
                    kind=EventKind.RULE_ENABLED)
    ctx.pipeline = Pipeline(
        rules=rules if rules is not None else _rules_engine(ctx),
        config=PipelineConfig(max_review_rounds=world.settings.max_review_rounds,
                              on_reject=world.settings.on_reject,
                              max_concurrency=max_concurrency))
    return SetUp(team=built, plan=_contacts(ctx))


def _rules_engine(ctx: RunContext) -> RulesEngine:
    engine = ctx.rules_engine = RulesEngine(ctx.uow.rules.list(), ctx.world.approver.timezone)
    # The pipeline asks the rules when a draft is ready, minutes after its work began;
    # scheduled switches make a rule switched in between count for that draft.
    for action in ctx.world.timeline:
        if isinstance(action, EnableRuleAction | DisableRuleAction):
            engine.set_enabled(ctx.rule_ids[action.rule], isinstance(action, EnableRuleAction),
                               at=ctx.world.at(action.minute))
    return engine


def _contacts(ctx: RunContext) -> Plan:
    """Store the world's contacts (named and generated) and plan their enrollments."""
    world = ctx.world
    personas = {p.name: p for p in world.personas}
    people: list[tuple[Contact, str, list[str], SimMinutes]] = [
        (Contact.model_validate(spec.model_dump(
            exclude={"persona", "enroll_in", "enroll_at", "id"})),
         spec.persona, spec.enroll_in, round(spec.enroll_at * DAY))
        for spec in world.contacts]
    for pop in world.populations:
        spread = round(pop.enroll_over_days * DAY)
        for n in range(1, pop.count + 1):
            contact, persona = generated_contact(pop, n, ctx.rng)
            when = round(pop.enroll_at * DAY) + (n - 1) * spread // pop.count
            people.append((contact, persona, pop.enroll_in, when))
    added = ctx.uow.contacts.add_many(contact for contact, _, _, _ in people)
    plan: Plan = []
    order = 0
    for contact, (_, persona, sequences, when) in zip(added, people, strict=True):
        ctx.contacts[contact.email] = contact
        ctx.persona_of[contact.email] = personas[persona]
        for name in sequences:
            plan.append((when, order, contact.email, name))
            order += 1
    plan.sort()
    return plan
