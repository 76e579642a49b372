"""The timeline of a world: actions at set days (enroll, pause, activate, edit, rules, chat...).

Each action is a pydantic model (``extra="forbid"``) told apart by its ``action`` key;
:data:`TimelineAction` is their union as a world's ``timeline:`` holds it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from teamsim.model import Days, Hours, Position, Sequence, SimMinutes

__all__ = [
    "ActivateAction",
    "ChatAction",
    "DisableRuleAction",
    "EditAction",
    "EditOp",
    "EnableRuleAction",
    "EndAction",
    "EnrollAction",
    "PauseAction",
    "ResumeAction",
    "TimelineAction",
]

_MODEL = ConfigDict(extra="forbid")


class _Action(BaseModel):
    model_config = _MODEL
    at: Days = Field(description="Days after the start (fractions allowed: 1.5 = 36 h).")

    @property
    def minute(self) -> SimMinutes:
        """The simulated minute of the action."""
        return round(self.at * 1440)


class EnrollAction(_Action):
    """Enroll contacts (by email) into a sequence."""

    action: Literal["enroll"]
    sequence: str
    contacts: list[str] = Field(min_length=1)


class PauseAction(_Action):
    """Pause a sequence."""

    action: Literal["pause"]
    sequence: str


class ActivateAction(_Action):
    """Activate (or re-activate) a sequence."""

    action: Literal["activate"]
    sequence: str


class EditOp(BaseModel):
    """One editing operation on a sequence, as in the step editor.

    ``op`` is add_message, add_wait, add_branch, remove, move, label, set_channel, set_wait or
    set_brief; the other fields are that operation's arguments.
    """

    model_config = _MODEL
    op: Literal["add_message", "add_wait", "add_branch", "remove", "move", "label",
                "set_channel", "set_wait", "set_brief"]
    step: str | None = None
    channel: str | None = None
    label: str | None = None
    brief: str | None = None
    days: Days | None = None
    hours: Hours | None = None
    position: Position | None = None
    to: Position | None = None
    condition: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _arguments(self) -> EditOp:
        needs_step = {"remove", "move", "label", "set_channel", "set_wait", "set_brief"}
        if self.op in needs_step and self.step is None:
            raise ValueError(f"{self.op} needs step: the id of the step to change")
        required = {"move": "to", "label": "label", "set_channel": "channel",
                    "set_wait": "days", "set_brief": "brief", "add_branch": "condition"}
        field = required.get(self.op)
        if field is not None and getattr(self, field) is None:
            raise ValueError(f"{self.op} needs {field}")
        return self

    def apply(self, seq: Sequence) -> None:
        """Apply this operation to ``seq`` (validated; nothing changes on error)."""
        where: dict[str, Any] = {} if self.position is None else {"position": self.position}
        if self.op == "add_message":
            seq.add_message(self.channel or "email", self.label or "", brief=self.brief or "",
                            **where)
        elif self.op == "add_wait":
            seq.add_wait(self.days or 0, self.hours or 0, self.label or "", **where)
        elif self.op == "add_branch":
            assert self.condition is not None
            seq.add_branch(self.condition, self.label or "Branch", **where)
        elif self.op == "remove":
            seq.remove_step(str(self.step))
        elif self.op == "move":
            assert self.to is not None
            seq.move_step(str(self.step), self.to)
        elif self.op == "label":
            seq.label_step(str(self.step), str(self.label))
        elif self.op == "set_channel":
            seq.set_channel(str(self.step), str(self.channel))
        elif self.op == "set_wait":
            seq.set_wait(str(self.step), self.days or 0, self.hours or 0)
        else:
            seq.set_brief(str(self.step), str(self.brief))


class EditAction(_Action):
    """Edit a (possibly running) sequence; saved as one new version."""

    action: Literal["edit"]
    sequence: str
    ops: list[EditOp] = Field(min_length=1)


class EnableRuleAction(_Action):
    """Switch an auto-approve rule on."""

    action: Literal["enable_rule"]
    rule: str


class DisableRuleAction(_Action):
    """Switch an auto-approve rule off (takes effect at once)."""

    action: Literal["disable_rule"]
    rule: str


class ChatAction(_Action):
    """Ask a teammate for a one-off message to a contact (not part of any sequence)."""

    action: Literal["chat"]
    contact: str
    text: str = Field(min_length=1)
    teammate: str | None = None


class ResumeAction(_Action):
    """Resume a person's paused enrollment (after they replied)."""

    action: Literal["resume"]
    sequence: str
    contact: str


class EndAction(_Action):
    """End a person's enrollment."""

    action: Literal["end"]
    sequence: str
    contact: str


TimelineAction = Annotated[
    EnrollAction | PauseAction | ActivateAction | EditAction | EnableRuleAction
    | DisableRuleAction | ChatAction | ResumeAction | EndAction,
    Field(discriminator="action"),
]

