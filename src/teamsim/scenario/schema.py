"""The scenario file's format: a simulated :class:`~teamsim.sim.World` and what the roof reads.

A :class:`Scenario` is the world the simulator runs plus the parts only a run's checks use:
``expect`` (metric expectations), ``diagnose`` (troubleshooting answers) and ``compare``
(variants run on the same seed), and each teammate's ``drafter`` and ``reviewer`` settings,
which pick the agents that build the team. It validates everything the world does, and more:
every step's templates parse, every diagnosis check names what exists, and the team can be
assembled (every drafter has a peer reviewer), in the order the file names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from teamsim.agents import DraftStyle, ReviewRules, check_template
from teamsim.graph import Team
from teamsim.llm import LlmSettings, ModelSpec
from teamsim.model import (
    MAX_CONTACTS,
    BranchStep,
    MessageStep,
    MetricBound,
    ScenarioError,
    Step,
    Teammate,
    TeamsimError,
    format_errors,
    shorten,
)
from teamsim.sim import KnownContacts, TeammateSpec, World

__all__ = [
    "Comparison",
    "DiagnosisCheck",
    "Expectation",
    "Scenario",
    "ScenarioTeammate",
    "check_size",
    "contact_count",
    "with_values",
]

_MODEL = ConfigDict(extra="forbid")


class Expectation(BaseModel):
    """A check on one metric: an exact value, bounds, or a range."""

    model_config = _MODEL
    equals: MetricBound | None = None
    min: MetricBound | None = None
    max: MetricBound | None = None
    between: tuple[MetricBound, MetricBound] | None = None

    @model_validator(mode="after")
    def _order(self) -> Expectation:
        if self.between is not None and self.between[1] < self.between[0]:
            raise ValueError(f"between: [{self.between[0]:g}, {self.between[1]:g}] is empty; "
                             "write the lower bound first")
        return self

    def check(self, value: float) -> bool:
        """Whether ``value`` meets the expectation."""
        if self.equals is not None and value != self.equals:
            return False
        if self.min is not None and value < self.min:
            return False
        if self.max is not None and value > self.max:
            return False
        return self.between is None or self.between[0] <= value <= self.between[1]

    def describe(self) -> str:
        """The expectation in words, like ``between 40 and 60``."""
        parts = []
        if self.equals is not None:
            parts.append(f"== {self.equals:g}")
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.between is not None:
            parts.append(f"between {self.between[0]:g} and {self.between[1]:g}")
        return ", ".join(parts) or "anything"


class DiagnosisCheck(BaseModel):
    """An expected answer of the troubleshooting checklist at the end of the run.

    ``answer`` is the first thing the checklist finds for ``sequence`` (and ``contact``, an
    email, if given): not_active, no_one_enrolled, not_enrolled, waiting_on_you, replied,
    schedule, ended or all_clear.
    """

    model_config = _MODEL
    sequence: str
    contact: str | None = None
    answer: Literal["not_active", "no_one_enrolled", "not_enrolled", "waiting_on_you",
                    "replied", "schedule", "ended", "all_clear"]


class Comparison(BaseModel):
    """A variant of the scenario run on the same seed and compared with it.

    ``set`` changes values by dotted path (``approver.approve: 0.9``,
    ``sequences.0.steps.2.days: 1``); ``expect`` checks the variant's own metrics and
    ``expect_change`` checks the variant's metric minus the scenario's (common random numbers
    make the difference sharp).
    """

    model_config = _MODEL
    set: dict[str, Any] = Field(min_length=1)
    expect: dict[str, Expectation | MetricBound] = Field(default_factory=dict)
    expect_change: dict[str, Expectation | MetricBound] = Field(default_factory=dict)




class ScenarioTeammate(TeammateSpec):
    """An AI teammate in a scenario: roles, capacity (tasks at once), drafter and reviewer.

    ``drafter`` sets the template drafter's style and templates; ``reviewer`` sets the rule
    reviewer's checks (banned phrases, length limits...).

    ``reviewed_by`` fixes the peer who reviews this teammate's drafts (default: round robin
    over the other reviewers).

    ``model`` backs the teammate with a chat model (a :class:`~teamsim.llm.ModelSpec`): it
    drafts and reviews in place of the template drafter and the rule reviewer (see its
    ``drafts``/``reviews``). A factory named here is imported only with ``--allow-imports``.
    """

    drafter: DraftStyle = Field(default_factory=DraftStyle)
    reviewer: ReviewRules = Field(default_factory=ReviewRules)
    model: ModelSpec | None = None


class Scenario(World):
    """A scenario file's body: the world to simulate, its checks and its variants.

    ``expect`` maps metric names to an :class:`Expectation` (a bare number means equals);
    ``diagnose`` lists :class:`DiagnosisCheck` answers; ``compare`` names :class:`Comparison`
    variants.

    ``start`` is a local date-time in ``timezone`` (or an aware date-time); ``days`` is how long
    the run lasts; ``seed`` is the default seed. ``llm`` sets how model-backed teammates run
    (concurrency, the cassette of recorded replies and its mode).
    """

    # The teammates carry their agents' settings here; the simulator reads only the
    # TeammateSpec part (a list is invariant, hence the ignore: nothing appends to it).
    teammates: list[ScenarioTeammate] = Field(  # type: ignore[assignment]
        default_factory=lambda: [ScenarioTeammate(name="Riley"), ScenarioTeammate(name="Sam")])
    expect: dict[str, Expectation | MetricBound] = Field(default_factory=dict)
    diagnose: list[DiagnosisCheck] = Field(default_factory=list)
    compare: dict[str, Comparison] = Field(default_factory=dict)
    llm: LlmSettings = Field(default_factory=LlmSettings)

    def model_specs(self) -> dict[str, ModelSpec | None]:
        """Each teammate's model spec (``None``: the template drafter and rule reviewer)."""
        return {t.name: t.model for t in self.teammates}

    def _problems(self) -> list[str]:
        """The world's problems with the file's own checks in their places; the team is
        checked only when nothing else is wrong."""
        contacts = self.known_contacts()
        problems = [*self._start_problems(), *_template_problems(self),
                    *self._reference_problems(), *_diagnosis_problems(self, contacts),
                    *self._timeline_problems(contacts), *self._edit_problems()]
        if not problems:
            problems += _team_problems(self)
        return problems


def _diagnosis_problems(scenario: Scenario, contacts: KnownContacts) -> list[str]:
    problems: list[str] = []
    seq_names = {s.name for s in scenario.sequences}
    for i, d in enumerate(scenario.diagnose):
        if d.sequence not in seq_names:
            problems.append(f"diagnose[{i}].sequence: no sequence {d.sequence!r}")
        if d.contact is not None and contacts.unknown(d.contact):
            problems.append(f"diagnose[{i}].contact: no contact {d.contact!r}; name one of "
                            "the scenario's contacts (or a generated population email)")
    return problems


def _team_problems(scenario: Scenario) -> list[str]:
    """The team as a run will assemble it: every drafter needs a peer reviewer (the same
    check the team makes, so that ``validate`` refuses what ``run`` would)."""
    try:
        Team.check([Teammate(name=t.name, roles=t.roles, capacity=t.capacity)
                    for t in scenario.teammates],
                   pairing={t.name: t.reviewed_by for t in scenario.teammates if t.reviewed_by})
    except TeamsimError as err:
        return [str(err).replace("team: ", "teammates: ", 1)]
    return []


def _template_problems(scenario: Scenario) -> list[str]:
    """Parse every step's templates now, so a syntax error is found by ``validate``."""
    problems: list[str] = []
    for i, seq in enumerate(scenario.sequences):
        for path, step in _message_steps(seq.steps, f"sequences[{i}].steps"):
            for part in ("subject_template", "body_template"):
                source = getattr(step, part)
                if source is None:
                    continue
                try:
                    check_template(source, f"{path}.{part}")
                except ValueError as err:
                    problems.append(str(err))
    return problems


def _message_steps(steps: list[Step], path: str) -> list[tuple[str, MessageStep]]:
    """Every message step under ``steps`` with its path in the file, depth first."""
    found: list[tuple[str, MessageStep]] = []
    for j, step in enumerate(steps):
        here = f"{path}[{j}]"
        if isinstance(step, MessageStep):
            found.append((here, step))
        elif isinstance(step, BranchStep):
            found += _message_steps(step.then_steps, f"{here}.then_steps")
            found += _message_steps(step.else_steps, f"{here}.else_steps")
    return found


def contact_count(world: World) -> int:
    """The contacts a run of ``world`` simulates: the listed ones plus every population."""
    return len(world.contacts) + sum(p.count for p in world.populations)


def check_size(world: World, allow_large: bool = False, source: str | None = None) -> None:
    """Refuse a world with more than :data:`~teamsim.model.MAX_CONTACTS` contacts.

    A run costs about 10 KiB (on a file store) and 3 ms of CPU per contact (100,000 contacts:
    915 MiB, 11 minutes of CPU), so a million contacts would run for hours and take about
    10 GiB. The scenario itself cannot lift the limit: only the person running
    it can (``--allow-large``, or ``allow_large=True`` from Python).

    Args:
        world: the validated world.
        allow_large: the caller's explicit consent to run a larger world.
        source: the scenario file, named at the start of the message.

    Raises:
        ScenarioError: the world is larger than the limit and ``allow_large`` is false.
    """
    total = contact_count(world)
    if total > MAX_CONTACTS and not allow_large:
        where = f"{source}: " if source else ""
        raise ScenarioError(
            f"{where}populations: {total:,} contacts (listed plus populations) is more than "
            f"the limit of {MAX_CONTACTS:,} (about 10 KiB and 3 ms each); make the populations "
            "smaller, or pass --allow-large to run it anyway")


def with_values(
    scenario: Scenario, values: Mapping[str, Any], *, variant: str = ""
) -> Scenario:
    """``scenario`` with each dotted path (list indices as numbers) set to its value.

    ``approver.approve`` and ``sequences.0.steps.2.days`` are paths. The result is validated
    as a whole.

    Raises:
        ScenarioError: a path leads nowhere, or the changed world is not valid.
    """
    data = scenario.model_dump(mode="json")
    where = f"variant {variant!r}" if variant else "variant"
    for path, value in values.items():
        _set_path(data, path, value, where)
    try:
        return Scenario.model_validate(data)
    except pydantic.ValidationError as err:
        raise ScenarioError(format_errors(err, where, data=data, model=Scenario)) from None


def _set_path(data: dict[str, Any], path: str, value: Any, where: str) -> None:
    parts = path.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth]) or "the scenario"
        last = depth == len(parts) - 1
        if isinstance(node, dict):
            if part not in node and not last:
                raise ScenarioError(f"{where}: {path}: {here} has no {part!r}; use one of "
                                    f"{', '.join(sorted(map(str, node))) or '(nothing)'}")
            if last:
                node[part] = value
            else:
                node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(f"{where}: {path}: {here} is a list of {len(node)}; "
                                    f"use an index from 0 to {len(node) - 1}")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        else:
            raise ScenarioError(f"{where}: {path}: {here} is a value ({shorten(node)}), "
                                f"it has no {part!r}")
