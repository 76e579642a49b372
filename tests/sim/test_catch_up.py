"""The catch-up's release times: an even spread over open sending-window time."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time
from itertools import pairwise
from zoneinfo import ZoneInfo

from teamsim.model import SendWindow
from teamsim.sim._catch_up import release_minutes

MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # minute 0
HOURS = SendWindow(weekdays=[0, 1, 2, 3, 4], start=time(9), end=time(17))
UTC_ZONE = ZoneInfo("UTC")
END = 60 * 1440  # the run's end: minute 0 plus 60 days


def minute(day: int, hour: int, mins: int = 0) -> int:
    """The run minute of ``hour:mins`` UTC on day ``day`` (0 is Monday 2 March)."""
    return day * 1440 + hour * 60 + mins


def test_without_a_window_the_spread_is_in_clock_minutes() -> None:
    assert release_minutes([UTC_ZONE] * 4, over=240, now=100, end=END, origin=MONDAY,
                           window=None) == [100, 160, 220, 280]


def test_a_zero_catch_up_releases_everything_at_once() -> None:
    assert release_minutes([UTC_ZONE] * 3, over=0, now=100, end=END, origin=MONDAY,
                           window=HOURS) == [100, 100, 100]


def test_the_spread_skips_the_night_and_the_weekend() -> None:
    friday_four = minute(4, 16)
    assert release_minutes([UTC_ZONE] * 4, over=240, now=friday_four, end=END,
                           origin=MONDAY, window=HOURS) == [
        minute(4, 16), minute(7, 9), minute(7, 10), minute(7, 11)]


def test_an_activation_after_hours_starts_when_the_window_opens() -> None:
    monday_five = minute(0, 17)
    released = release_minutes([UTC_ZONE] * 36, over=1440, now=monday_five, end=END,
                               origin=MONDAY, window=HOURS)
    assert released[:3] == [minute(1, 9), minute(1, 9, 40), minute(1, 10, 20)]
    assert released[12] == minute(2, 9)  # 8 open hours a day: 12 items on Tuesday
    assert released[-1] == minute(3, 16, 20)  # 35 x 40 = 1400 open minutes in: Thursday


def test_the_window_is_read_in_the_given_time_zone() -> None:
    # Minute 0 is Sunday 19:00 in New York; it opens Monday 09:00 EST, 14:00 UTC.
    released = release_minutes([ZoneInfo("America/New_York")] * 2, over=60, now=0, end=END,
                               origin=MONDAY, window=HOURS)
    assert released == [minute(0, 14), minute(0, 14, 30)]


def test_contacts_in_several_zones_share_one_spread() -> None:
    # Six zones on UTC in March: their open hours are the same, so together they must release
    # exactly as one zone would (before, each zone ran its own spread from the activation on,
    # so six items went out at the first minute).
    same_hours = [ZoneInfo(name) for name in (
        "UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Atlantic/Reykjavik",
        "Africa/Abidjan")]
    zones = [same_hours[i % 6] for i in range(36)]
    tuesday_nine = minute(1, 9)
    mixed = release_minutes(zones, over=1440, now=tuesday_nine, end=END, origin=MONDAY,
                            window=HOURS)
    single = release_minutes([UTC_ZONE] * 36, over=1440, now=tuesday_nine, end=END,
                             origin=MONDAY, window=HOURS)
    assert mixed == single
    assert max(Counter(mixed).values()) == 1


def test_zones_with_different_hours_release_no_faster_than_the_spread() -> None:
    # Each offset is used once, in its own zone's open hours: no minute releases two items
    # and each zone's items keep the spread's pace (40 open minutes apart at least).
    names = ("UTC", "Europe/Berlin", "Europe/Athens", "Asia/Dubai", "America/New_York",
             "America/Chicago")
    zones = [ZoneInfo(names[i % 6]) for i in range(36)]
    released = release_minutes(zones, over=1440, now=minute(1, 9), end=END, origin=MONDAY,
                               window=HOURS)
    assert max(Counter(released).values()) == 1
    for name in names:
        mine = [m for m, z in zip(released, zones, strict=True) if z.key == name]
        assert all(b - a >= 40 for a, b in pairwise(mine))


def test_releases_stop_at_the_run_end() -> None:
    # A window open one minute a week with a ten-year catch-up: the walk stops at the run's
    # end (it used to run past year 9999 and raise OverflowError); later releases are the end.
    minute_a_week = SendWindow(weekdays=[0], start=time(8), end=time(8, 1))
    released = release_minutes([UTC_ZONE] * 3, over=87600 * 60, now=0, end=END,
                               origin=MONDAY, window=minute_a_week)
    assert released == [minute(0, 8), END, END]
    assert release_minutes([UTC_ZONE] * 2, over=87600 * 60, now=0, end=END, origin=MONDAY,
                           window=None) == [0, END]
