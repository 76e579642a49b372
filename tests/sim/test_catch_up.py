"""The catch-up's release times: an even spread over open sending-window time."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from teamsim.domain import SendWindow
from teamsim.sim._catch_up import release_minutes

MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # minute 0
HOURS = SendWindow(weekdays=[0, 1, 2, 3, 4], start=time(9), end=time(17))
UTC_ZONE = ZoneInfo("UTC")


def minute(day: int, hour: int, mins: int = 0) -> int:
    """The run minute of ``hour:mins`` UTC on day ``day`` (0 is Monday 2 March)."""
    return day * 1440 + hour * 60 + mins


def test_without_a_window_the_spread_is_in_clock_minutes() -> None:
    assert release_minutes(4, over=240, now=100, origin=MONDAY, window=None,
                           zone=UTC_ZONE) == [100, 160, 220, 280]


def test_a_zero_catch_up_releases_everything_at_once() -> None:
    assert release_minutes(3, over=0, now=100, origin=MONDAY, window=HOURS,
                           zone=UTC_ZONE) == [100, 100, 100]


def test_the_spread_skips_the_night_and_the_weekend() -> None:
    friday_four = minute(4, 16)
    assert release_minutes(4, over=240, now=friday_four, origin=MONDAY, window=HOURS,
                           zone=UTC_ZONE) == [
        minute(4, 16), minute(7, 9), minute(7, 10), minute(7, 11)]


def test_an_activation_after_hours_starts_when_the_window_opens() -> None:
    monday_five = minute(0, 17)
    released = release_minutes(36, over=1440, now=monday_five, origin=MONDAY, window=HOURS,
                               zone=UTC_ZONE)
    assert released[:3] == [minute(1, 9), minute(1, 9, 40), minute(1, 10, 20)]
    assert released[12] == minute(2, 9)  # 8 open hours a day: 12 items on Tuesday
    assert released[-1] == minute(3, 16, 20)  # 35 x 40 = 1400 open minutes in: Thursday


def test_the_window_is_read_in_the_given_time_zone() -> None:
    # Minute 0 is Sunday 19:00 in New York; it opens Monday 09:00 EST, 14:00 UTC.
    released = release_minutes(2, over=60, now=0, origin=MONDAY, window=HOURS,
                               zone=ZoneInfo("America/New_York"))
    assert released == [minute(0, 14), minute(0, 14, 30)]
