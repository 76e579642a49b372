"""Turning pydantic's errors into teamsim's one-line, place-naming messages."""

from __future__ import annotations

from typing import Any

import pydantic


def error_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as ``sequences[0].steps[2].days``.

    Discriminated-union tags (``message``, ``wait``...) that pydantic inserts into the location
    are dropped, so the path is the one a person reads in the file.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS:
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


# Tags of the discriminated unions in the domain model; pydantic puts them into error locations.
_UNION_TAGS = frozenset({"message", "wait", "branch", "attribute", "engagement"})


def _describe(error: Any) -> str:
    msg = str(error.get("msg", "invalid value"))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field; remove it or check its spelling"
    if kind == "missing":
        return "required field is missing; add it"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if "input" in error and kind not in {"model_type", "dict_type"}:
        given = error["input"]
        text = repr(given) if not isinstance(given, (int, float)) else str(given)
        if len(text) > 60:
            text = text[:57] + "..."
        msg = f"{msg[0].lower()}{msg[1:]}, got {text}"
    return msg


def format_errors(err: pydantic.ValidationError, source: str = "") -> str:
    """Format every problem in ``err`` as ``source: path: message`` lines."""
    lines = []
    for error in err.errors():
        path = error_path(tuple(error["loc"]))
        where = ": ".join(p for p in (source, path) if p)
        for message in _describe(error).splitlines():
            lines.append(f"{where}: {message}" if where else message)
    return "\n".join(lines)
