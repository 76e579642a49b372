"""A run's model-backed teammates: specs and objects checked, cassette opened, usage measured.

:func:`prepare` takes what the user gave (``models=``, ``drafters=``, ``reviewers=``,
``allow_imports``, the cassette and its mode, ``max_concurrency``) and the scenario's own
``model:`` specs and ``llm:`` block, refuses anything wrong before the run starts, and returns
the scenario with the user's specs in place and a :class:`RunModels` that simulates it (and
its ``compare:`` variants) with the teammates' models, and keeps their recorded replies.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teamsim.agents import Cassette, CassetteMode, Drafter, Prefetching, Reviewer
from teamsim.assembly import model_agents, model_teammates, simulation
from teamsim.llm import (
    LiveModel,
    ModelResolver,
    ModelSpec,
    check_agents,
    live_model_id,
    model_metrics,
    parse_model_option,
)
from teamsim.model import ScenarioError, TeamsimError, ValidationError
from teamsim.scenario import Scenario, VariantRunner, with_values
from teamsim.sim import DecisionSource, Simulation, SimulationResult
from teamsim.store import Store

__all__ = ["ModelInput", "RunModels", "check_models", "prepare", "simulate_job"]

ModelInput = ModelSpec | str | None | Any
"""A teammate's model as ``models=`` takes it: a :class:`~teamsim.llm.ModelSpec`, its text
(``package.module:factory,key=value`` or ``entry:NAME``), ``None`` (no model: the template
drafter and rule reviewer), or a LangChain chat model object (not in a sweep)."""

_MODES = ("record", "replay", "auto")


@dataclass(kw_only=True)
class RunModels:
    """How one run (and its ``compare:`` variants) builds its model-backed teammates.

    Attributes:
        resolver: loads each teammate's chat model.
        cassette: the run's recorded replies, shared by every model call of the run (``None``
            when no teammate is model-backed).
        mode: the cassette's mode.
        cassette_file: the cassette file read (and, in record or auto mode, written back).
        max_concurrency: model calls made at once (1 when no agent can work ahead).
        drafters: drafters given as objects, by teammate.
        reviewers: reviewers given as objects, by teammate.
        used: whether any teammate of the run or its variants is model-backed.
        described: each model-backed teammate's model as run.json records it.
    """

    resolver: ModelResolver
    cassette: Cassette | None = None
    mode: CassetteMode = "auto"
    cassette_file: Path | None = None
    max_concurrency: int = 1
    drafters: dict[str, Drafter] = field(default_factory=dict)
    reviewers: dict[str, Reviewer] = field(default_factory=dict)
    used: bool = False
    described: dict[str, dict[str, Any]] = field(default_factory=dict)

    def simulate(
        self, world: Scenario, *, seed: int | None, store: Store, until_days: float | None,
        progress: Callable[[int], None] | None = None,
        decisions: DecisionSource | None = None,
        drive: Callable[[Simulation], None] | None = None,
    ) -> tuple[Simulation, SimulationResult, dict[str, Any]]:
        """Simulate ``world`` with its teammates' models: the simulation, its result and its
        metrics with the model metrics added (``decisions``: a person's inputs play the
        human). ``drive`` advances the simulation itself (stopping or resuming it) before it
        is finished."""
        choices = self.resolver.choices(world.model_specs())
        teammates = model_teammates(choices, cassette=self.cassette, seed=world.run_seed(seed))
        drafters, reviewers = model_agents(choices, teammates)
        drafters.update(self.drafters)
        reviewers.update(self.reviewers)
        ahead = any(isinstance(agent, Prefetching) and getattr(agent, "prefetch", False)
                    for agent in [*drafters.values(), *reviewers.values()])
        sim = simulation(world, seed=seed, store=store, until_days=until_days,
                         drafters=drafters, reviewers=reviewers, progress=progress,
                         max_concurrency=self.max_concurrency if ahead else 1,
                         decisions=decisions)
        if drive is None:
            result = sim.run(check=False)
        else:
            try:
                drive(sim)
            except BaseException:
                sim.close()
                raise
            result = sim.finish(check=False)
        usage = {name: teammate.usage() for name, teammate in teammates.items()}
        return sim, result, {**result.metrics, **model_metrics(usage)}

    def variant_runner(self, seed: int, days: float) -> VariantRunner:
        """Runs a ``compare:`` variant with its own teammates' models, on this run's cassette."""

        def run_variant(variant: Scenario) -> tuple[Mapping[str, Any], tuple[str, ...]]:
            with Store.open("sqlite://") as store:
                _, result, metrics = self.simulate(variant, seed=seed, store=store,
                                                   until_days=days)
            return metrics, result.violations

        return run_variant

    def save(self, folder: Path | None) -> None:
        """Keep the recorded replies: ``cassette.json`` in the run ``folder`` (if any), and the
        cassette file written back in record or auto mode.

        Raises:
            TeamsimError: the cassette file cannot be written.
        """
        if self.cassette is None:
            return
        if folder is not None:
            self.cassette.save(folder / "cassette.json")
        if self.cassette_file is not None and self.mode != "replay":
            try:
                self.cassette.save(self.cassette_file)
            except OSError as exc:
                raise TeamsimError(f"{self.cassette_file}: cannot write the cassette: "
                                   f"{exc.strerror or exc}") from None


def prepare(
    world: Scenario, source: str | None, *,
    models: Mapping[str, ModelInput] | None = None,
    drafters: Mapping[str, Drafter] | None = None,
    reviewers: Mapping[str, Reviewer] | None = None,
    allow_imports: bool = False,
    cassette: str | Path | None = None,
    cassette_mode: str | None = None,
    max_concurrency: int | None = None,
    for_sweep: bool = False,
) -> tuple[Scenario, RunModels]:
    """Check everything about a run's models before it starts.

    Args:
        world: the scenario.
        source: its file (named in messages).
        models: chat models by teammate, replacing the scenario's ``model:`` (the user's own
            choice: loaded without ``allow_imports``).
        drafters: drafters given as objects, by teammate.
        reviewers: reviewers given as objects, by teammate.
        allow_imports: import the factories the scenario file names.
        cassette: the cassette file (default: the scenario's ``llm.cassette``).
        cassette_mode: ``record``, ``replay`` or ``auto`` (default: the scenario's).
        max_concurrency: model calls at once (default: the scenario's ``llm.max_concurrency``).
        for_sweep: refuse what worker processes cannot be sent (objects).

    Returns:
        The scenario with the user's specs and the chosen ``llm:`` settings in place, and how
        to run it.

    Raises:
        ValidationError: an unknown teammate, a bad spec or object, a factory that cannot be
            loaded or may not be imported, a cassette that cannot be read.
    """
    names = [t.name for t in world.teammates]
    where = f"{source}: " if source else ""
    if cassette_mode is not None and cassette_mode not in _MODES:
        raise ValidationError(f"cassette mode {cassette_mode!r}: use record, replay or auto")
    if max_concurrency is not None and not 1 <= max_concurrency <= 256:
        raise ValidationError(f"max_concurrency: {max_concurrency} is out of range; give 1 to "
                              "256 model calls at once")
    for what, given in (("drafters", drafters), ("reviewers", reviewers)):
        if given and for_sweep:
            raise ValidationError(f"{what}: a sweep runs in worker processes, which cannot be "
                                  "sent objects; back the teammates with models= factory specs")
        check_agents(what, given or {}, names)
    specs, live = _user_models(models or {}, names, for_sweep)
    values: dict[str, Any] = {f"teammates.{names.index(name)}.model":
                              None if spec is None else spec.model_dump(mode="json")
                              for name, spec in specs.items()}
    llm = world.llm.model_copy(update={
        key: value for key, value in (("mode", cassette_mode),
                                      ("max_concurrency", max_concurrency),
                                      ("cassette", None if cassette is None else str(cassette)))
        if value is not None})
    if llm != world.llm:
        values["llm"] = llm.model_dump(mode="json")
    # Only a changed scenario is validated again (a large one takes a while).
    merged = with_values(world, values, variant="models") if values else world
    base_specs = world.model_specs()
    resolver = ModelResolver(
        allow_imports=allow_imports, replay=llm.mode == "replay",
        consented=[s for s in specs.values() if s is not None],
        live={name: LiveModel(model=obj, model_id=live_model_id(obj), base=base_specs[name])
              for name, obj in live.items()},
        source=source)
    setup = RunModels(resolver=resolver, mode=llm.mode, max_concurrency=llm.max_concurrency,
                      drafters=dict(drafters or {}), reviewers=dict(reviewers or {}))
    chosen = resolver.choices(merged.model_specs())
    setup.used = bool(chosen)
    setup.described = {
        name: {"model_id": c.model_id, "drafts": c.drafts, "reviews": c.reviews,
               "spec": c.spec.describe() if c.spec is not None
               else f"object {type(c.model).__name__}"}
        for name, c in chosen.items()}
    for name, comparison in merged.compare.items():
        if not (chosen or "model" in json.dumps(comparison.set, default=str)):
            continue  # the variant cannot back a teammate with a model
        variant = with_values(merged, comparison.set, variant=f"{where}compare.{name}")
        setup.used = setup.used or bool(resolver.choices(variant.model_specs()))
    if setup.used:
        label = "--cassette" if cassette is not None else f"{where}llm.cassette"
        setup.cassette_file = None if llm.cassette is None else Path(llm.cassette)
        setup.cassette = _open_cassette(setup.cassette_file, llm.mode, label,
                                        written=not for_sweep and llm.mode != "replay")
    return merged, setup


def check_models(world: Scenario, source: str | None = None, *,
                 allow_imports: bool = False) -> None:
    """Check a scenario's models as a run would, without running (``teamsim validate``): the
    factories may be imported (and load), the cassette of replay mode is there and readable.

    Raises:
        ScenarioError: one line naming the file, the teammate and the fix.
    """
    try:
        prepare(world, source, allow_imports=allow_imports)
    except ScenarioError:
        raise
    except ValidationError as exc:
        where = f"{source}: " if source else ""
        text = str(exc)
        raise ScenarioError(text if not where or text.startswith(where)
                            else where + text) from None


def _user_models(
    models: Mapping[str, ModelInput], names: list[str], for_sweep: bool
) -> tuple[dict[str, ModelSpec | None], dict[str, Any]]:
    """The ``models=`` argument split into specs and chat model objects, checked."""
    unknown = sorted(set(models) - set(names))
    if unknown:
        raise ValidationError(
            f"a model is given for {', '.join(map(repr, unknown))} (--model, models=), who is "
            f"not a teammate; the teammates are {', '.join(map(repr, names))}")
    specs: dict[str, ModelSpec | None] = {}
    live: dict[str, Any] = {}
    for name, given in models.items():
        if given is None or isinstance(given, ModelSpec):
            specs[name] = given
        elif isinstance(given, str):
            specs[name] = parse_model_option(f"{name}={given}")[1]
        elif for_sweep:
            raise ValidationError(
                f"models[{name!r}]: a sweep runs in worker processes, which cannot be sent a "
                f"{type(given).__name__} object; pass its factory path instead, like "
                "'mypackage.models:make_model,temperature=0' or a ModelSpec")
        else:
            from langchain_core.language_models import BaseChatModel  # only when given one

            if not isinstance(given, BaseChatModel):
                raise ValidationError(
                    f"models[{name!r}]: a {type(given).__name__} is not a model; give a "
                    "LangChain chat model, a ModelSpec or its text "
                    "('package.module:factory,key=value')")
            live[name] = given
    return specs, live


def _open_cassette(path: Path | None, mode: CassetteMode, label: str, *,
                   written: bool = False) -> Cassette:
    """The run's cassette: read from ``path`` when it is there, else new (replay needs one).
    ``written``: the run writes it back at the end, so its folder must be there and writable
    now (found after the run, the run would be lost)."""
    if path is None:
        if mode == "replay":
            raise ValidationError(
                f"{label}: replay mode needs recorded replies; name the cassette file "
                "(--cassette PATH, or llm.cassette in the scenario)")
        return Cassette(mode)
    try:
        there = path.exists()
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{label}: {str(path)[:200]!r} cannot be used: {exc}") from None
    if written:
        _check_writable(path, label)
    if not there:
        if mode == "replay":
            raise ValidationError(
                f"{label}: {path} does not exist, and replay mode needs recorded replies; "
                "record them first (--cassette-mode record)")
        return Cassette(mode)
    if not path.is_file():
        raise ValidationError(f"{label}: {path} is not a file; name a cassette file")
    try:
        return Cassette.load(path, mode)
    except TeamsimError as exc:
        raise ValidationError(f"{label}: {exc}") from None


def _check_writable(path: Path, label: str) -> None:
    """Refuse a cassette file the end of the run could not write."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValidationError(f"{label}: {path}: the folder {folder} does not exist (or is not "
                              "a folder); create it, or name a cassette file in an existing "
                              "folder")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists()
                                                    and not os.access(path, os.W_OK)):
        raise ValidationError(f"{label}: {path} cannot be written (permission denied); name a "
                              "cassette file in a folder you can write, or use "
                              "--cassette-mode replay")


def simulate_job(
    world: Scenario, seed: int, store: Store, *, allow_imports: bool = False,
    consented: tuple[str, ...] = (),
) -> tuple[SimulationResult, dict[str, Any]]:
    """Run one sweep job in a worker process: its models are the specs in ``world`` (checked
    by :func:`prepare` in the parent); the cassette is read, never written.

    Args:
        allow_imports: the parent's consent to import the scenario file's factories (never
            assumed: a worker imports nothing the parent could not).
        consented: the specs the user gave themselves (``ModelResolver.consented``).
    """
    replay = world.llm.mode == "replay"
    resolver = ModelResolver(allow_imports=allow_imports, replay=replay,
                             consented=[ModelSpec.model_validate_json(k) for k in consented])
    setup = RunModels(resolver=resolver, mode=world.llm.mode,
                      max_concurrency=world.llm.max_concurrency)
    if any(spec is not None for spec in world.model_specs().values()):
        path = None if world.llm.cassette is None else Path(world.llm.cassette)
        setup.cassette = _open_cassette(path, world.llm.mode, "llm.cassette")
    _, result, metrics = setup.simulate(world, seed=seed, store=store, until_days=None)
    return result, metrics
