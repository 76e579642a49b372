"""Time zones: only IANA names ``zoneinfo`` knows, and never the machine's own zone."""

from __future__ import annotations

import re
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = ["check_timezone"]


_TZ_NAME = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
_TZ_MAX_CHARS = 64
_MACHINE_ZONES = frozenset({"localtime", "posixrules"})
"""Names that resolve to this machine's own zone: a run using one would differ by machine."""


@cache
def _known_zones() -> frozenset[str]:
    """The IANA names ``zoneinfo`` lists, less the machine's own zone (read once; only ever
    tested for membership, never iterated)."""
    return frozenset(available_timezones()) - _MACHINE_ZONES


def check_timezone(value: str) -> str:
    """Return ``value`` if it is an IANA time-zone name ``zoneinfo`` knows, else raise
    ``ValueError`` saying how to write one.

    Only names shaped like IANA keys (letters, digits, ``_+-`` in ``/``-separated parts, at
    most 64 characters) reach ``zoneinfo``, which reads them as file paths. ``localtime`` and
    ``posixrules`` (links to the machine's own zone) and any other name that is not in
    ``zoneinfo.available_timezones()`` are refused, so a run never depends on the machine.
    """
    shown = value if len(value) <= 40 else value[:37] + "..."
    advice = "use an IANA name such as Europe/Paris"
    if len(value) > _TZ_MAX_CHARS:
        raise ValueError(f"unknown time zone {shown!r} ({len(value)} characters; IANA names "
                         f"have at most {_TZ_MAX_CHARS}); {advice}")
    if not _TZ_NAME.fullmatch(value):
        raise ValueError(f"unknown time zone {shown!r}; {advice}")
    if value in _MACHINE_ZONES:
        raise ValueError(f"unknown time zone {shown!r} (it is this machine's own zone, so runs "
                         f"would differ between machines); {advice}")
    if value not in _known_zones():
        raise ValueError(f"unknown time zone {shown!r}; {advice}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {shown!r}; {advice}") from None
    return value
