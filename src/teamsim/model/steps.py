"""The steps of a sequence (message, wait, branch) and the conditions a branch tests."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from teamsim.model._base import MODEL as _MODEL
from teamsim.model.channel import check_channel
from teamsim.model.ranges import MAX_DAYS, Days, Hours, SimMinutes

if TYPE_CHECKING:
    from teamsim.model.people import Contact

__all__ = [
    "CONTACT_FIELDS",
    "MAX_WAIT_DAYS",
    "AttributeCondition",
    "BranchStep",
    "Condition",
    "EngagementCondition",
    "MessageStep",
    "Step",
    "WaitStep",
    "default_label",
]

CONTACT_FIELDS = ("name", "email", "company", "timezone")
"""Contact fields a branch condition may test; free attributes are ``attributes.<key>``."""


class AttributeCondition(BaseModel):
    """Holds when a contact field or free attribute compares as stated.

    ``field`` is one of :data:`CONTACT_FIELDS` or ``attributes.<key>``.
    """

    model_config = _MODEL
    kind: Literal["attribute"] = "attribute"
    field: str
    op: Literal["equals", "not_equals", "in", "contains", "exists", "gt", "lt"] = "equals"
    value: Any = None

    @field_validator("value")
    @classmethod
    def _finite_value(cls, value: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            raise ValueError(f"must be a finite number, text or a list of them, got {value}")
        return value

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value in CONTACT_FIELDS or re.fullmatch(r"attributes\.[A-Za-z_][\w\-]*", value):
            return value
        raise ValueError(
            f"unknown field {value!r}; use one of {', '.join(CONTACT_FIELDS)} "
            "or attributes.<name>"
        )

    def holds(self, contact: Contact) -> bool:
        """Whether the condition holds for ``contact``."""
        if self.field.startswith("attributes."):
            key = self.field.removeprefix("attributes.")
            present = key in contact.attributes
            actual: Any = contact.attributes.get(key)
        else:
            actual = getattr(contact, self.field)
            present = actual not in (None, "")
        if self.op == "exists":
            return present
        if self.op == "equals":
            return bool(actual == self.value)
        if self.op == "not_equals":
            return bool(actual != self.value)
        if self.op == "in":
            return isinstance(self.value, list) and actual in self.value
        if self.op == "contains":
            return isinstance(actual, str) and str(self.value).lower() in actual.lower()
        if not present or not isinstance(actual, (int, float)):
            return False
        return bool(actual > self.value) if self.op == "gt" else bool(actual < self.value)


class EngagementCondition(BaseModel):
    """Holds on how the contact engaged with an earlier message step of the same sequence.

    ``opened``/``clicked`` hold when the contact did so (within ``within_days`` of the send, if
    given); ``not_opened`` holds when they did not open it within ``within_days`` (required).
    """

    model_config = _MODEL
    kind: Literal["engagement"] = "engagement"
    step_id: str
    event: Literal["opened", "clicked", "not_opened"]
    within_days: Days | None = None

    @model_validator(mode="after")
    def _window_for_not_opened(self) -> EngagementCondition:
        if self.event == "not_opened" and self.within_days is None:
            raise ValueError("a not_opened condition needs within_days (for example 3)")
        return self


Condition = Annotated[AttributeCondition | EngagementCondition, Field(discriminator="kind")]


class MessageStep(BaseModel):
    """Send one message on a channel; the teammate drafts it from ``brief`` or the templates."""

    model_config = _MODEL
    kind: Literal["message"] = "message"
    id: str
    label: str = ""
    channel: str = "email"
    brief: str = ""
    subject_template: str | None = None
    body_template: str | None = None

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        return check_channel(value)


MAX_WAIT_DAYS = MAX_DAYS
"""Longest wait a step may have in days (ten years); ``hours`` may be at most 24 times this."""


class WaitStep(BaseModel):
    """Wait before the next step: ``days`` (may be fractional) plus ``hours``, both finite,
    ``0 <= days <= 3650`` and ``0 <= hours <= 87600``."""

    model_config = _MODEL
    kind: Literal["wait"] = "wait"
    id: str
    label: str = ""
    days: Days = 0
    hours: Hours = 0

    @property
    def minutes(self) -> SimMinutes:
        """The wait in whole simulated minutes (rounded to the nearest minute)."""
        return round((self.days * 24 + self.hours) * 60)


class BranchStep(BaseModel):
    """Take ``then_steps`` when ``condition`` holds for the person, ``else_steps`` otherwise."""

    model_config = _MODEL
    kind: Literal["branch"] = "branch"
    id: str
    label: str = ""
    condition: Condition
    then_steps: list[Step] = Field(default_factory=list)
    else_steps: list[Step] = Field(default_factory=list)


Step = Annotated[MessageStep | WaitStep | BranchStep, Field(discriminator="kind")]
BranchStep.model_rebuild()

Arm = Literal["then", "else"]


def default_label(step: MessageStep | WaitStep) -> str:
    """The label a step gets when it is added without one (``Wait 3 days``, ``SMS message``).

    A step whose label is its default label has no label of the user's: editing its values
    (:meth:`Sequence.set_wait`, :meth:`Sequence.set_channel`) changes the label to match.
    """
    if isinstance(step, WaitStep):
        return wait_label(step.days, step.hours)
    return message_label(step.channel)


def message_label(channel: str) -> str:
    """The default label of a message step on ``channel`` (``SMS message``)."""
    return f"{channel.capitalize() if channel != 'sms' else 'SMS'} message"


def wait_label(days: float, hours: float) -> str:
    """The default label of a wait step (``Wait 2 days 3 hours``)."""
    parts = []
    if days:
        parts.append(f"{days:g} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours:g} hour{'s' if hours != 1 else ''}")
    return "Wait " + (" ".join(parts) if parts else "0 days")
