"""The catch-up after a paused sequence is activated again: when each held item is released.

A sequence with a sending window counts ``catch_up_hours`` in *open* window time, in each
contact's own time zone (where the window applies): with a 09:00-17:00 weekday window, a 24-hour
catch-up runs over three working days, and no release falls in the night or the weekend, where
it would only wait for the window to open and go out with all the others at once. Without a
window, open time is clock time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from teamsim.domain import SendWindow, SimMinutes

__all__ = ["release_minutes"]

_DAY = 1440


def release_minutes(
    count: int, *, over: SimMinutes, now: SimMinutes, origin: datetime,
    window: SendWindow | None, zone: ZoneInfo,
) -> list[SimMinutes]:
    """When each of ``count`` held items is released, in the order given.

    Item ``i`` is released once ``i * over // count`` minutes of open time have passed since
    ``now``: the items are spread evenly over ``over`` open minutes, so no stretch of open time
    releases more than its share.

    Args:
        count: how many items.
        over: the catch-up's length in open minutes (0 releases everything at ``now``).
        now: the minute of the activation.
        origin: the run's start (minute 0), a UTC datetime.
        window: the sending window, or ``None``: every minute is open.
        zone: the time zone the window's days and hours are read in.

    Returns:
        Release minutes, non-decreasing, each at or after ``now`` and, with a window, inside it.
    """
    offsets = [(i * over) // count for i in range(count)] if count else []
    if window is None or over == 0:
        return [now + offset for offset in offsets]
    released: list[SimMinutes] = []
    intervals = _open_intervals(window, zone, origin, now)
    start, end = next(intervals)
    passed = 0  # open minutes before ``start``
    for offset in offsets:
        while offset >= passed + (end - start):
            passed += end - start
            start, end = next(intervals)
        released.append(start + offset - passed)
    return released


def _open_intervals(window: SendWindow, zone: ZoneInfo, origin: datetime,
                    now: SimMinutes) -> Iterator[tuple[SimMinutes, SimMinutes]]:
    """The window's open stretches ``[start, end)`` in run minutes, from ``now`` on, forever
    (the window opens on at least one weekday, so each week yields one)."""
    day = (origin + timedelta(minutes=now)).astimezone(zone).date() - timedelta(days=1)
    while True:
        if day.weekday() in window.weekdays:
            bounds = [_minute(datetime.combine(day, moment, tzinfo=zone), origin)
                      for moment in (window.start, window.end)]
            start, end = max(bounds[0], now), bounds[1]
            if end > start:  # empty when past, or when a clock change swallows the window
                yield start, end
        day += timedelta(days=1)


def _minute(moment: datetime, origin: datetime) -> SimMinutes:
    return int((moment - origin).total_seconds() // 60)
