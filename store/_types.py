"""Column types shared by the tables: timestamps stored as naive UTC, checked on the way in."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["MAX_ID", "UTCDateTime", "require_utc"]

MAX_ID = 2**63 - 1
"""The largest id a row can have on either backend (a signed 64-bit integer): a larger one is
no row's, and the drivers raise ``OverflowError`` rather than find nothing."""


def require_utc(value: datetime, what: str) -> datetime:
    """Return ``value`` converted to UTC; refuse a naive datetime.

    Args:
        value: a timezone-aware datetime.
        what: what the value is (named in the error), for example ``"enroll(at=...)"``.

    Raises:
        TypeError: ``value`` is not a datetime.
        ValueError: ``value`` has no time zone.
    """
    if type(value) is datetime and value.tzinfo is UTC:
        # Already UTC (the common case): astimezone(UTC) would return it unchanged.
        return value
    if not isinstance(value, datetime):
        raise TypeError(f"{what}: expected a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what}: naive datetime {value.isoformat()}; teamsim stores timezone-aware UTC "
            "datetimes, pass one such as datetime(2025, 1, 6, 9, 0, tzinfo=UTC)"
        )
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime, stored as a naive UTC ``TIMESTAMP``.

    Storing naive UTC makes SQLite (which has no time zones) and PostgreSQL agree exactly;
    values read back carry ``tzinfo=UTC``.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Check ``value`` is aware and convert it to naive UTC for the database."""
        if value is None:
            return None
        return require_utc(value, "timestamp column").replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Mark a stored naive UTC value as UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC)
