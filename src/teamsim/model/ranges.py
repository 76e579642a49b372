"""The allowed range of every number, date and time in the scenario format, defined once.

Each alias below is a pydantic type with its bounds (which also land in the JSON Schema as
``minimum``/``maximum``). A value outside the bounds gets the usual one-line message
(``must be >= 0, got -1``, ``must be <= 3650, got 1e+300``); an infinite or NaN number gets
``must be a finite number from 0 to 3650 (days), got inf``. The README's "Scenario files"
section lists the same ranges.

Dates and times must be written as text (``2026-03-02T08:00:00``, ``"13:00"``): pydantic would
read a bare number as seconds since 1970 or since midnight (and YAML reads ``13:00`` unquoted
as the number 780), which silently gives a different time than the one meant.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidatorFunctionWrapHandler, WrapValidator
from pydantic import ValidationError as PydanticValidationError

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_CONTACTS",
    "MAX_DAYS",
    "MAX_DELAY_MINUTES",
    "MAX_HOURS",
    "AttributeValue",
    "Cap",
    "Capacity",
    "Count",
    "Days",
    "DelayHours",
    "Factor",
    "Hours",
    "ItemMinutes",
    "LocalTime",
    "MetricBound",
    "Minutes",
    "Position",
    "PositiveDelayHours",
    "Probability",
    "RunDays",
    "Seed",
    "Sigma",
    "SimMinutes",
    "StoredId",
    "Weight",
    "WhenDate",
    "WhenDateTime",
    "check_moment",
]

SimMinutes = int
"""Simulated time: a whole number of minutes since the run's start."""

MAX_DAYS = 3650
"""The longest run, wait or offset in days (ten years)."""

MAX_HOURS = MAX_DAYS * 24
"""The longest span written in hours (the same ten years)."""

MAX_DELAY_MINUTES = MAX_DAYS * 1440
"""A drawn random delay is cut to this many minutes (ten years: it never lands in a run)."""

MAX_CONTACTS = 100_000
"""Contacts (listed plus generated) a scenario may have without ``--allow-large``.

A campaign costs about 10 KiB (on a file store) and 3 ms of CPU per contact on the reference
machine (100,000 contacts: 915 MiB, 649 s of CPU), so this default bounds a run to about a
quarter of an hour of CPU.
"""

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
"""The earliest moment a scenario may start."""

LATEST = datetime(2200, 12, 31, 23, 59, tzinfo=UTC)
"""The latest moment a scenario may start, or a date in it fall on."""

_MAX_METRIC = 1e15
_MAX_INT = 2**63 - 1


def _bound(value: float) -> str:
    """A bound as people write it: ``3650``, ``1,000,000``, ``1e15``."""
    value = float(value)
    if value.is_integer() and abs(value) < 10_000:
        return f"{int(value)}"
    if value.is_integer() and abs(value) < 1e7:
        return f"{int(value):,}"
    return f"{value:.0e}".replace("e+", "e")


def _finite(low: float, high: float, unit: str) -> BeforeValidator:
    """Refuse an infinite or NaN number with a message naming the allowed range."""

    def check(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            where = f" ({unit})" if unit else ""
            raise ValueError(
                f"must be a finite number from {_bound(low)} to {_bound(high)}{where}, "
                f"got {value}")
        return value

    return BeforeValidator(check)


def _moment(kind: type[date] | type[time], name: str, example: str) -> WrapValidator:
    """Parse a date or time written as text, with one clear message when it cannot be.

    A number is refused (pydantic would read it as seconds). An impossible value gets the
    reason Python's own parser gives (``day is out of range for month``). A time of day with
    a UTC offset (``"08:00+02:00"``, ``"09:00Z"``) is refused: times of day are local, read
    in the zone the scenario's ``timezone`` field gives.
    """

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"must be a {name} written as text, like {example!r}; got the "
                             f"number {value:g} (quote a time such as \"13:00\")")
        try:
            parsed = handler(value)
        except PydanticValidationError as err:
            if not isinstance(value, str):
                raise
            reason = str(err.errors()[0]["msg"]).split(", ", 1)[-1]
            try:
                kind.fromisoformat(value.strip())
            except ValueError as exc:
                reason = str(exc)
            if "offset" in reason:
                reason = "the UTC offset must lie within -23:59 and +23:59"
            raise ValueError(f"not a valid {name}: {value[:40]!r} ({reason}); write it like "
                             f"{example}") from None
        if isinstance(parsed, time) and parsed.tzinfo is not None:
            # A time with an offset cannot be compared with the naive local times it meets
            # (a crash mid-run), and some places would silently ignore it: refuse it here.
            shown = value[:40] if isinstance(value, str) else parsed.isoformat()
            raise ValueError(f"a {name} must not carry a UTC offset, got {shown!r}; write the "
                             f"local time, like {example!r}, in the zone given by `timezone`")
        return parsed

    return WrapValidator(check)


Days = Annotated[float, Field(ge=0, le=MAX_DAYS), _finite(0, MAX_DAYS, "days")]
"""Days after the start or of a wait, fractions allowed: 0 to 3650."""

RunDays = Annotated[float, Field(gt=0, le=MAX_DAYS), _finite(0, MAX_DAYS, "days")]
"""A run's length in days: more than 0, at most 3650."""

Hours = Annotated[float, Field(ge=0, le=MAX_HOURS), _finite(0, MAX_HOURS, "hours")]
"""A span in hours: 0 to 87600 (ten years)."""

DelayHours = Annotated[float, Field(ge=0, le=MAX_HOURS), _finite(0, MAX_HOURS, "hours")]
"""A delay parameter in hours: 0 to 87600."""

PositiveDelayHours = Annotated[float, Field(gt=0, le=MAX_HOURS),
                               _finite(0, MAX_HOURS, "hours")]
"""A mean or median delay in hours: more than 0, at most 87600."""

Sigma = Annotated[float, Field(ge=0, le=10), _finite(0, 10, "")]
"""The spread of a lognormal delay: 0 to 10."""

Probability = Annotated[float, Field(ge=0, le=1), _finite(0, 1, "")]
"""A chance: 0 to 1."""

Factor = Annotated[float, Field(ge=0, le=100), _finite(0, 100, "")]
"""A multiplier on a chance: 0 to 100 (the chance is capped at 1 after it)."""

Weight = Annotated[float, Field(ge=0, le=1_000_000), _finite(0, 1_000_000, "")]
"""A relative weight: 0 to 1,000,000."""

ItemMinutes = Annotated[float, Field(ge=0, le=1440), _finite(0, 1440, "minutes")]
"""Human minutes spent on one item: 0 to 1440."""

MetricBound = Annotated[float, Field(ge=-_MAX_METRIC, le=_MAX_METRIC),
                        _finite(-_MAX_METRIC, _MAX_METRIC, "")]
"""A bound in an expectation: a finite number from -1e15 to 1e15."""

AttributeValue = Annotated[
    str | Annotated[int, Field(ge=-_MAX_INT - 1, le=_MAX_INT)]
    | Annotated[float, Field(ge=-_MAX_METRIC, le=_MAX_METRIC)] | bool,
    _finite(-_MAX_METRIC, _MAX_METRIC, ""),
]
"""A contact's free attribute: text, true/false, a whole number that fits 64 bits, or a finite
number from -1e15 to 1e15."""

Minutes = Annotated[int, Field(ge=0, le=1440)]
"""Whole simulated minutes a piece of work takes: 0 to 1440."""

Capacity = Annotated[int, Field(ge=1, le=1000)]
"""Tasks a teammate works on at once: 1 to 1000."""

Cap = Annotated[int, Field(ge=1, le=1_000_000)]
"""A count limit (per day, in all, per session): 1 to 1,000,000."""

Count = Annotated[int, Field(ge=0, le=1_000_000)]
"""A count that may be 0: 0 to 1,000,000."""

Position = Annotated[int, Field(ge=0, le=10_000)]
"""A step's position in a list: 0 to 10,000."""

Seed = Annotated[int, Field(ge=0, le=_MAX_INT)]
"""A seed: 0 to 2**63 - 1."""

StoredId = Annotated[int, Field(ge=0, le=_MAX_INT)]
"""A database id or version number: 0 to 2**63 - 1."""

LocalTime = Annotated[time, _moment(time, "time of day", "09:30")]
"""A local time of day, written as text (``"13:00"``)."""

WhenDate = Annotated[date, _moment(date, "date", "2026-03-02")]
"""A calendar date, written as text; see :func:`check_moment` for its range."""

WhenDateTime = Annotated[datetime, _moment(datetime, "date-time", "2026-03-02T08:00:00")]
"""A date-time, written as text; see :func:`check_moment` for its range."""


def check_moment(value: date | datetime) -> None:
    """Raise ``ValueError`` unless ``value`` lies from 1970-01-01 to 2200-12-31.

    A naive date-time is compared as if it were UTC (a time zone moves it by hours at most).
    """
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    else:
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"must be from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}, got {value}")
