"""A run as pandas DataFrames: events, messages, Needs attention, the funnel, metrics.

Every time is a timezone-aware timestamp in the scenario's time zone; ids are nullable
integers (``Int64``), flags ``boolean``, text ``string``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

import pandas as pd

from teamsim.llm import MODEL_METRICS
from teamsim.model import (
    DecisionMade,
    EventKind,
    EventRecord,
    MessageCancelled,
    MessageQueued,
    MessageSent,
    ReplyReceived,
    SequenceCreated,
)
from teamsim.notebook._source import RunData, RunInput, opened
from teamsim.reports import step_funnel
from teamsim.sim import METRICS

__all__ = [
    "attention_frame",
    "events_frame",
    "expectations_frame",
    "funnel_frame",
    "messages_frame",
    "metrics_frame",
    "timestamps",
    "typed",
]

_BASE = ("seq", "at", "minute", "day", "type", "sequence", "sequence_id", "enrollment_id",
         "contact_id", "task_id")


def timestamps(values: Iterable[datetime | None], zone: str) -> pd.Series:
    """Aware date-times (``None`` for missing) as timestamps in ``zone``."""
    return pd.Series(pd.to_datetime(list(values), utc=True)).dt.tz_convert(zone)


def typed(values: list[Any]) -> pd.Series:
    """Python values as a column with a pandas dtype that fits them: ``boolean``, ``Int64``,
    ``Float64`` or ``string`` (``None`` is missing); mixed or nested values stay ``object``."""
    kinds = {type(v) for v in values if v is not None}
    dtype = "object"
    if kinds == {bool}:
        dtype = "boolean"
    elif kinds == {int}:
        dtype = "Int64"
    elif kinds and kinds <= {int, float}:
        dtype = "Float64"
    elif kinds == {str}:
        dtype = "string"
    if dtype == "object":
        column = pd.Series([None] * len(values), dtype="object")
        for index, value in enumerate(values):
            column.iat[index] = value
        return column
    return pd.Series(values, dtype=dtype)


def _flatten(payload: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and all(isinstance(k, str) for k in value):
            flat.update(_flatten(value, name + "."))
        elif isinstance(value, list):
            flat[name] = tuple(value)
        else:
            flat[name] = value
    return flat


def _sequence_names(events: Iterable[EventRecord]) -> dict[int | None, str]:
    return {e.sequence_id: SequenceCreated.from_payload(e.payload).name
            for e in events if e.type == EventKind.SEQUENCE_CREATED}


def events_frame(run: RunInput) -> pd.DataFrame:
    """One row per event, in log order.

    Columns: ``seq``; ``at`` (timestamp in the scenario's zone); ``minute`` and ``day``
    (simulated minutes and whole days since the start); ``type``; ``sequence`` (its name);
    the ids; then every payload field, flattened (a nested object's fields as ``rule.approves``,
    lists as tuples), empty where an event has no such field.
    """
    with opened(run) as data:
        events = data.events()
        names = _sequence_names(events)
        start = data.start
        columns: dict[str, list[Any]] = {name: [] for name in _BASE if name != "at"}
        for index, e in enumerate(events):
            minute = round((e.at - start).total_seconds() / 60)
            row = {"seq": e.seq, "minute": minute, "day": minute // 1440, "type": e.type,
                   "sequence": names.get(e.sequence_id), "sequence_id": e.sequence_id,
                   "enrollment_id": e.enrollment_id, "contact_id": e.contact_id,
                   "task_id": e.task_id}
            row.update((k, v) for k, v in _flatten(e.payload).items() if k not in row)
            for key, value in row.items():
                column = columns.get(key)
                if column is None:
                    column = columns[key] = [None] * index
                column.append(value)
            for column in columns.values():
                if len(column) <= index:
                    column.append(None)
        frame = pd.DataFrame({name: typed(values) for name, values in columns.items()})
        for name in ("sequence_id", "enrollment_id", "contact_id", "task_id"):
            frame[name] = frame[name].astype("Int64")
        frame["sequence"] = frame["sequence"].astype("string")
        frame.insert(1, "at", timestamps((e.at for e in events), data.timezone))
        frame["seq"] = frame["seq"].astype("int64")  # never missing
        frame["minute"] = frame["minute"].astype("int64")
        frame["day"] = frame["day"].astype("int64")
        frame["type"] = frame["type"].astype("category")
        return frame


def _step_labels(data: RunData) -> dict[tuple[str, str], str]:
    return {(seq.name, step.id): step.label for seq in data.world.sequences
            for step in seq.message_steps() if step.id is not None}


def messages_frame(run: RunInput) -> pd.DataFrame:
    """One row per approved message (sent, still queued, or cancelled), in queue order.

    Columns: ``message_id``, ``task_id``, ``enrollment_id``, ``contact_id``, ``contact``
    (email), ``contact_name``, ``sequence``, ``step_id``, ``step`` (label), ``channel``,
    ``teammate``, ``approved_by`` (``human`` or ``rule``), ``edited``, ``approval``
    (``human``, ``human edited`` or ``rule``), ``status`` (``sent``, ``queued``,
    ``cancelled``), ``cancel_reason``, ``subject``, ``body``, and the times ``queued_at``,
    ``sent_at``, ``opened_at``, ``clicked_at``, ``replied_at`` (the first reply; an
    out-of-office note, bounce or unsubscribe is ``reaction`` at ``reaction_at``).
    """
    with opened(run) as data:
        events = data.events()
        names = _sequence_names(events)
        labels = _step_labels(data)
        with data.unit_of_work() as uow:
            contacts = {c.id: c for c in uow.contacts.list()}
            teammates = {t.id: t.name for t in uow.teammates.list()}
            texts = {m.id: m for m in uow.messages.list()}
        rows: dict[int, dict[str, Any]] = {}
        for e in events:
            kind = e.type
            if kind == EventKind.MESSAGE_QUEUED:
                q = MessageQueued.from_payload(e.payload)
                contact = contacts.get(e.contact_id or -1)
                stored = texts.get(q.message_id)
                rows[q.message_id] = {
                    "message_id": q.message_id, "task_id": e.task_id,
                    "enrollment_id": e.enrollment_id, "contact_id": e.contact_id,
                    "contact": None if contact is None else contact.email,
                    "contact_name": None if contact is None else contact.name,
                    "sequence": names.get(e.sequence_id),
                    "step_id": None if stored is None else stored.step_id, "step": None,
                    "channel": q.channel, "teammate": teammates.get(q.teammate_id),
                    "approved_by": q.by, "edited": q.edited,
                    "approval": "rule" if q.by == "rule" else
                    ("human edited" if q.edited else "human"),
                    "status": "queued", "cancel_reason": None,
                    "subject": None if stored is None else stored.subject,
                    "body": None if stored is None else stored.body,
                    "queued_at": e.at, "sent_at": None, "opened_at": None, "clicked_at": None,
                    "replied_at": None, "reaction": None, "reaction_at": None}
                continue
            message_id = e.payload.get("message_id") if kind in _MESSAGE_KINDS else None
            row = rows.get(message_id) if isinstance(message_id, int) else None
            if row is None:
                continue
            if kind == EventKind.MESSAGE_SENT:
                sent = MessageSent.from_payload(e.payload)
                row.update(status="sent", sent_at=e.at, step_id=sent.step_id,
                           teammate=sent.teammate)
            elif kind == EventKind.MESSAGE_CANCELLED:
                row.update(status="cancelled",
                           cancel_reason=MessageCancelled.from_payload(e.payload).reason)
            elif kind == EventKind.MESSAGE_OPENED and row["opened_at"] is None:
                row["opened_at"] = e.at
            elif kind == EventKind.MESSAGE_CLICKED and row["clicked_at"] is None:
                row["clicked_at"] = e.at
            elif kind == EventKind.REPLY_RECEIVED:
                reply = ReplyReceived.from_payload(e.payload)
                if reply.kind == "reply":
                    if row["replied_at"] is None:
                        row["replied_at"] = e.at
                elif row["reaction"] is None:
                    row.update(reaction=reply.kind, reaction_at=e.at)
        for row in rows.values():
            if row["sequence"] is not None and row["step_id"] is not None:
                row["step"] = labels.get((row["sequence"], row["step_id"]))
        return _frame(list(rows.values()), _MESSAGE_COLUMNS, data.timezone)


_MESSAGE_KINDS = frozenset({EventKind.MESSAGE_SENT, EventKind.MESSAGE_CANCELLED,
                            EventKind.MESSAGE_OPENED, EventKind.MESSAGE_CLICKED,
                            EventKind.REPLY_RECEIVED})
_MESSAGE_COLUMNS: dict[str, str] = {
    **dict.fromkeys(("message_id", "task_id", "enrollment_id", "contact_id"), "Int64"),
    **dict.fromkeys(("contact", "contact_name", "sequence", "step_id", "step", "channel",
                     "teammate", "approved_by"), "string"),
    "edited": "boolean",
    **dict.fromkeys(("approval", "status", "cancel_reason", "subject", "body"), "string"),
    **dict.fromkeys(("queued_at", "sent_at", "opened_at", "clicked_at", "replied_at"), "time"),
    "reaction": "string", "reaction_at": "time"}


def _frame(rows: list[dict[str, Any]], columns: Mapping[str, str], zone: str) -> pd.DataFrame:
    """Rows as a frame of ``columns`` (name: dtype; ``time``: a timestamp in ``zone``)."""
    data: dict[str, pd.Series] = {}
    for name, dtype in columns.items():
        values = [row[name] for row in rows]
        if dtype == "time":
            data[name] = timestamps(values, zone)
        else:
            data[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data, columns=list(columns))


def attention_frame(run: RunInput) -> pd.DataFrame:
    """Every Needs attention item, oldest first, with its latency.

    Columns: ``item_id``, ``kind`` (``draft``, ``reply``, ``rule_suggestion``,
    ``draft_failure``), ``status`` (``open``, ``resolved``, ``withdrawn``), ``task_id``,
    ``contact_id``, ``contact``, ``sequence``, ``step_id``, ``flagged``, ``decision`` (the
    human's action on a draft: ``approve``, ``edit``, ``reject``), ``created_at``,
    ``resolved_at`` and ``latency_hours`` (from arriving to being handled; empty while open).
    """
    with opened(run) as data:
        decisions: dict[int, list[str]] = defaultdict(list)
        for e in data.events():
            if e.type == EventKind.DECISION_MADE and e.task_id is not None:
                decision = DecisionMade.from_payload(e.payload)
                if decision.by == "human":
                    decisions[e.task_id].append(decision.action)
        with data.unit_of_work() as uow:
            items = uow.attention.list(None)
            contacts = {c.id: c for c in uow.contacts.list()}
        taken: dict[int, int] = defaultdict(int)
        rows: list[dict[str, Any]] = []
        for item in items:
            p = item.payload
            contact_id = _contact_id(p)
            contact = contacts.get(contact_id) if contact_id is not None else None
            decision_of: str | None = None
            if item.kind == "draft" and item.task_id is not None and item.status == "resolved":
                made = decisions.get(item.task_id, [])
                index = taken[item.task_id]
                if index < len(made):
                    decision_of = made[index]
                    taken[item.task_id] += 1
            latency = None if item.resolved_at is None else \
                (item.resolved_at - item.created_at).total_seconds() / 3600
            sequence = p.get("sequence")
            step = p.get("step")
            rows.append({
                "item_id": item.id, "kind": item.kind, "status": item.status,
                "task_id": item.task_id, "contact_id": contact_id,
                "contact": None if contact is None else contact.email,
                "sequence": sequence.get("name") if isinstance(sequence, dict) else sequence,
                "step_id": step.get("id") if isinstance(step, dict) else None,
                "flagged": bool(p.get("flagged")) if item.kind == "draft" else None,
                "decision": decision_of, "created_at": item.created_at,
                "resolved_at": item.resolved_at, "latency_hours": latency})
        return _frame(rows, _ATTENTION_COLUMNS, data.timezone)


_ATTENTION_COLUMNS: dict[str, str] = {
    "item_id": "Int64", "kind": "string", "status": "string", "task_id": "Int64",
    "contact_id": "Int64", "contact": "string", "sequence": "string", "step_id": "string",
    "flagged": "boolean", "decision": "string", "created_at": "time", "resolved_at": "time",
    "latency_hours": "Float64"}


def _contact_id(payload: Mapping[str, Any]) -> int | None:
    contact = payload.get("contact")
    if isinstance(contact, dict):
        contact = contact.get("id")
    return contact if isinstance(contact, int) and not isinstance(contact, bool) else None


def funnel_frame(run: RunInput) -> pd.DataFrame:
    """The funnel per message step (what ``teamsim run`` prints): one row per step with
    ``sequence``, ``step_id``, ``label``, ``channel``, ``due``, ``drafted``,
    ``approved_human``, ``approved_rule``, ``sent``, ``opened``, ``clicked``, ``replied``."""
    with opened(run) as data:
        rows = [asdict(row) for row in step_funnel(data.events(), data.world)]
        frame = pd.DataFrame.from_records(rows, columns=_FUNNEL_COLUMNS)
        for column in _FUNNEL_COLUMNS[:4]:
            frame[column] = frame[column].astype("string")
        for column in _FUNNEL_COLUMNS[4:]:
            frame[column] = frame[column].astype("int64")
        return frame


_FUNNEL_COLUMNS = ("sequence", "step_id", "label", "channel", "due", "drafted",
                   "approved_human", "approved_rule", "sent", "opened", "clicked", "replied")


_ABOUT: Mapping[str, str] = {**METRICS, **MODEL_METRICS}


def metrics_frame(run: RunInput) -> pd.DataFrame:
    """Every numeric metric, in the order of the README's tables: ``metric``, ``value``
    (float) and ``description``."""
    with opened(run) as data:
        known = [name for name in _ABOUT if name in data.metrics]
        names = known + sorted(set(data.metrics) - set(known))
        rows = [{"metric": name, "value": float(value), "description": _ABOUT.get(name, "")}
                for name in names for value in (data.metrics[name],)
                if isinstance(value, int | float) and not isinstance(value, bool)]
        frame = pd.DataFrame.from_records(rows, columns=["metric", "value", "description"])
        frame["metric"] = frame["metric"].astype("string")
        frame["value"] = frame["value"].astype("float64")
        frame["description"] = frame["description"].astype("string")
        return frame


def expectations_frame(run: RunInput) -> pd.DataFrame:
    """The scenario's expectations, checked: ``metric``, ``expected``, ``actual``,
    ``passed``."""
    with opened(run) as data:
        frame = pd.DataFrame.from_records(
            [{"metric": e.metric, "expected": e.expected, "actual": e.actual,
              "passed": e.passed} for e in data.expectations],
            columns=["metric", "expected", "actual", "passed"])
        frame["metric"] = frame["metric"].astype("string")
        frame["expected"] = frame["expected"].astype("string")
        frame["passed"] = frame["passed"].astype("bool")
        return frame
