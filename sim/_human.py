"""The human played from outside the simulation: typed inputs and the port they come in by.

By default the scripted approver (:class:`~teamsim.sim.ApproverPolicy`) plays the human. A
:class:`Simulation` given a :class:`DecisionSource` is played by a person instead (``teamsim
serve``) or by the record of one (``teamsim run --decisions JOURNAL``): the scripted approver
holds its check-in sessions back, and each :class:`HumanInput` is applied at its simulated
minute, before anything else of that minute happens. The run stops at that minute, applies the
inputs of the minute in their order, and goes on; so a journal of the inputs a person made
while stepping through a run replays that run event for event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from teamsim.model import SimMinutes

__all__ = ["DecisionSource", "HumanAction", "HumanInput", "ListDecisions", "actions_for"]


class HumanAction(StrEnum):
    """What the person does.

    On a draft: ``approve``, ``edit`` (the edited text is what is sent), ``reject``. On a reply:
    ``leave`` (the person stays paused), ``resume``, ``end``. On a step that could not be
    drafted: ``retry``, ``skip``, ``end``. On a rule suggestion: ``accept`` (the rule is
    switched on), ``dismiss``. On a sequence: ``pause``, ``activate``. ``hand_over``: the
    scripted approver plays the human from this minute to the end of the run.
    """

    APPROVE = "approve"
    EDIT = "edit"
    REJECT = "reject"
    LEAVE = "leave"
    RESUME = "resume"
    END = "end"
    RETRY = "retry"
    SKIP = "skip"
    ACCEPT = "accept"
    DISMISS = "dismiss"
    PAUSE = "pause"
    ACTIVATE = "activate"
    HAND_OVER = "hand_over"


_FOR_KIND: dict[str, tuple[HumanAction, ...]] = {
    "draft": (HumanAction.APPROVE, HumanAction.EDIT, HumanAction.REJECT),
    "reply": (HumanAction.LEAVE, HumanAction.RESUME, HumanAction.END),
    "draft_failure": (HumanAction.RETRY, HumanAction.SKIP, HumanAction.END),
    "rule_suggestion": (HumanAction.ACCEPT, HumanAction.DISMISS),
}

SEQUENCE_ACTIONS = (HumanAction.PAUSE, HumanAction.ACTIVATE)
"""The actions on a sequence (they name it in ``sequence``)."""


def actions_for(kind: str) -> tuple[HumanAction, ...]:
    """The actions that answer a Needs attention item of ``kind`` (empty for an unknown kind)."""
    return _FOR_KIND.get(kind, ())


@dataclass(frozen=True, slots=True, kw_only=True)
class HumanInput:
    """One thing the person did, at one simulated minute.

    Attributes:
        minute: the simulated minute it was done at (minutes from the world's start).
        action: what was done.
        item_id: the Needs attention item it answers (``None`` for a sequence or hand-over).
        sequence: the sequence paused or activated.
        subject: with ``edit``, the new subject (``None`` keeps the draft's).
        body: with ``edit``, the new body.
        note: a note with a rejection (the drafter gets it on a redraft).
    """

    minute: SimMinutes
    action: HumanAction
    item_id: int | None = None
    sequence: str | None = None
    subject: str | None = None
    body: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.minute, int) or isinstance(self.minute, bool) or self.minute < 0:
            raise ValueError(f"minute must be an int >= 0, got {self.minute!r}")
        action = HumanAction(self.action)
        if action in SEQUENCE_ACTIONS:
            if not self.sequence:
                raise ValueError(f"{action.value} needs the sequence's name")
        elif action is not HumanAction.HAND_OVER and self.item_id is None:
            raise ValueError(f"{action.value} needs the Needs attention item's id")
        if action is HumanAction.EDIT and not (self.body and self.body.strip()):
            raise ValueError("an edit needs the new body text")
        if action is not HumanAction.EDIT and (self.subject is not None or self.body is not None):
            raise ValueError(f"only an edit carries a subject or body, not {action.value}")


@runtime_checkable
class DecisionSource(Protocol):
    """Where a person's inputs come from: the port the roof fills (from a journal, or live)."""

    def inputs(self) -> Iterator[HumanInput]:
        """The inputs in the order they were made; their minutes never go down."""
        ...


class ListDecisions:
    """A :class:`DecisionSource` over a list of inputs (tests, and a live run: nothing yet).

    Args:
        inputs: the inputs, in the order they were made.
    """

    def __init__(self, inputs: Iterable[HumanInput] = ()) -> None:
        self._inputs = tuple(inputs)

    def inputs(self) -> Iterator[HumanInput]:
        """The inputs, in order."""
        return iter(self._inputs)
