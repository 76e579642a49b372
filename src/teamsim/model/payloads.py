"""One typed payload per kind of event: the JSON a run's log stores for it, as a class.

Writers build a payload object (``StepDue(step_id="s1")``) and the store keeps its JSON form
(:meth:`~teamsim.model.Payload.to_payload`); readers turn a stored payload back into its class
with :func:`parse_payload`. Field names and values are exactly the JSON keys and values of
``events.jsonl``, so a change here is a change of the file format (and of every digest): make
it on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from teamsim.model.events import EventKind, JSONValue, Payload, PayloadPart

__all__ = [
    "PAYLOADS",
    "ApproverSessionEnded",
    "ApproverSessionStarted",
    "AttentionOpened",
    "AttentionResolved",
    "BranchTaken",
    "BranchWaiting",
    "DecisionMade",
    "DraftCreated",
    "DraftFailed",
    "EnrollmentCreated",
    "EnrollmentEnded",
    "EnrollmentMoved",
    "EnrollmentPaused",
    "EnrollmentRefused",
    "EnrollmentResumed",
    "MessageCancelled",
    "MessageClicked",
    "MessageOpened",
    "MessageQueued",
    "MessageSent",
    "ReplyReceived",
    "ReviewDone",
    "RuleCheck",
    "RuleSuggested",
    "RuleSwitched",
    "RunEnded",
    "RunStarted",
    "SendLimits",
    "SendWindowLimits",
    "SequenceCatchUp",
    "SequenceCreated",
    "SequenceEdited",
    "SequenceStatusChanged",
    "StepDue",
    "StepParked",
    "StepSkipped",
    "SuggestionHandled",
    "TaskDiscarded",
    "TaskStarted",
    "TaskWithdrawn",
    "WaitDone",
    "WaitStarted",
    "WorkDone",
    "parse_payload",
]


# -- nested parts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SendWindowLimits(PayloadPart):
    """A sequence's sending window as the log records it (ISO local times)."""

    weekdays: tuple[int, ...]
    start: str
    end: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SendLimits(PayloadPart):
    """A sequence's window and daily cap, so the invariants can be audited from events alone."""

    _PARTS: ClassVar[Mapping[str, type[PayloadPart]]] = {"send_window": SendWindowLimits}

    send_window: SendWindowLimits | None
    daily_cap_per_teammate: int | None
    cap_timezone: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleCheck(PayloadPart):
    """What the auto-approve rules said of a draft that landed in Needs attention."""

    rule_id: int | None
    approves: bool
    reason: str


# -- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Payload):
    """The run began: its world, seed, start (ISO, UTC) and length in minutes."""

    KIND = EventKind.RUN_STARTED
    world: str
    seed: int
    start: str
    minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEnded(Payload):
    """The run ended at ``minute``; busy minutes per teammate and the human's minutes."""

    KIND = EventKind.RUN_ENDED
    minute: int
    teammate_busy_minutes: Mapping[str, int]
    human_minutes: float


# -- sequences and rules -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceCreated(Payload):
    """A sequence was stored, with its sending limits."""

    KIND = EventKind.SEQUENCE_CREATED
    _PARTS: ClassVar[Mapping[str, type[PayloadPart]]] = {"send_window": SendWindowLimits}
    name: str
    status: str
    version: int
    send_window: SendWindowLimits | None
    daily_cap_per_teammate: int | None
    cap_timezone: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceEdited(Payload):
    """A sequence was edited by the timeline: the operations and its limits afterwards."""

    KIND = EventKind.SEQUENCE_EDITED
    _PARTS: ClassVar[Mapping[str, type[PayloadPart]]] = {"send_window": SendWindowLimits}
    version: int
    ops: tuple[Mapping[str, JSONValue], ...]
    send_window: SendWindowLimits | None
    daily_cap_per_teammate: int | None
    cap_timezone: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceStatusChanged(Payload):
    """A sequence was paused or activated (logged with ``kind=``: ``sequence.paused`` or
    ``sequence.activated``)."""

    KIND = EventKind.SEQUENCE_PAUSED
    status: str
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceCatchUp(Payload):
    """Steps that fell due while a sequence was paused are released over ``over_minutes``."""

    KIND = EventKind.SEQUENCE_CATCH_UP
    steps: int
    messages: int
    over_minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSwitched(Payload):
    """An auto-approve rule was switched on or off (logged with ``kind=``: ``rule.enabled``
    or ``rule.disabled``), with what its caps need to be audited."""

    KIND = EventKind.RULE_ENABLED
    rule_id: int
    name: str
    max_total: int | None
    max_per_day: int | None
    timezone: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSuggested(Payload):
    """A rule was suggested after the human approved the same routine step in a row."""

    KIND = EventKind.RULE_SUGGESTED
    rule_id: int
    name: str
    sequence: str
    step: str
    channel: str
    teammate: str
    approvals_in_a_row: int
    attention_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SuggestionHandled(Payload):
    """The human accepted or dismissed a rule suggestion."""

    KIND = EventKind.SUGGESTION_HANDLED
    attention_id: int
    rule_id: int
    accepted: bool


# -- enrollments -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollmentCreated(Payload):
    """A contact was enrolled; ``step_id`` is where they start (None: an empty sequence)."""

    KIND = EventKind.ENROLLMENT_CREATED
    step_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollmentRefused(Payload):
    """An enrollment was refused (``reason``), e.g. the contact is already enrolled."""

    KIND = EventKind.ENROLLMENT_REFUSED
    reason: str
    email: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollmentMoved(Payload):
    """An edit moved an enrollment from one step to another."""

    KIND = EventKind.ENROLLMENT_MOVED
    from_: str | None
    to: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollmentPaused(Payload):
    """An enrollment paused (a reply, an out-of-office...) at ``step_id``."""

    KIND = EventKind.ENROLLMENT_PAUSED
    reason: str
    step_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollmentResumed(Payload):
    """A paused enrollment resumed (``by`` whom) at ``step_id``."""

    KIND = EventKind.ENROLLMENT_RESUMED
    by: str
    step_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollmentEnded(Payload):
    """An enrollment finished (logged with ``kind=``: ``enrollment.completed``, or
    ``enrollment.ended`` when it ended early: bounced, unsubscribed, ended by the human)."""

    KIND = EventKind.ENROLLMENT_ENDED
    status: str
    reason: str


# -- walking the steps -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitStarted(Payload):
    """A wait step began: ``minutes`` long, until ``until`` (ISO, UTC)."""

    KIND = EventKind.WAIT_STARTED
    step_id: str
    minutes: int
    until: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitDone(Payload):
    """A wait step ended."""

    KIND = EventKind.WAIT_DONE
    step_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BranchWaiting(Payload):
    """A branch waits for engagement until ``until_minute``."""

    KIND = EventKind.BRANCH_WAITING
    step_id: str
    until_minute: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BranchTaken(Payload):
    """A branch chose its ``arm``."""

    KIND = EventKind.BRANCH_TAKEN
    step_id: str
    arm: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepDue(Payload):
    """A message step fell due for its teammate."""

    KIND = EventKind.STEP_DUE
    step_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepParked(Payload):
    """A due step is held because its sequence is not active (``status``)."""

    KIND = EventKind.STEP_PARKED
    step_id: str
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSkipped(Payload):
    """A step was skipped (its channel cannot reach the contact...)."""

    KIND = EventKind.STEP_SKIPPED
    step_id: str


# -- the pipeline ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStarted(Payload):
    """A pipeline task (a step's draft, or a chat) started on its graph thread."""

    KIND = EventKind.TASK_STARTED
    kind: str
    thread_id: str
    channel: str
    drafter_id: int
    reviewer_id: int
    step_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftCreated(Payload):
    """A teammate wrote a draft (revision ``revision``) in ``minutes``."""

    KIND = EventKind.DRAFT_CREATED
    draft_id: int
    revision: int
    author_id: int
    author: str
    minutes: int
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftFailed(Payload):
    """A teammate's drafter (``stage`` ``draft``) or reviewer (``review``) could not work after
    ``tries``: the task failed, sent nothing, and item ``attention_id`` of Needs attention says
    so."""

    KIND = EventKind.DRAFT_FAILED
    stage: str
    teammate_id: int
    teammate: str
    reason: str
    tries: int
    attention_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewDone(Payload):
    """The peer reviewer gave its verdict on a draft."""

    KIND = EventKind.REVIEW_DONE
    review_id: int
    draft_id: int
    reviewer_id: int
    reviewer: str
    verdict: str
    notes: tuple[str, ...]
    minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkDone(Payload):
    """The teammates were busy with a task for ``minutes``."""

    KIND = EventKind.WORK_DONE
    teammates: tuple[str, ...]
    minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AttentionOpened(Payload):
    """A draft landed in Needs attention, with what the rules said of it."""

    KIND = EventKind.ATTENTION_OPENED
    _PARTS: ClassVar[Mapping[str, type[PayloadPart]]] = {"rule": RuleCheck}
    attention_id: int
    draft_id: int
    flagged: bool
    open_concerns: tuple[str, ...]
    rule: RuleCheck | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AttentionResolved(Payload):
    """A Needs attention item (a reply, a suggestion...) was handled."""

    KIND = EventKind.ATTENTION_RESOLVED
    attention_id: int
    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionMade(Payload):
    """A draft was approved, edited or rejected, by the human or a rule."""

    KIND = EventKind.DECISION_MADE
    decision_id: int
    draft_id: int
    action: str
    by: str
    rule_id: int | None
    note: str
    subject: str | None
    body: str
    redraft: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDiscarded(Payload):
    """A task ended without a message (rejected, out of review rounds...)."""

    KIND = EventKind.TASK_DISCARDED
    draft_id: int
    reason: str
    note: str
    outcome: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskWithdrawn(Payload):
    """An open task was withdrawn (its enrollment paused or ended)."""

    KIND = EventKind.TASK_WITHDRAWN
    reason: str
    attention_id: int | None


# -- messages and replies ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageQueued(Payload):
    """An approved draft became a message in the outbox."""

    KIND = EventKind.MESSAGE_QUEUED
    message_id: int
    draft_id: int
    channel: str
    teammate_id: int
    by: str
    rule_id: int | None
    edited: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageCancelled(Payload):
    """A queued message was cancelled before it went out; ``recalled_rule_id``: the
    auto-approve rule that approved it was switched off (its approval no longer stands)."""

    KIND = EventKind.MESSAGE_CANCELLED
    _OMIT_NONE = frozenset({"recalled_rule_id"})
    message_id: int
    reason: str
    recalled_rule_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSent(Payload):
    """A message went out (``index``: how many the enrollment has had, this one included)."""

    KIND = EventKind.MESSAGE_SENT
    message_id: int
    step_id: str | None
    channel: str
    index: int
    teammate: str
    follow_up: bool
    contact_timezone: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageOpened(Payload):
    """The contact opened a message."""

    KIND = EventKind.MESSAGE_OPENED
    message_id: int
    step_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageClicked(Payload):
    """The contact clicked a link in a message."""

    KIND = EventKind.MESSAGE_CLICKED
    message_id: int
    step_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyReceived(Payload):
    """The contact answered (``kind``: reply, out of office, bounce, unsubscribe...)."""

    KIND = EventKind.REPLY_RECEIVED
    _OMIT_NONE = frozenset({"reply_id", "attention_id"})
    kind: str
    reply_id: int | None = None
    message_id: int
    attention_id: int | None = None


# -- the human ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproverSessionStarted(Payload):
    """The human opened Needs attention with ``open_items`` waiting."""

    KIND = EventKind.APPROVER_SESSION_STARTED
    open_items: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproverSessionEnded(Payload):
    """The human closed Needs attention after handling ``handled`` items in ``minutes``."""

    KIND = EventKind.APPROVER_SESSION_ENDED
    handled: int
    minutes: float


PAYLOADS: Mapping[EventKind, type[Payload]] = {
    **{cls.KIND: cls for cls in (
        RunStarted, RunEnded, SequenceCreated, SequenceEdited, SequenceCatchUp, RuleSuggested,
        SuggestionHandled, EnrollmentCreated, EnrollmentRefused, EnrollmentMoved,
        EnrollmentPaused, EnrollmentResumed, WaitStarted, WaitDone, BranchWaiting, BranchTaken,
        StepDue, StepParked, StepSkipped, TaskStarted, DraftCreated, DraftFailed, ReviewDone,
        WorkDone,
        AttentionOpened, AttentionResolved, DecisionMade, TaskDiscarded, TaskWithdrawn,
        MessageQueued, MessageCancelled, MessageSent, MessageOpened, MessageClicked,
        ReplyReceived, ApproverSessionStarted, ApproverSessionEnded)},
    # the classes that serve two kinds (the kind is given when the event is logged)
    EventKind.SEQUENCE_PAUSED: SequenceStatusChanged,
    EventKind.SEQUENCE_ACTIVATED: SequenceStatusChanged,
    EventKind.RULE_ENABLED: RuleSwitched,
    EventKind.RULE_DISABLED: RuleSwitched,
    EventKind.ENROLLMENT_COMPLETED: EnrollmentEnded,
    EventKind.ENROLLMENT_ENDED: EnrollmentEnded,
}
"""The payload class of every event kind (every kind has one)."""



def parse_payload(kind: str | EventKind, data: Mapping[str, JSONValue]) -> Payload:
    """The typed payload of an event of ``kind`` stored as ``data``.

    Raises:
        ValueError: ``kind`` is not a kind of the vocabulary, or ``data`` is not a payload
            of that kind (an unknown key, a missing one).
    """
    return PAYLOADS[EventKind(kind)].from_payload(data)
