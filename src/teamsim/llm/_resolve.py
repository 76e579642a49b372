"""Which chat model each teammate of a run uses, with the user's consent to import it.

:class:`ModelResolver` turns the teammates' :class:`~teamsim.llm.ModelSpec` into
:class:`ModelChoice` values. A spec written in a scenario file names code to import: it is
loaded only when the user allowed imports (``--allow-imports``, ``allow_imports=True``); a spec
the user gave themselves (``--model``, ``models=``) is consent enough. In replay mode nothing is
imported at all: the cassette answers every call. :func:`check_agents` checks drafters and
reviewers given as objects before a run starts.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from teamsim.agents import Draft, ModelSettings, ModelUsage, Review
from teamsim.llm._factory import load_model
from teamsim.llm._spec import ModelSpec
from teamsim.model import ScenarioError, ValidationError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["ModelChoice", "ModelResolver", "check_agents", "model_metrics"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelChoice:
    """One teammate's chat model for a run.

    Attributes:
        teammate: the teammate's name.
        model: the chat model, or ``None`` in replay mode (the cassette answers).
        model_id: the model id in the cassette's keys.
        settings: prompts, simulated minutes, prices and retries.
        drafts: the model drafts this teammate's messages.
        reviews: the model reviews the drafts this teammate is given.
        spec: the spec it was loaded from (``None``: a chat model given as an object).
    """

    teammate: str
    model: BaseChatModel | None
    model_id: str
    settings: ModelSettings
    drafts: bool = True
    reviews: bool = True
    spec: ModelSpec | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveModel:
    """A chat model the user gave as an object, for the teammate whose spec was ``base``."""

    model: BaseChatModel
    model_id: str
    base: ModelSpec | None


class ModelResolver:
    """Loads the teammates' models for a run and its variants, each factory once.

    Args:
        allow_imports: the user allows importing the factories a scenario file names.
        replay: replay mode: nothing is imported, every model is ``None``.
        consented: specs the user gave themselves (``--model``, ``models=``): loaded without
            ``allow_imports``.
        live: chat models given as objects, by teammate.
        source: the scenario file, named in messages.
    """

    def __init__(
        self, *, allow_imports: bool, replay: bool, consented: Iterable[ModelSpec] = (),
        live: Mapping[str, LiveModel] | None = None, source: str | None = None,
    ) -> None:
        self.allow_imports = allow_imports
        self.replay = replay
        self._consented = {spec.model_dump_json() for spec in consented}
        self._live = dict(live or {})
        self._source = source
        self._loaded: dict[str, BaseChatModel] = {}

    @property
    def consented(self) -> tuple[str, ...]:
        """The specs the user gave themselves, as their JSON (what a sweep worker is sent)."""
        return tuple(sorted(self._consented))

    def for_mode(self, *, replay: bool) -> ModelResolver:
        """The same consent (``allow_imports``, the user's own specs, objects) for a run in
        another cassette mode: a variant that sets ``llm.mode`` is checked with its own mode."""
        if replay == self.replay:
            return self
        other = ModelResolver(allow_imports=self.allow_imports, replay=replay,
                              live=self._live, source=self._source)
        other._consented = set(self._consented)
        return other

    def choices(self, specs: Mapping[str, ModelSpec | None]) -> dict[str, ModelChoice]:
        """Each model-backed teammate's choice, given every teammate's spec (in file order).

        A teammate given a chat model object keeps it as long as its spec is the one the
        object replaced (a ``compare:`` variant that sets another model uses that one).

        Raises:
            ValidationError: a factory may not be imported (no consent), or cannot be loaded.
        """
        chosen: dict[str, ModelChoice] = {}
        for index, (name, spec) in enumerate(specs.items()):
            live = self._live.get(name)
            if live is not None and spec == live.base:
                chosen[name] = ModelChoice(
                    teammate=name, model=live.model, model_id=live.model_id,
                    settings=spec.settings if spec is not None else ModelSettings(),
                    drafts=spec.drafts if spec is not None else True,
                    reviews=spec.reviews if spec is not None else True)
                continue
            if spec is None:
                continue
            chosen[name] = ModelChoice(
                teammate=name, model=None if self.replay else self._load(spec, name, index),
                model_id=spec.model_id(), settings=spec.settings, drafts=spec.drafts,
                reviews=spec.reviews, spec=spec)
        return chosen

    def _load(self, spec: ModelSpec, name: str, index: int) -> BaseChatModel:
        key = spec.model_dump_json()
        if key in self._loaded:
            return self._loaded[key]
        given = key in self._consented
        if given:
            where = f"the model of {name!r} ({spec.describe()})"
        else:
            where = f"{self._source + ': ' if self._source else ''}teammates[{index}].model " \
                    f"({name})"
            if not self.allow_imports:
                what = "factory" if spec.factory is not None else "entry point"
                raise self._error(
                    f"{where}: the scenario names the {what} {spec.target}, and importing it "
                    "runs its code: teamsim does that only with --allow-imports "
                    "(allow_imports=True in Python); pass it if you trust this file, or "
                    "replay recorded replies with --cassette-mode replay")
        try:
            model = load_model(spec, where)
        except ValidationError as exc:
            raise (exc if given else self._error(str(exc))) from None
        self._loaded[key] = model
        return model

    def _error(self, message: str) -> ValidationError:
        """A problem of the scenario file's own spec: a :class:`ScenarioError` when the file
        is known (the commands that check files report it as theirs)."""
        return ScenarioError(message) if self._source else ValidationError(message)


def check_agents(what: str, agents: Mapping[str, object], teammates: Iterable[str]) -> None:
    """Refuse drafters (``what='drafters'``) or reviewers given as objects that cannot work.

    Checked: every name is a teammate's; a drafter has a callable ``draft`` and a reviewer a
    callable ``review``; a return annotation, if there is one, is ``Draft`` (``Review``).

    Raises:
        ValidationError: one line naming the teammate and the problem.
    """
    known = list(teammates)
    unknown = sorted(set(agents) - set(known))
    if unknown:
        raise ValidationError(
            f"{what}: {', '.join(map(repr, unknown))} is not a teammate; the teammates are "
            f"{', '.join(map(repr, known))}")
    method, result = ("draft", Draft) if what == "drafters" else ("review", Review)
    for name, agent in agents.items():
        call = getattr(agent, method, None)
        if not callable(call):
            raise ValidationError(
                f"{what}[{name!r}]: a {type(agent).__name__} has no {method}() method; give "
                f"an object with {method}(request) -> {result.__name__} (or wrap a function "
                f"in Fake{'Drafter' if method == 'draft' else 'Reviewer'})")
        returned = _return_annotation(call)
        if returned is not None and not _is(returned, result):
            raise ValidationError(
                f"{what}[{name!r}]: {type(agent).__name__}.{method}() is annotated to return "
                f"{_name(returned)}; it must return teamsim's {result.__name__}")


def _return_annotation(call: Any) -> Any:
    """The return annotation of ``call`` (``None`` when there is none or it is ``Any``)."""
    try:
        hints = typing.get_type_hints(call)
    except Exception:  # an annotation that does not resolve: judge the text written
        try:
            raw = inspect.signature(call).return_annotation
        except (TypeError, ValueError):
            return None
        return None if raw is inspect.Signature.empty else raw
    returned = hints.get("return")
    return None if returned is Any else returned


def _is(annotation: Any, wanted: type) -> bool:
    if isinstance(annotation, str):
        return annotation.rsplit(".", 1)[-1] == wanted.__name__
    return isinstance(annotation, type) and issubclass(annotation, wanted)


def _name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def model_metrics(usage: Mapping[str, ModelUsage]) -> dict[str, Any]:
    """The model metrics of a run (:data:`~teamsim.llm.MODEL_METRICS`, all 0 without models)
    and ``model_usage``: each model-backed teammate's use."""
    total = sum(usage.values(), ModelUsage())
    metrics: dict[str, Any] = {
        "model_calls": total.model_calls, "cache_hits": total.cache_hits,
        "tokens_in": total.tokens_in, "tokens_out": total.tokens_out,
        "cost": round(total.cost, 6),
        "replayed_tokens": total.replayed_tokens_in + total.replayed_tokens_out,
        "prefetch_unused": total.prefetch_unused,
    }
    metrics["model_usage"] = {
        name: {"model_calls": u.model_calls, "cache_hits": u.cache_hits,
               "tokens_in": u.tokens_in, "tokens_out": u.tokens_out,
               "cost": round(u.cost, 6), "replayed_tokens_in": u.replayed_tokens_in,
               "replayed_tokens_out": u.replayed_tokens_out, "failures": u.failures,
               "prefetch_unused": u.prefetch_unused}
        for name, u in sorted(usage.items())}
    return metrics
