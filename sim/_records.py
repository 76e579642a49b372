"""What the actors remember of a run in flight.

The store holds the record; these are the simulator's working copies, shared by reference
between the actors (an outgoing message points at its enrollment, a Needs attention item at
the enrollment it belongs to).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from teamsim.graph import ThreadMessage
from teamsim.model import Contact, EnrollmentStatus, SimMinutes
from teamsim.sim.world import Persona

__all__ = ["AttentionItem", "LiveEnrollment", "Outgoing", "Sent", "TaskNote"]


@dataclass(slots=True)
class Sent:
    """A message an enrollment was sent, and when the person engaged with it."""

    message_id: int
    minute: SimMinutes
    opened: SimMinutes | None = None
    clicked: SimMinutes | None = None


@dataclass(slots=True)
class LiveEnrollment:
    """One person walking one sequence.

    ``token`` counts the enrollment's interruptions (a pause, a move, an end...): a timer,
    a due entry or a queued message made under an older token is stale and does nothing.
    """

    id: int
    seq: str
    sequence_id: int
    contact: Contact
    persona: Persona
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE
    step_id: str | None = None
    token: int = 0
    task_id: int | None = None
    working: bool = False
    parked: bool = False
    sent: dict[str, Sent] = field(default_factory=dict)
    messages: int = 0
    thread: list[ThreadMessage] = field(default_factory=list)
    watch: tuple[str, Callable[[], None]] | None = None


@dataclass(slots=True)
class TaskNote:
    """What the simulator remembers of a pipeline task until its message is queued."""

    drafter: str
    contact: Contact
    channel: str
    step_id: str | None
    edited: bool = False


@dataclass(slots=True)
class Outgoing:
    """An approved message in the outbox, waiting for its sending window and cap."""

    message_id: int
    task_id: int
    contact: Contact
    teammate: str
    channel: str
    queued: SimMinutes
    not_before: SimMinutes
    enrollment: LiveEnrollment | None = None
    token: int = 0
    step_id: str | None = None
    follow_up: bool = False
    edited: bool = False
    flagged: bool = False
    subject: str | None = None
    body: str = ""
    rule_id: int | None = None


@dataclass(slots=True)
class AttentionItem:
    """An item in Needs attention: a draft, a draft failure, a reply or a rule suggestion.

    ``token``: for a draft failure that paused its enrollment, the enrollment's token after
    the pause; the human acts on the enrollment only while it is still that pause.
    """

    item_id: int
    kind: str
    created: SimMinutes
    task_id: int | None = None
    draft_id: int | None = None
    enrollment: LiveEnrollment | None = None
    rule_id: int | None = None
    open: bool = True
    token: int | None = None
