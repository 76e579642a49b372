"""The catch-up after a paused sequence is activated again: when each held item is released.

The backlog is spread once, evenly, over ``catch_up_hours`` of *open* time: item ``i`` of ``n``
is released once ``i * over // n`` open minutes have passed. A sequence with a sending window
counts open time in each contact's own time zone (where the window applies), so each item's
offset is read in its own zone's open hours: with a 09:00-17:00 weekday window, a 24-hour
catch-up runs over three working days, and no release falls in the night or the weekend, where
it would only wait for the window to open and go out with all the others at once. Contacts in
several zones share the one spread (each offset is used once), so the zones together release
no faster than one zone would. Without a window, open time is clock time.

Releases are clamped to the run's end: nothing at or after it runs, and the walk through open
intervals stops there (a window open one minute a week never walks past year 9999).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from teamsim.model import SendWindow, SimMinutes

__all__ = ["release_minutes"]


def release_minutes(
    zones: Sequence[ZoneInfo], *, over: SimMinutes, now: SimMinutes, end: SimMinutes,
    origin: datetime, window: SendWindow | None,
) -> list[SimMinutes]:
    """When each held item is released, in the order given.

    Item ``i`` of ``n`` is released once ``i * over // n`` minutes of open time have passed
    since ``now``, open time read in the item's own zone: the items are spread evenly over
    ``over`` open minutes, so no stretch of open time releases more than its share.

    Args:
        zones: each item's time zone (where the window's days and hours are read), one per item.
        over: the catch-up's length in open minutes (0 releases everything at ``now``).
        now: the minute of the activation.
        end: the run's end minute; a release at or after it would never run, so it is ``end``.
        origin: the run's start (minute 0), a UTC datetime.
        window: the sending window, or ``None``: every minute is open.

    Returns:
        Release minutes, one per item, each at or after ``now`` and at most ``end``; with a
        window, inside it (or ``end``); non-decreasing among the items of one zone.
    """
    count = len(zones)
    offsets = [(i * over) // count for i in range(count)]
    if window is None or over == 0:
        return [min(now + offset, end) for offset in offsets]
    released = [end] * count
    for zone in dict.fromkeys(zones):  # each zone once, in first-seen order
        mine = [i for i, z in enumerate(zones) if z == zone]
        for i, when in zip(mine, _walk([offsets[i] for i in mine],
                                       _open_intervals(window, zone, origin, now, end)),
                           strict=False):
            released[i] = when
    return released


def _walk(offsets: list[SimMinutes],
          intervals: Iterator[tuple[SimMinutes, SimMinutes]]) -> Iterator[SimMinutes]:
    """The run minute at which each of ``offsets`` (non-decreasing open minutes) is reached;
    stops early when the intervals run out (the run ends first)."""
    passed = 0  # open minutes before ``start``
    start, stop = next(intervals, (0, 0))
    for offset in offsets:
        while offset >= passed + (stop - start):
            passed += stop - start
            nxt = next(intervals, None)
            if nxt is None:
                return
            start, stop = nxt
        yield start + offset - passed


def _open_intervals(window: SendWindow, zone: ZoneInfo, origin: datetime, now: SimMinutes,
                    end: SimMinutes) -> Iterator[tuple[SimMinutes, SimMinutes]]:
    """The window's open stretches ``[start, stop)`` in run minutes, from ``now`` until
    ``end`` (cut there)."""
    day = (origin + timedelta(minutes=now)).astimezone(zone).date() - timedelta(days=1)
    last = (origin + timedelta(minutes=end)).astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        if day.weekday() in window.weekdays:
            bounds = [_minute(datetime.combine(day, moment, tzinfo=zone), origin)
                      for moment in (window.start, window.end)]
            start, stop = max(bounds[0], now), min(bounds[1], end)
            if stop > start:  # empty when past, cut off, or swallowed by a clock change
                yield start, stop
        day += timedelta(days=1)


def _minute(moment: datetime, origin: datetime) -> SimMinutes:
    return int((moment - origin).total_seconds() // 60)
