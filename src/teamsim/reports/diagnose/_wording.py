"""Wording of the checklist: times, spans, counts, and the scheduler's next tick."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from teamsim.model import EnrollmentStatus

__all__ = ["agree", "cap", "count_noun", "counts", "people", "relative", "stamp", "tick_after"]


def tick_after(*, after: datetime, due: datetime | None, anchor: datetime | None,
               tick: int, inclusive: bool = False) -> datetime:
    """The first tick at or after ``due`` that is later than ``after`` (or at ``after`` itself
    when ``inclusive``: the tick there has not run, as at the run's closing minute).

    Ticks fall at ``anchor`` plus whole ticks (none before ``anchor``); with no anchor, at the
    top of the hour plus whole ticks.
    """
    step = timedelta(minutes=tick)
    target = after if due is None or due <= after else due
    strict = target == after and not inclusive
    base = anchor if anchor is not None else target.replace(minute=0, second=0, microsecond=0)
    if target < base:
        return base
    count, rest = divmod(target - base, step)
    if rest or strict:
        count += 1
    return base + count * step


def cap(text: str) -> str:
    """``text`` with its first letter upper-cased."""
    return text[:1].upper() + text[1:]


def stamp(moment: datetime) -> str:
    """``2025-01-06 09:00 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def relative(moment: datetime, at: datetime) -> str:
    """``now``, ``2 d 3 h ago`` or ``in 15 min``: ``moment`` seen from ``at``."""
    if moment == at:
        return "now"
    length = span(abs(at - moment))
    return f"{length} ago" if moment < at else f"in {length}"


def span(delta: timedelta) -> str:
    """``2 d 3 h``: the two largest units of ``delta``."""
    minutes = int(delta.total_seconds() // 60)
    if minutes == 0:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "min")) if n]
    return " ".join(parts[:2])


def count_noun(count: int, noun: str, plural: str | None = None) -> str:
    """``1 draft``, ``2 drafts`` (``plural`` for irregular nouns:
    ``count_noun(2, "person", "people")``)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def agree(count: int, one: str, many: str) -> str:
    """The verb form that agrees with ``count`` things: ``one`` for exactly one, else ``many``."""
    return one if count == 1 else many


def people(count: int, *, verb: bool = True) -> str:
    """``1 person is``, ``3 people are`` (without the verb when ``verb`` is false)."""
    text = count_noun(count, "person", "people")
    return f"{text} {agree(count, 'is', 'are')}" if verb else text


def counts(values: Iterable[str]) -> str:
    """``2 active, 1 paused``: how many of each status, in the statuses' order."""
    tally: dict[str, int] = {}
    for value in values:
        tally[value] = tally.get(value, 0) + 1
    order = [s.value for s in EnrollmentStatus]
    return ", ".join(f"{tally[v]} {v}" for v in sorted(tally, key=order.index))
