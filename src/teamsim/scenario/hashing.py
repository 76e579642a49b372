"""The one scenario hash: what a resume, a sweep row, a decisions journal and the runs table
compare to know they were made from the same scenario."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import pydantic
import pydantic_core

__all__ = ["scenario_hash"]


def scenario_hash(world: pydantic.BaseModel) -> str:
    """The SHA-256 (hex) of a validated scenario (or bare world) as canonical JSON: sorted
    keys, sets sorted, no spaces. Equal scenarios share it however their files are laid out,
    and it is the same in every process (a set's own order follows ``PYTHONHASHSEED``)."""
    text = _compact(_canonical(world.model_dump(mode="python")))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> Any:
    """``value`` as JSON data that does not depend on set order."""
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_canonical(item) for item in value), key=_compact)
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return pydantic_core.to_jsonable_python(value)


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
