"""Timestamps: timezone-aware UTC in and out, naive ones refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from teamsim.model import Contact, Sequence
from teamsim.store import Store
from teamsim.store._types import UTCDateTime

from ._helpers import T0


def test_naive_datetime_is_refused_by_the_column_type() -> None:
    with pytest.raises(ValueError, match="naive datetime 2025-01-06T09:00:00"):
        UTCDateTime().process_bind_param(datetime(2025, 1, 6, 9, 0), sqlite.dialect())


def test_non_datetime_is_refused_by_the_column_type() -> None:
    with pytest.raises(TypeError, match="expected a datetime, got str"):
        UTCDateTime().process_bind_param("2025-01-06", sqlite.dialect())  # type: ignore[arg-type]


def test_naive_enrollment_time_is_refused(store: Store) -> None:
    with store.unit_of_work() as uow:
        seq = uow.sequences.add(Sequence.new("Welcome"), T0)
        contact = uow.contacts.add(Contact(name="Ann", email="ann@example.com"))
        with pytest.raises(ValueError, match=r"enroll\(at=...\): naive datetime"):
            uow.enrollments.add(seq.id or 0, contact.id or 0, datetime(2025, 1, 6))


def test_other_offsets_come_back_as_the_same_instant_in_utc(store: Store) -> None:
    paris_winter = timezone(timedelta(hours=1))
    with store.unit_of_work() as uow:
        seq = uow.sequences.add(Sequence.new("Welcome"), datetime(2025, 1, 6, 10, 0,
                                                                   tzinfo=paris_winter))
        saved_at = uow.sequences.versions(seq.id or 0)[0].saved_at
    assert saved_at == T0
    assert saved_at.tzinfo is UTC
