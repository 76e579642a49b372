"""The event vocabulary: every kind of event a run records, the base of their typed payloads
(one class per kind, in :mod:`teamsim.model.payloads`) and the log's record.

The event log is the run's record and its digest. Writers build a payload object
(``StepDue(step_id="s1")``) and the store keeps its JSON form (:meth:`Payload.to_payload`);
readers turn a stored payload back into its class with
:func:`~teamsim.model.payloads.parse_payload`.

Ids in payloads are the run's own (``draft_id``, ``message_id``...). Times are ISO strings or
simulated minutes, as each field says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

__all__ = [
    "EventKind",
    "EventRecord",
    "JSONValue",
    "Payload",
    "PayloadPart",
    "RunMeta",
]

JSONValue = Any
"""A value as JSON holds it (str, int, float, bool, None, lists and objects of these)."""


class EventKind(StrEnum):
    """Every kind of event in a run's log; the value is the ``type`` written to the log."""

    RUN_STARTED = "run.started"
    RUN_ENDED = "run.ended"
    SEQUENCE_CREATED = "sequence.created"
    SEQUENCE_EDITED = "sequence.edited"
    SEQUENCE_PAUSED = "sequence.paused"
    SEQUENCE_ACTIVATED = "sequence.activated"
    SEQUENCE_CATCH_UP = "sequence.catch_up"
    RULE_ENABLED = "rule.enabled"
    RULE_DISABLED = "rule.disabled"
    RULE_SUGGESTED = "rule.suggested"
    SUGGESTION_HANDLED = "suggestion.handled"
    ENROLLMENT_CREATED = "enrollment.created"
    ENROLLMENT_REFUSED = "enrollment.refused"
    ENROLLMENT_MOVED = "enrollment.moved"
    ENROLLMENT_PAUSED = "enrollment.paused"
    ENROLLMENT_RESUMED = "enrollment.resumed"
    ENROLLMENT_COMPLETED = "enrollment.completed"
    ENROLLMENT_ENDED = "enrollment.ended"
    WAIT_STARTED = "wait.started"
    WAIT_DONE = "wait.done"
    BRANCH_WAITING = "branch.waiting"
    BRANCH_TAKEN = "branch.taken"
    STEP_DUE = "step.due"
    STEP_PARKED = "step.parked"
    STEP_SKIPPED = "step.skipped"
    TASK_STARTED = "task.started"
    DRAFT_CREATED = "draft.created"
    DRAFT_FAILED = "draft.failed"
    REVIEW_DONE = "review.done"
    WORK_DONE = "work.done"
    ATTENTION_OPENED = "attention.opened"
    ATTENTION_RESOLVED = "attention.resolved"
    DECISION_MADE = "decision.made"
    TASK_DISCARDED = "task.discarded"
    TASK_WITHDRAWN = "task.withdrawn"
    MESSAGE_QUEUED = "message.queued"
    MESSAGE_CANCELLED = "message.cancelled"
    MESSAGE_SENT = "message.sent"
    MESSAGE_OPENED = "message.opened"
    MESSAGE_CLICKED = "message.clicked"
    REPLY_RECEIVED = "reply.received"
    APPROVER_SESSION_STARTED = "approver.session_started"
    APPROVER_SESSION_ENDED = "approver.session_ended"


def _json(value: Any) -> JSONValue:
    """``value`` as JSON data: nested payload parts as objects, tuples as lists."""
    if isinstance(value, PayloadPart):
        return value.to_payload()
    if isinstance(value, tuple | list):
        return [_json(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _json(item) for key, item in value.items()}
    return value


class PayloadPart:
    """A typed piece of a payload; its fields are the JSON object's keys."""

    __slots__ = ()
    _OMIT_NONE: ClassVar[frozenset[str]] = frozenset()  # keys left out when None
    _PARTS: ClassVar[Mapping[str, type[PayloadPart]]] = {}  # attributes holding nested parts

    @classmethod
    def _keys(cls) -> tuple[tuple[str, str], ...]:
        """(attribute, JSON key) pairs: a trailing underscore (``from_``) is not in the key."""
        keys: tuple[tuple[str, str], ...] | None = cls.__dict__.get("_keys_cache")
        if keys is None:
            fields = dataclasses.fields(cls)  # type: ignore[arg-type]
            keys = tuple((f.name, f.name.rstrip("_")) for f in fields)
            type.__setattr__(cls, "_keys_cache", keys)
        return keys

    def to_payload(self) -> dict[str, JSONValue]:
        """The JSON object the event log stores for this value."""
        omit = self._OMIT_NONE
        out: dict[str, JSONValue] = {}
        for name, key in self._keys():
            value = getattr(self, name)
            if value is None and key in omit:
                continue
            out[key] = _json(value)
        return out

    @classmethod
    def from_payload(cls, data: Mapping[str, JSONValue]) -> Self:
        """The value stored as ``data`` (the inverse of :meth:`to_payload`).

        Raises:
            ValueError: ``data`` has a key the class does not know, or lacks one it needs.
        """
        values: dict[str, Any] = {}
        keys = cls._keys()
        for name, key in keys:
            if key not in data:
                continue
            raw = data[key]
            part = cls._PARTS.get(name)
            if part is not None and raw is not None:
                raw = part.from_payload(raw)
            elif isinstance(raw, list):
                raw = tuple(raw)
            values[name] = raw
        if len(values) != len(data):
            unknown = sorted(set(data) - {key for _, key in keys})
            raise ValueError(f"{cls.__name__}: unknown payload keys {unknown}")
        try:
            return cls(**values)
        except TypeError as error:  # a required field is missing
            raise ValueError(f"{cls.__name__}: {error}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Payload(PayloadPart):
    """The typed payload of one event kind; ``KIND`` names it."""

    KIND: ClassVar[EventKind]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """One entry of the event log, ``seq`` 1, 2, 3... in append order.

    ``type`` is an :class:`EventKind` value; :func:`parse_payload` gives ``payload`` its class.
    """

    seq: int
    at: datetime
    type: str
    sequence_id: int | None = None
    enrollment_id: int | None = None
    contact_id: int | None = None
    task_id: int | None = None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunMeta:
    """What a run records about itself beside its events (the store's ``meta`` table).

    Replaces the string keys ``run.world``, ``run.seed``, ``run.start``, ``run.tick_minutes``
    and ``run.human_timezone``.
    """

    world: str
    seed: int
    start: str
    tick_minutes: int
    human_timezone: str
