"""People: the contacts enrolled, their enrollments, and the AI teammates."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from teamsim.model._base import MODEL as _MODEL
from teamsim.model.ranges import AttributeValue, Capacity, StoredId
from teamsim.model.zones import check_timezone

__all__ = ["Contact", "Enrollment", "EnrollmentStatus", "Teammate", "TeammateRole"]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class Contact(BaseModel):
    """A person who can be enrolled: name, email, company, time zone and free attributes."""

    model_config = _MODEL
    id: StoredId | None = None
    name: str = Field(min_length=1)
    email: str
    company: str = ""
    timezone: str = "UTC"
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError(f"not an email address: {value!r}; write it as name@example.com")
        return value.lower()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @property
    def first_name(self) -> str:
        """The first word of the name."""
        return self.name.split()[0]


class EnrollmentStatus(StrEnum):
    """Where one person stands in one sequence."""

    ACTIVE = "active"
    PAUSED = "paused"  # the person replied (or the human paused them)
    COMPLETED = "completed"
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"
    ENDED = "ended"  # the human ended it


class Enrollment(BaseModel):
    """A contact on a sequence: status, the step they are at and when it is next due."""

    model_config = _MODEL
    id: StoredId | None = None
    sequence_id: StoredId
    contact_id: StoredId
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE
    current_step_id: str | None = None
    next_due_at: datetime | None = None
    enrolled_at: datetime
    paused_at: datetime | None = None
    ended_reason: str | None = None


class TeammateRole(StrEnum):
    """What a teammate can do in the pipeline."""

    DRAFTER = "drafter"
    REVIEWER = "reviewer"


class Teammate(BaseModel):
    """An AI teammate: the roles it takes and how many tasks it works on at once."""

    model_config = _MODEL
    id: StoredId | None = None
    name: str = Field(min_length=1)
    roles: list[TeammateRole] = Field(
        default_factory=lambda: [TeammateRole.DRAFTER, TeammateRole.REVIEWER]
    )
    capacity: Capacity = 1
