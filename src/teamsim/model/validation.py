"""Turning pydantic's errors into teamsim's one-line, place-naming messages.

Every problem becomes ``source: path: message`` where the path is the one a person reads in the
file (``sequences[0].steps[2].days``) and the message says what to do
(``must be >= 0, got -1``).

Given the validated ``data``, pydantic's union labels in a location (the tag ``wait`` of a
discriminated union, the member ``list[float]`` of a plain union) are recognised exactly: they
are the parts that are not keys of the data. Given the root ``model``, an unknown key's message
lists the keys allowed there. Without them, the tags of the domain model's unions are dropped by
name, which is right for sequences.
"""

from __future__ import annotations

import reprlib
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic

__all__ = ["MAX_LINES", "allowed_fields", "error_path", "format_errors", "shorten"]

_NO_DATA: Any = object()

# Tags of the discriminated unions in the domain model; pydantic puts them into error locations.
_UNION_TAGS = frozenset({"message", "wait", "branch", "attribute", "engagement"})

# Errors that say the input had the wrong shape for a type, and what that type wants.
_WANTS = {
    "float_type": "a number", "float_parsing": "a number",
    "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "text", "list_type": "a list", "tuple_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
}

_BOUNDS = {"greater_than_equal": (">=", "ge"), "less_than_equal": ("<=", "le"),
           "greater_than": (">", "gt"), "less_than": ("<", "lt")}


def error_path(loc: tuple[int | str, ...], data: Any = _NO_DATA) -> str:
    """Render a pydantic location as ``sequences[0].steps[2].days``.

    Union labels that pydantic inserts into the location (``wait``, ``list[float]``...) are
    dropped, so the path is the one a person reads in the file. With ``data`` (the input that
    was validated) they are found exactly; without it, the domain model's step and condition
    tags are dropped by name.
    """
    return _render(_split(loc, data)[0])


def _render(kept: list[int | str]) -> str:
    out = ""
    for part in kept:
        if isinstance(part, int):
            out += f"[{part}]"
        elif len(part) > 60 or not part.isprintable():
            out += f"[{shorten(part, 60)}]"  # a key that would break or flood the line
        else:
            out += f".{part}" if out else str(part)
    return out


def _split(
    loc: tuple[int | str, ...], data: Any, missing: bool = True
) -> tuple[list[int | str], int | None]:
    """The parts of ``loc`` that are in the file, and the index of the last union label.

    ``missing`` says the error is about a missing field, so a last part that is not in the data
    is that field rather than a union label.
    """
    kept: list[int | str] = []
    last_label: int | None = None
    if data is _NO_DATA:
        for i, part in enumerate(loc):
            if isinstance(part, str) and (part in _UNION_TAGS or "[" in part):
                last_label = i
            else:
                kept.append(part)
        return kept, last_label
    node = data
    for i, part in enumerate(loc):
        is_last = i == len(loc) - 1
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
            kept.append(part)
        elif is_last and missing and isinstance(node, dict):
            kept.append(part)  # a missing field
        else:
            last_label = i
    return kept, last_label


MAX_LINES = 50
"""The most lines :func:`format_errors` writes; one more line counts the problems left."""

_MAX_LINE = 500  # characters of one message; a value quoted in it is already shortened


class _Short(reprlib.Repr):
    """``repr`` that never builds more than it shows, whatever the size of the value."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdeque = 5
        self.maxdict = 5
        self.maxstring = self.maxother = width
        self.maxlong = 40

    def repr_int(self, x: int, level: int) -> str:
        # repr() of an int of more than 4,300 digits raises ValueError; its size is enough.
        if x.bit_length() > 1000:
            return f"<a whole number of about {int(x.bit_length() * 0.30103):,} digits>"
        return super().repr_int(x, level)

    def repr_str(self, x: str, level: int) -> str:
        return self._head(x)

    def repr_instance(self, x: object, level: int) -> str:
        if isinstance(x, (bytes, bytearray)):
            return self._head(x)
        return super().repr_instance(x, level)

    def _head(self, x: str | bytes | bytearray) -> str:
        # The start of the text, not reprlib's start and end: the start is what a person finds.
        text = repr(x[: self.maxstring])
        return text if len(x) <= self.maxstring else text[: self.maxstring - 3] + "..."


def shorten(value: Any, width: int = 80, *, as_repr: bool = True) -> str:
    """``repr(value)``, or a string itself with ``as_repr=False``, in at most ``width`` chars.

    Never builds the whole representation first, so a value of any size or nesting (an
    expanded YAML alias, a megabyte string, a huge integer) is shown at once; what is cut is
    marked with ``...``. Used for every user-supplied value put into an error message.
    """
    if isinstance(value, str) and not as_repr:
        text = value[: width + 1]
    else:
        try:
            text = _Short(width).repr(value)
        except (ValueError, RecursionError):  # pragma: no cover - a value whose repr fails
            text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[: max(width - 3, 1)] + "..."


def _show(value: Any) -> str:
    """A value as a person wrote it in YAML, shortened."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = shorten(value, 60)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _describe(error: Any, allowed: Sequence[str] | None = None) -> str:
    """The message for one pydantic error; ``allowed`` lists the keys or tags allowed there."""
    msg = str(error.get("msg", "invalid value"))
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    given = f", got {_show(error['input'])}" if "input" in error else ""
    if kind == "extra_forbidden":
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"unknown field; remove it or check the spelling{hint}"
    if kind == "missing":
        return "is required; add it"
    if kind in {"value_error", "assertion_error"}:
        return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in _BOUNDS:
        sign, key = _BOUNDS[kind]
        return f"must be {sign} {_number(ctx.get(key))}{given}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        head, sep, tail = expected.rpartition(" or ")
        return f"must be one of {head + ', ' + tail if sep else expected}{given}"
    if kind == "union_tag_invalid":
        tag = str(ctx.get("discriminator", "")).strip("'")
        return (f"unknown {tag} {_show(ctx.get('tag'))}; use one of "
                f"{ctx.get('expected_tags', '')}")
    if kind == "union_tag_not_found":
        tag = str(ctx.get("discriminator", "")).strip("'")
        hint = f" (one of {', '.join(allowed)})" if allowed else ""
        return f"{tag} is required; add it{hint}"
    if kind == "string_type":
        return f"must be text (quote it if it looks like a number or date){given}"
    if kind in _WANTS:
        return f"must be {_WANTS[kind]}{given}"
    if kind in {"too_short", "string_too_short"}:
        least = ctx.get("min_length")
        if kind == "string_too_short" and least == 1:
            return "must not be empty"
        unit = "character" if kind == "string_too_short" else "item"
        return f"needs at least {least} {unit}{'s' if least != 1 else ''}{given}"
    if kind in {"too_long", "string_too_long"}:
        most = ctx.get("max_length")
        unit = "character" if kind == "string_too_long" else "item"
        return f"may have at most {most} {unit}{'s' if most != 1 else ''}"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx.get('pattern')}{given}"
    if "input" in error and kind not in {"model_type", "dict_type"}:
        msg = f"{msg[0].lower()}{msg[1:]}{given}"
    return msg


def _merge_unions(errors: list[dict[str, Any]], data: Any) -> list[dict[str, Any]]:
    """Keep only the useful errors of each plain union (``float | list[float]``...).

    pydantic reports one error per member. When the input had the shape of some member, the
    other members' "wrong type" errors are noise and go; when it fitted none, they become one
    ``must be a number or a list`` error.
    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, error in enumerate(errors):
        loc = tuple(error["loc"])
        _, label = _split(loc, data, error["type"] == "missing")
        if label is not None:
            groups.setdefault(loc[:label], []).append(index)
    drop: set[int] = set()
    merged: dict[int, dict[str, Any]] = {}
    for prefix, indexes in groups.items():
        members = {tuple(errors[i]["loc"])[len(prefix)] for i in indexes}
        if len(members) < 2:
            continue  # a discriminated union: one member was chosen by its tag
        shape = [i for i in indexes if len(errors[i]["loc"]) == len(prefix) + 1
                 and errors[i]["type"] in _WANTS]
        if len(shape) < len(indexes):
            drop.update(shape)
        elif shape:
            wants = list(dict.fromkeys(_WANTS[errors[i]["type"]] for i in shape))
            text = " or ".join(wants)
            merged[shape[0]] = {**errors[shape[0]], "type": "value_error",
                                "msg": f"must be {text}, got "
                                       f"{_show(errors[shape[0]].get('input'))}"}
            drop.update(shape[1:])
    return [merged.get(i, e) for i, e in enumerate(errors) if i not in drop]


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _members(tp: Any) -> tuple[Any, ...]:
    if get_origin(tp) in {Union, types.UnionType}:
        return tuple(_strip(a) for a in get_args(tp) if a is not type(None))
    return ()


def _tags(model: type[pydantic.BaseModel]) -> set[str]:
    tags: set[str] = set()
    for field in model.model_fields.values():
        if get_origin(_strip(field.annotation)) is Literal:
            tags.update(str(a) for a in get_args(_strip(field.annotation)))
    return tags


def _type_at(model: type[pydantic.BaseModel], loc: Sequence[int | str]) -> Any:
    """The type found at ``loc`` (a raw pydantic location) under ``model``, or ``None``."""
    tp: Any = model
    for part in loc:
        tp = _strip(tp)
        members = _members(tp)
        if len(members) == 1:
            tp, members = members[0], ()
        if members:
            chosen = [m for m in members if isinstance(m, type) and issubclass(
                m, pydantic.BaseModel) and (m.__name__ == part or part in _tags(m))]
            if len(chosen) != 1:
                return None
            tp = chosen[0]
            continue
        if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
            continue
        args = get_args(tp)
        origin = get_origin(tp)
        if origin in {list, tuple} and isinstance(part, int) and args:
            tp = args[0]
        elif origin is dict and len(args) == 2:
            tp = args[1]
        else:
            return None
    tp = _strip(tp)
    return _members(tp)[0] if len(_members(tp)) == 1 else tp


def allowed_fields(model: type[pydantic.BaseModel], loc: Sequence[int | str]) -> list[str] | None:
    """The field names of the model found at ``loc`` (a raw pydantic location) under ``model``."""
    tp = _type_at(model, loc)
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        return list(tp.model_fields)
    return None


def _union_tags(model: type[pydantic.BaseModel], loc: Sequence[int | str], key: str) -> list[str]:
    """The values the discriminator ``key`` may take in the union found at ``loc``."""
    tags: list[str] = []
    for member in _members(_type_at(model, loc)):
        if isinstance(member, type) and issubclass(member, pydantic.BaseModel):
            field = member.model_fields.get(key)
            if field is not None and get_origin(_strip(field.annotation)) is Literal:
                tags.extend(str(a) for a in get_args(_strip(field.annotation)))
    return tags


def format_errors(
    err: pydantic.ValidationError,
    source: str = "",
    *,
    data: Any = _NO_DATA,
    model: type[pydantic.BaseModel] | None = None,
) -> str:
    """Format every problem in ``err`` as ``source: path: message`` lines.

    Args:
        err: what pydantic raised.
        source: the file or object the input came from; left out when empty.
        data: the input that was validated, to find union labels in locations exactly.
        model: the model that was validated, to list the allowed keys of an unknown key.
    """
    errors: list[dict[str, Any]] = [dict(e) for e in err.errors()]
    if data is not _NO_DATA:
        errors = _merge_unions(errors, data)
    lines: list[str] = []
    for index, error in enumerate(errors):
        if len(lines) >= MAX_LINES:
            note = f"{len(errors) - index} more problems like these; fix the ones above first"
            lines.append(f"{source}: {note}" if source else note)
            break
        loc: tuple[int | str, ...] = tuple(error["loc"])
        allowed = None
        if error.get("type") == "extra_forbidden" and model is not None:
            allowed = allowed_fields(model, loc[:-1])
        elif error.get("type") == "union_tag_not_found" and model is not None:
            key = str((error.get("ctx") or {}).get("discriminator", "")).strip("'")
            allowed = _union_tags(model, loc, key)
        path = _render(_split(loc, data, error.get("type") == "missing")[0])
        where = ": ".join(p for p in (source, path) if p)
        for message in _describe(error, allowed).splitlines():
            if len(message) > _MAX_LINE:
                message = message[: _MAX_LINE - 3] + "..."
            lines.append(f"{where}: {message}" if where else message)
    return "\n".join(lines)
