"""Sequences: the multi-step plans, their editing operations, sending limits and versions.

A :class:`Sequence` carries the editing operations of the product's toolbar and step editor;
each operation validates the whole result before it changes anything, so a rejected edit
leaves the sequence exactly as it was.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from datetime import datetime, time
from enum import StrEnum
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from teamsim.model._base import MODEL as _MODEL
from teamsim.model.errors import ActivationError, NotFoundError, ValidationError
from teamsim.model.ranges import Cap, LocalTime, StoredId
from teamsim.model.steps import (
    Arm,
    AttributeCondition,
    BranchStep,
    EngagementCondition,
    MessageStep,
    Step,
    WaitStep,
    default_label,
)
from teamsim.model.steps import message_label as _message_label
from teamsim.model.steps import wait_label as _wait_label
from teamsim.model.validation import format_errors

__all__ = ["SendWindow", "Sequence", "SequenceStatus", "SequenceVersion"]

_AnyStep = TypeVar("_AnyStep", MessageStep, WaitStep, BranchStep)


class SequenceStatus(StrEnum):
    """A sequence runs only while ``active``."""

    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"


class SendWindow(BaseModel):
    """Hours and weekdays, in the contact's own time zone, when messages may go out.

    ``weekdays`` uses 0 for Monday through 6 for Sunday; ``start``/``end`` are local times.
    """

    model_config = _MODEL
    weekdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    start: LocalTime = time(9, 0)
    end: LocalTime = time(17, 0)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if not value or any(d < 0 or d > 6 for d in value):
            raise ValueError("weekdays must be a non-empty list of 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))

    @model_validator(mode="after")
    def _order(self) -> SendWindow:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


_STEP_ID = re.compile(r"s(\d+)")


class Sequence(BaseModel):
    """A multi-step outreach plan that a teammate runs for every person enrolled.

    Editing methods (``add_email``, ``move_step``...) validate the whole sequence after the edit
    and only then change it: on a :class:`~teamsim.errors.ValidationError` nothing changed.
    Step ids are ``s1``, ``s2``... in order of creation and never change when steps move.
    ``teammate`` names the teammate who runs it (``None``: the first drafter of the team);
    ``send_window`` and ``daily_cap_per_teammate`` restrict when and how much it sends.
    """

    model_config = _MODEL
    id: StoredId | None = None
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    status: SequenceStatus = SequenceStatus.DRAFT
    steps: list[Step] = Field(default_factory=list)
    version: StoredId = 0
    teammate: str | None = None
    send_window: SendWindow | None = None
    daily_cap_per_teammate: Cap | None = None
    last_step_number: SkipJsonSchema[int] = Field(default=0, ge=0)
    """The largest ``N`` of an ``sN`` step id this sequence's edits have given out, removed
    steps included, so that an id is never given to a second step; kept by teamsim (left out
    of the scenario schema)."""

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _check_steps(self) -> Sequence:
        seen: set[str] = set()
        messages_before: set[str] = set()
        for step in self.iter_steps():
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice; step ids must be unique")
            seen.add(step.id)
            if (
                isinstance(step, BranchStep)
                and isinstance(step.condition, EngagementCondition)
                and step.condition.step_id not in messages_before
            ):
                raise ValueError(
                    f"branch {step.id!r} tests engagement with step "
                    f"{step.condition.step_id!r}, which is not a message step before it; "
                    "point it at an earlier message step"
                )
            if isinstance(step, MessageStep):
                messages_before.add(step.id)
            number = _STEP_ID.fullmatch(step.id)
            if number and int(number.group(1)) > self.last_step_number:
                # Set without validate_assignment, which would run this validator again.
                self.__dict__["last_step_number"] = int(number.group(1))
        return self

    # -- reading ------------------------------------------------------------------------------

    @classmethod
    def new(cls, name: str, description: str = "") -> Sequence:
        """A new draft sequence with the spec's example steps: say hello, wait 3 days, follow up."""
        return cls.build(
            name=name,
            description=description,
            steps=[
                MessageStep(id="s1", label="Say hello", channel="email",
                            brief="Introduce yourself and why you are reaching out."),
                WaitStep(id="s2", label="Wait 3 days", days=3),
                MessageStep(id="s3", label="Follow up", channel="email",
                            brief="Follow up briefly on the first message."),
            ],
        )

    @classmethod
    def build(cls, **data: Any) -> Sequence:
        """Validate ``data`` into a sequence, raising :class:`teamsim.errors.ValidationError`."""
        try:
            return cls.model_validate(data)
        except pydantic.ValidationError as err:
            raise ValidationError(format_errors(err, f"sequence {data.get('name')!r}")) from None

    def iter_steps(self) -> Iterator[MessageStep | WaitStep | BranchStep]:
        """Every step, depth first in document order (a branch, then its then- and else-arms)."""
        yield from _walk(self.steps)

    def step(self, step_id: str) -> MessageStep | WaitStep | BranchStep:
        """The step with id ``step_id``."""
        for step in self.iter_steps():
            if step.id == step_id:
                return step
        raise NotFoundError(
            f"sequence {self.name!r} has no step {step_id!r}; its steps are "
            f"{', '.join(s.id for s in self.iter_steps()) or 'none'}"
        )

    def message_steps(self) -> list[MessageStep]:
        """The message steps, in document order."""
        return [s for s in self.iter_steps() if isinstance(s, MessageStep)]

    def next_step_id(self) -> str:
        """The id the next added step gets: one more than the largest ``sN`` used so far, by a
        step of the sequence or by one that was removed (ids are never used twice)."""
        numbers = [int(m.group(1)) for s in self.iter_steps() if (m := _STEP_ID.fullmatch(s.id))]
        return f"s{max([*numbers, self.last_step_number]) + 1}"

    def check_activatable(self) -> None:
        """Raise :class:`~teamsim.errors.ActivationError` unless the sequence can run."""
        if not self.message_steps():
            raise ActivationError(
                f"sequence {self.name!r} has no message step, so it has nothing to send; "
                f"add one (for example `teamsim seq add {shlex.quote(self.name)} email`) "
                "before activating it"
            )

    # -- editing ------------------------------------------------------------------------------

    def add_message(
        self,
        channel: str = "email",
        label: str = "",
        *,
        brief: str = "",
        subject_template: str | None = None,
        body_template: str | None = None,
        position: int | None = None,
        parent: str | None = None,
        arm: Arm = "then",
    ) -> MessageStep:
        """Add a message step on ``channel`` at ``position`` (default: the end)."""
        data = {"kind": "message", "id": self.next_step_id(), "label": label or
                _message_label(channel),
                "channel": channel, "brief": brief,
                "subject_template": subject_template, "body_template": body_template}
        return self._insert(data, position, parent, arm, MessageStep)

    def add_email(self, label: str = "Email", **kwargs: Any) -> MessageStep:
        """Add an email step (the toolbar's *Add email*)."""
        return self.add_message("email", label, **kwargs)

    def add_wait(
        self,
        days: float = 0,
        hours: float = 0,
        label: str = "",
        *,
        position: int | None = None,
        parent: str | None = None,
        arm: Arm = "then",
    ) -> WaitStep:
        """Add a wait step of ``days`` plus ``hours`` (the toolbar's *Add wait*)."""
        data = {"kind": "wait", "id": self.next_step_id(), "days": days, "hours": hours,
                "label": label or _wait_label(days, hours)}
        return self._insert(data, position, parent, arm, WaitStep)

    def add_branch(
        self,
        condition: AttributeCondition | EngagementCondition | dict[str, Any],
        label: str = "Branch",
        *,
        position: int | None = None,
        parent: str | None = None,
        arm: Arm = "then",
    ) -> BranchStep:
        """Add a branch on ``condition`` with empty arms (the toolbar's *Add branch*)."""
        cond = condition if isinstance(condition, dict) else condition.model_dump()
        data = {"kind": "branch", "id": self.next_step_id(), "label": label, "condition": cond}
        return self._insert(data, position, parent, arm, BranchStep)

    def label_step(self, step_id: str, label: str) -> None:
        """Give step ``step_id`` the label ``label``; an empty label puts back the default
        one (``Wait 2 days``, ``Email message``), which then follows the step's values."""
        if not label.strip():
            step = self.step(step_id)
            label = default_label(step) if not isinstance(step, BranchStep) else "Branch"
        self._update(step_id, label=label)

    def set_channel(self, step_id: str, channel: str) -> None:
        """Set the channel of message step ``step_id`` (a default label follows it)."""
        step = self.step(step_id)
        changes: dict[str, Any] = {"channel": channel}
        if isinstance(step, MessageStep) and step.label == default_label(step):
            changes["label"] = _message_label(channel)
        self._update(step_id, expect="message", **changes)

    def set_wait(self, step_id: str, days: float, hours: float = 0) -> None:
        """Set the length of wait step ``step_id`` (a default label follows it: ``Wait 3
        days`` becomes ``Wait 4 days 6 hours``; a label you gave it stays)."""
        step = self.step(step_id)
        changes: dict[str, Any] = {"days": days, "hours": hours}
        if isinstance(step, WaitStep) and step.label == default_label(step):
            changes["label"] = _wait_label(days, hours)
        self._update(step_id, expect="wait", **changes)

    def set_brief(self, step_id: str, brief: str) -> None:
        """Set the brief the drafter works from for message step ``step_id``."""
        self._update(step_id, expect="message", brief=brief)

    def move_step(self, step_id: str, to_index: int) -> None:
        """Move step ``step_id`` to ``to_index`` within the list (top level or arm) it is in."""
        steps = self._dump_steps()
        siblings, index = _locate(steps, step_id, self.name)
        if not 0 <= to_index < len(siblings):
            raise ValidationError(
                f"sequence {self.name!r}: cannot move step {step_id!r} to position {to_index}; "
                f"positions run from 0 to {len(siblings) - 1}"
            )
        siblings.insert(to_index, siblings.pop(index))
        self._replace_steps(steps)

    def move_up(self, step_id: str) -> None:
        """Move step ``step_id`` one place up (the editor's up arrow)."""
        steps = self._dump_steps()
        _, index = _locate(steps, step_id, self.name)
        if index == 0:
            raise ValidationError(f"sequence {self.name!r}: step {step_id!r} is already first")
        self.move_step(step_id, index - 1)

    def move_down(self, step_id: str) -> None:
        """Move step ``step_id`` one place down (the editor's down arrow)."""
        steps = self._dump_steps()
        siblings, index = _locate(steps, step_id, self.name)
        if index + 1 == len(siblings):
            raise ValidationError(f"sequence {self.name!r}: step {step_id!r} is already last")
        self.move_step(step_id, index + 1)

    def remove_step(self, step_id: str) -> None:
        """Remove step ``step_id`` (and, for a branch, everything in its arms)."""
        steps = self._dump_steps()
        siblings, index = _locate(steps, step_id, self.name)
        siblings.pop(index)
        self._replace_steps(steps)

    # -- internals ----------------------------------------------------------------------------

    def _dump_steps(self) -> list[dict[str, Any]]:
        return [s.model_dump() for s in self.steps]

    def _replace_steps(self, steps: list[dict[str, Any]]) -> None:
        data = self.model_dump()
        data["steps"] = steps
        try:
            checked = type(self).model_validate(data)
        except pydantic.ValidationError as err:
            raise ValidationError(format_errors(err, f"sequence {self.name!r}")) from None
        self.steps = checked.steps

    def _insert(
        self, data: dict[str, Any], position: int | None, parent: str | None, arm: Arm,
        kind: type[_AnyStep],
    ) -> _AnyStep:
        steps = self._dump_steps()
        target = steps
        if parent is not None:
            siblings, index = _locate(steps, parent, self.name)
            if siblings[index]["kind"] != "branch":
                raise ValidationError(
                    f"sequence {self.name!r}: step {parent!r} is not a branch; "
                    "only branches hold steps"
                )
            target = siblings[index][f"{arm}_steps"]
        if position is None:
            position = len(target)
        if not 0 <= position <= len(target):
            raise ValidationError(
                f"sequence {self.name!r}: cannot add a step at position {position}; "
                f"positions run from 0 to {len(target)}"
            )
        target.insert(position, data)
        self._replace_steps(steps)
        if number := _STEP_ID.fullmatch(str(data["id"])):
            self.last_step_number = max(self.last_step_number, int(number.group(1)))
        step = self.step(str(data["id"]))
        if not isinstance(step, kind):  # the data's "kind" picked another class: a bug here
            raise TypeError(f"step {step.id!r} was added as a {type(step).__name__}, "
                            f"not a {kind.__name__}")
        return step

    def _update(self, step_id: str, expect: str | None = None, **changes: Any) -> None:
        steps = self._dump_steps()
        siblings, index = _locate(steps, step_id, self.name)
        kind = siblings[index]["kind"]
        if expect is not None and kind != expect:
            raise ValidationError(
                f"sequence {self.name!r}: step {step_id!r} is a {kind} step, not a {expect} "
                f"step; pick a {expect} step"
            )
        siblings[index].update(changes)
        self._replace_steps(steps)


def _walk(steps: list[Any]) -> Iterator[MessageStep | WaitStep | BranchStep]:
    for step in steps:
        yield step
        if isinstance(step, BranchStep):
            yield from _walk(step.then_steps)
            yield from _walk(step.else_steps)


def _locate(
    steps: list[dict[str, Any]], step_id: str, name: str
) -> tuple[list[dict[str, Any]], int]:
    """Find ``step_id`` in a dumped step tree: the list holding it and its index there."""
    found = _find(steps, step_id)
    if found is None:
        raise NotFoundError(f"sequence {name!r} has no step {step_id!r}; `teamsim seq show` "
                            "lists its steps with their ids")
    return found


def _find(steps: list[dict[str, Any]], step_id: str) -> tuple[list[dict[str, Any]], int] | None:
    for index, step in enumerate(steps):
        if step["id"] == step_id:
            return steps, index
        if step["kind"] == "branch":
            for arm in ("then_steps", "else_steps"):
                found = _find(step[arm], step_id)
                if found is not None:
                    return found
    return None


class SequenceVersion(BaseModel):
    """One saved version of a sequence: what it was at ``saved_at``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sequence_id: StoredId
    version: StoredId
    saved_at: datetime
    sequence: Sequence
