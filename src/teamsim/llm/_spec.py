"""Model specs: which chat model backs a teammate, as a scenario file or ``--model`` names it.

A :class:`ModelSpec` names a factory (``package.module:callable``) or an entry point of the
``teamsim.models`` group, the keyword arguments it is called with, the model id recorded in
the cassette's keys, and the teammate's :class:`~teamsim.agents.ModelSettings`. Nothing is
imported here: :mod:`teamsim.llm._factory` does that, and only with the user's consent.

Arguments whose names look like secrets (``api_key``, ``token``, ``password``...), at any depth
(``default_headers: {Authorization: ...}``), and the ``user:password@`` part of URLs in any
argument never enter a model id, and are masked wherever a spec is shown (messages,
``run.json``) and in the failures a model's errors become (:func:`redactor`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from teamsim.agents import CassetteMode, ModelSettings
from teamsim.model import ValidationError

__all__ = [
    "ENTRY_POINT_GROUP",
    "MODEL_METRICS",
    "LlmSettings",
    "ModelSpec",
    "is_secret",
    "mask_secrets",
    "parse_model_option",
    "redactor",
    "secret_values",
]

ENTRY_POINT_GROUP: Final = "teamsim.models"
"""The entry-point group a package registers its model factories in."""

MASK: Final = "***"

_SECRET = re.compile(r"api[_-]?key|token|secret|passw(or)?d|credential|auth", re.IGNORECASE)
_OPTION_ARG = re.compile(r"(?<=,)\s*([^=,]+)=([^,]*)")
_USERINFO = re.compile(r"(?<=://)[^/@\s:]*:([^/@\s]*)@")
"""The ``user:password@`` of a URL (group 1: the password)."""
_MIN_PART: Final = 6
"""Parts of a secret value (``Bearer sk-...``) this long are masked on their own too."""
_FACTORY = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")

MODEL_METRICS: dict[str, str] = {
    "model_calls": "calls made to chat models (each try counts); replayed replies are not calls",
    "cache_hits": "model replies served from the cassette instead of a call",
    "tokens_in": "input tokens of live model calls (from the replies' usage metadata)",
    "tokens_out": "output tokens of live model calls",
    "cost": "USD of live model calls: tokens x the teammate's price per million tokens",
    "replayed_tokens": "input and output tokens of the replies served from the cassette",
    "prefetch_unused": "model replies made ahead of time that no draft or review used",
}
"""The model metrics every run reports (0 when no teammate is model-backed), beside
:data:`teamsim.sim.METRICS`; ``metrics.json`` also holds ``model_usage`` per teammate."""


def is_secret(name: str) -> bool:
    """Whether an argument named ``name`` looks like a secret (an API key, a token...)."""
    return _SECRET.search(name) is not None


def _mask_url(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it masked (``https://***@host``)."""
    return _USERINFO.sub(f"{MASK}@", text)


def _masked(name: str, value: Any, *, drop: bool) -> Any:
    """``value`` of the argument ``name`` with its secrets masked (``drop``: left out, and URL
    credentials removed, as in a model id); ``_DROP`` when the whole value is a secret."""
    if is_secret(name) and value not in (None, ""):
        return _DROP if drop else MASK
    if isinstance(value, Mapping):
        inner = {key: _masked(str(key), item, drop=drop) for key, item in value.items()}
        return {key: item for key, item in inner.items() if item is not _DROP}
    if isinstance(value, list | tuple):
        return [_masked(name, item, drop=drop) for item in value]
    if isinstance(value, str):
        return _USERINFO.sub("" if drop else f"{MASK}@", value)
    return value


_DROP: Final = object()


def secret_values(args: Mapping[str, Any]) -> list[str]:
    """Every secret in ``args``, longest first: the values of secret-looking arguments at any
    depth (and their long whitespace-separated parts: the key of ``Bearer KEY``), and the
    credentials of URLs in any string."""
    found: set[str] = set()

    def walk(name: str, value: Any, secret: bool) -> None:
        secret = secret or is_secret(name)
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(str(key), item, secret)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(name, item, secret)
        elif value not in (None, "") and not isinstance(value, bool):
            text = str(value)
            if secret:
                found.add(text)
                found.update(p for p in text.split() if len(p) >= _MIN_PART)
            for match in _USERINFO.finditer(text):
                found.update(part for part in (match[0][:-1], match[1]) if part)

    for name, value in args.items():
        walk(name, value, False)
    return sorted(found, key=lambda v: (-len(v), v))


def redactor(args: Mapping[str, Any]) -> Callable[[str], str]:
    """A function that masks the secrets of ``args`` (:func:`secret_values`) and every URL's
    credentials in a text: applied to the failures a model's errors become."""
    secrets = secret_values(args)

    def redact(text: str) -> str:
        for value in secrets:
            text = text.replace(value, MASK)
        return _mask_url(text)

    return redact


def mask_secrets(text: str, args: Mapping[str, Any]) -> str:
    """``text`` with every secret of ``args`` (:func:`secret_values`, at any depth) and every
    URL's credentials masked."""
    return redactor(args)(text)


class ModelSpec(BaseModel):
    """The chat model behind a teammate: a factory or an entry point, and its arguments.

    Exactly one of ``factory`` (``package.module:callable``) and ``entry_point`` (a name in
    the ``teamsim.models`` group) is given; the callable is called with ``args`` as keyword
    arguments and must return a ``langchain_core`` ``BaseChatModel``.

    Attributes:
        factory: the import path of a callable returning the chat model.
        entry_point: the name of an entry point of the ``teamsim.models`` group.
        args: keyword arguments of the callable (JSON values).
        id: the model id in the cassette's keys (default: derived from the factory or entry
            point and the arguments that are not secrets, see :meth:`model_id`).
        drafts: the model drafts this teammate's messages.
        reviews: the model reviews the drafts this teammate is given.
        settings: prompts, simulated minutes, prices and retries.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    factory: str | None = Field(default=None, min_length=1, max_length=300)
    entry_point: str | None = Field(default=None, min_length=1, max_length=200)
    args: dict[str, JsonValue] = Field(default_factory=dict)
    id: str | None = Field(default=None, min_length=1, max_length=300)
    drafts: bool = True
    reviews: bool = True
    settings: ModelSettings = Field(default_factory=ModelSettings)

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if (self.factory is None) == (self.entry_point is None):
            raise ValueError("give either factory (package.module:callable) or entry_point "
                             f"(a name in the {ENTRY_POINT_GROUP} group), not both or neither")
        if self.factory is not None and not _FACTORY.fullmatch(self.factory):
            raise ValueError(f"factory {self.factory[:80]!r} is not an import path; write it "
                             "as package.module:callable, like teamsim.agents.demo:demo_model")
        bad = [name for name in self.args if not name.isidentifier()]
        if bad:
            raise ValueError(f"args: {bad[0][:40]!r} is not a keyword argument name")
        return self

    @property
    def target(self) -> str:
        """What the spec imports, as written: ``module:callable`` or ``entry:NAME``."""
        return self.factory if self.factory is not None else f"entry:{self.entry_point}"

    def model_id(self) -> str:
        """The model id: ``id`` if given, else the target with its non-secret arguments,
        like ``teamsim.agents.demo:demo_model(style="brief")``: secrets at any depth are left
        out, and so are the credentials of URLs."""
        if self.id is not None:
            return self.id
        kept = ((name, _masked(name, value, drop=True)) for name, value in self.args.items())
        shown = [f"{name}={json.dumps(value, sort_keys=True, separators=(',', ':'))}"
                 for name, value in sorted(kept) if value is not _DROP]
        return f"{self.target}({','.join(shown)})" if shown else self.target

    def masked_args(self) -> dict[str, JsonValue]:
        """``args`` with every secret-looking value (at any depth) replaced by ``***``, and the
        credentials of URLs masked."""
        return {name: _masked(name, value, drop=False) for name, value in self.args.items()}

    def describe(self) -> str:
        """The spec in one line, secrets masked: ``pkg.mod:make(model="x", api_key=***)``."""
        shown = [f"{name}={MASK if is_secret(name) else json.dumps(value)}"
                 for name, value in self.masked_args().items()]
        return f"{self.target}({', '.join(shown)})" if shown else self.target


class LlmSettings(BaseModel):
    """A scenario's ``llm:`` block: how its model-backed teammates run.

    Attributes:
        max_concurrency: model calls made at once for work due in the same simulated minute.
        cassette: the file of recorded replies, relative to the scenario file.
        mode: ``record`` (call the models and record), ``replay`` (recorded replies only: no
            model is imported or called) or ``auto`` (recorded replies, calls for the rest).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_concurrency: int = Field(default=8, ge=1, le=256)
    cassette: str | None = Field(default=None, min_length=1, max_length=1000)
    mode: CassetteMode = "auto"


def parse_model_option(text: str) -> tuple[str, ModelSpec]:
    """``--model TEAMMATE=SPEC`` as the teammate's name and its spec.

    SPEC is ``package.module:callable`` or ``entry:NAME``, optionally followed by
    ``,key=value`` arguments whose values are read as YAML scalars (``0.1``, ``true``,
    ``gpt-4o-mini``). A value cannot hold a comma.

    Raises:
        ValidationError: one line naming the option and the form it takes.
    """
    masked = _OPTION_ARG.sub(
        lambda m: f"{m[1]}={MASK}" if is_secret(m[1]) else m[0], text)
    shown = masked if len(masked) <= 80 else masked[:80] + "..."
    form = ("write it as TEAMMATE=package.module:factory[,key=value...] or "
            "TEAMMATE=entry:NAME[,key=value...], like Riley=teamsim.agents.demo:demo_model")
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name or not spec.strip():
        raise ValidationError(f"--model {shown!r}: {form}")
    target, *pairs = [part.strip() for part in spec.split(",")]
    args: dict[str, Any] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValidationError(f"--model {shown!r}: argument {pair[:40]!r} is not "
                                  f"key=value; {form}")
        try:
            args[key] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            args[key] = value
        if not isinstance(args[key], str | int | float | bool | None):
            args[key] = value  # a YAML list or mapping: kept as the text written
    data: dict[str, Any] = {"args": args}
    if target.startswith("entry:"):
        data["entry_point"] = target.removeprefix("entry:")
    else:
        data["factory"] = target
    try:
        return name, ModelSpec.model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        reason = _first_reason(exc)
        raise ValidationError(mask_secrets(f"--model {shown!r}: {reason}", args)) from None


def _first_reason(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", exc)).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(exc)
