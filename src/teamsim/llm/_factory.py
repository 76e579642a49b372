"""Turning a :class:`~teamsim.llm.ModelSpec` into a chat model: import, call, check.

Importing a factory runs its module's code. The callers decide whether they may
(:class:`~teamsim.llm.ModelResolver` asks for the user's consent); this module only does it and
turns every way it can go wrong into one :class:`~teamsim.model.ValidationError` line that names
the teammate, the factory and the fix. Secret-looking arguments are masked in every message.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import TYPE_CHECKING, Any

from teamsim.llm._spec import ENTRY_POINT_GROUP, ModelSpec, mask_secrets
from teamsim.model import ValidationError

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.language_models import BaseChatModel

__all__ = ["live_model_id", "load_model"]


def load_model(spec: ModelSpec, where: str) -> BaseChatModel:
    """Import the spec's factory (or entry point), call it with its arguments, check the result.

    Args:
        spec: the model spec.
        where: the place the spec came from, starting every message
            (``scenarios/x.yaml: teammates[0].model (Riley)``, ``--model Riley=...``).

    Raises:
        ValidationError: the module is missing, the name is not in it or not callable, the
            entry point does not exist, the factory raised, or it returned something that is
            not a ``BaseChatModel``.
    """
    from langchain_core.language_models import BaseChatModel  # only when a model is loaded

    factory = _entry_point(spec, where) if spec.entry_point is not None else _import(spec, where)
    try:
        model = factory(**spec.args)
    except Exception as exc:  # the factory is the user's code: any failure is its message
        reason = mask_secrets(f"{type(exc).__name__}: {exc}", spec.args)
        raise ValidationError(f"{where}: the factory {spec.target} raised {reason}; "
                              "check its arguments") from None
    if not isinstance(model, BaseChatModel):
        raise ValidationError(
            f"{where}: the factory {spec.target} returned {_kind(model)}, not a LangChain chat "
            "model (langchain_core.language_models.BaseChatModel); return one, like "
            "ChatOpenAI(...)")
    return model


def live_model_id(model: Any) -> str:
    """A model id for a chat model given as an object: its class and its model name."""
    cls = type(model)
    name = getattr(model, "model_name", None) or getattr(model, "model", None)
    base = f"{cls.__module__}:{cls.__qualname__}"
    return f"{base}(model={name})" if isinstance(name, str) and name else base


def _import(spec: ModelSpec, where: str) -> Callable[..., Any]:
    module_name, _, attribute = (spec.factory or "").partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        hint = ("check the module path and that its folder is importable (PYTHONPATH)"
                if missing == module_name else f"install the package that provides {missing!r}")
        raise ValidationError(f"{where}: cannot import {module_name!r} for the factory "
                              f"{spec.target}: no module named {missing!r}; {hint}") from None
    except Exception as exc:  # the module's own code failed while importing
        raise ValidationError(f"{where}: importing {module_name!r} for the factory "
                              f"{spec.target} raised {type(exc).__name__}: {exc}") from None
    value: Any = module
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise ValidationError(f"{where}: the factory {spec.target}: module {module_name!r} "
                                  f"has no attribute {attribute!r}; check the name after "
                                  "the colon") from None
    if not callable(value):
        raise ValidationError(f"{where}: the factory {spec.target} is {_kind(value)}, which "
                              "cannot be called; name a function or class that returns the "
                              "chat model")
    return value  # type: ignore[no-any-return]


def _entry_point(spec: ModelSpec, where: str) -> Callable[..., Any]:
    found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    chosen = [ep for ep in found if ep.name == spec.entry_point]
    if not chosen:
        known = sorted({ep.name for ep in found})
        listed = ", ".join(known) if known else "none is installed"
        raise ValidationError(f"{where}: no entry point {spec.entry_point!r} in the group "
                              f"{ENTRY_POINT_GROUP!r} ({listed}); install the package that "
                              "registers it, or name a factory (package.module:callable)")
    try:
        value = chosen[0].load()
    except Exception as exc:
        raise ValidationError(f"{where}: loading the entry point {spec.entry_point!r} "
                              f"({chosen[0].value}) raised {type(exc).__name__}: {exc}") from None
    if not callable(value):
        raise ValidationError(f"{where}: the entry point {spec.entry_point!r} is "
                              f"{_kind(value)}, which cannot be called")
    return value  # type: ignore[no-any-return]


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} (of type {type(value).__name__})"
