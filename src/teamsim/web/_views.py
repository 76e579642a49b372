"""What the pages show, read off a run in flight: typed values the templates render.

Every function here reads through the run's unit of work and writes nothing. Text from the run
(drafts, replies, names) is passed on as it is: the templates escape it (Jinja2 autoescape).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from teamsim.model import BranchStep, EventRecord, MessageStep, WaitStep
from teamsim.reports import StepFunnel, preview, step_funnel
from teamsim.reports.diagnose import diagnose, render_lines
from teamsim.reports.inbox import read_item
from teamsim.sim import HumanAction, World, actions_for
from teamsim.store import AttentionItem, UnitOfWork

__all__ = [
    "AttentionView",
    "EventView",
    "SequenceView",
    "StepView",
    "ThreadEntry",
    "attention_views",
    "checklist",
    "event_views",
    "sequence_views",
    "stamp",
]


def stamp(moment: datetime | None) -> str:
    """A moment as the pages show it (UTC, to the minute)."""
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadEntry:
    """One message of a conversation: ``out`` (sent to the person) or ``in`` (a reply)."""

    direction: str
    at: str
    subject: str | None
    body: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AttentionView:
    """One open Needs attention item as the page shows it."""

    id: int
    kind: str
    since: str
    actions: tuple[HumanAction, ...]
    contact: str = ""
    sequence: str = ""
    step: str = ""
    channel: str = ""
    drafter: str = ""
    reviewer: str = ""
    subject: str | None = None
    body: str = ""
    verdicts: tuple[str, ...] = ()
    concerns: tuple[str, ...] = ()
    flagged: bool = False
    thread: tuple[ThreadEntry, ...] = ()
    answers: ThreadEntry | None = None
    rule: str = ""
    preview: tuple[str, ...] = ()


def attention_views(uow: UnitOfWork, at: datetime, timezone: str) -> list[AttentionView]:
    """The open Needs attention items, oldest first, with what the person needs to decide."""
    return [_view(uow, item, at, timezone) for item in uow.attention.list("open")]


def _thread(uow: UnitOfWork, contact_id: int | None, sequence_id: int | None,
            ) -> tuple[ThreadEntry, ...]:
    if contact_id is None:
        return ()
    entries: list[tuple[datetime, ThreadEntry]] = []
    for m in uow.messages.thread(contact_id, sequence_id):
        if m.sent_at is not None:
            entries.append((m.sent_at, ThreadEntry(direction="out", at=stamp(m.sent_at),
                                                   subject=m.subject, body=m.body)))
    for r in uow.replies.list(contact_id=contact_id):
        entries.append((r.received_at, ThreadEntry(direction="in", at=stamp(r.received_at),
                                                   subject=None, body=r.body)))
    entries.sort(key=lambda pair: pair[0])
    return tuple(entry for _, entry in entries)


def _view(uow: UnitOfWork, item: AttentionItem, at: datetime, timezone: str) -> AttentionView:
    """The item as :func:`teamsim.reports.inbox.read_item` reads it, with the conversation
    so far, the message a reply answers and a suggested rule's preview."""
    r = read_item(uow, item)
    view = AttentionView(id=r.item_id, kind=r.kind, since=stamp(r.since),
                         actions=actions_for(r.kind))
    if r.kind in ("draft", "draft_failure"):
        view = replace(view, contact=r.contact, sequence=r.sequence, step=r.step,
                       channel=r.channel, drafter=r.drafter, reviewer=r.reviewer, body=r.text,
                       thread=_thread(uow, r.contact_id, r.sequence_id))
    if r.kind == "draft":
        verdicts = tuple(
            f"round {int(review.get('revision', 0)) + 1}: {review.get('verdict', '?')}"
            + (": " + "; ".join(map(str, review.get("notes") or []))
               if review.get("notes") else "")
            for review in r.reviews)
        view = replace(view, subject=r.subject, verdicts=verdicts, flagged=r.flagged,
                       concerns=r.concerns)
    elif r.kind == "reply":
        answers = None
        if r.message_id is not None:
            m = uow.messages.get(r.message_id)
            answers = ThreadEntry(direction="out", at=stamp(m.sent_at), subject=m.subject,
                                  body=m.body)
        view = replace(view, contact=r.contact, sequence=r.sequence, body=r.text,
                       answers=answers, thread=_thread(uow, r.contact_id, r.sequence_id))
    elif r.kind == "rule_suggestion":
        lines: tuple[str, ...] = ()
        if r.rule_id is not None:
            found = preview(uow, uow.rules.get(r.rule_id), at=at, timezone=timezone)
            lines = (f"{found.reached_gate} drafts reached the approval gate; it would have "
                     f"approved {len(found.past)} of the decided ones "
                     f"({len(found.past_capped)} stopped by its caps) and would approve "
                     f"{len(found.waiting)} of those waiting now "
                     f"({len(found.waiting_capped)} stopped by its caps).",
                     *(f"would approve: {d.contact} · {d.sequence} / {d.step_id} "
                       f"{d.step_label} · {d.channel} · by {d.teammate}"
                       for d in found.waiting[:10]))
        view = replace(view, rule=r.rule, preview=lines,
                       body=f"{r.approvals_in_a_row} approvals in a row without edits; the "
                            "rule starts switched off and approves nothing until you accept "
                            "it.")
    return view


@dataclass(frozen=True, slots=True, kw_only=True)
class StepView:
    """One step of a sequence, as the step list shows it."""

    id: str
    kind: str
    text: str
    depth: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceView:
    """A sequence as the toolbar lists it."""

    id: int
    name: str
    status: str
    version: int
    steps: tuple[StepView, ...]
    people: dict[str, int] = field(default_factory=dict)

    @property
    def step_count(self) -> int:
        """How many steps the sequence has (branches' steps included)."""
        return len(self.steps)


def _steps(steps: list[Any], depth: int = 0) -> list[StepView]:
    out: list[StepView] = []
    for step in steps:
        if isinstance(step, MessageStep):
            text = f"{step.channel} message" + (f": {step.label}" if step.label else "")
        elif isinstance(step, WaitStep):
            text = f"wait {step.days:g} d {step.hours:g} h" + (
                f": {step.label}" if step.label else "")
        elif isinstance(step, BranchStep):
            text = f"branch on {step.condition.kind}" + (
                f": {step.label}" if step.label else "")
        else:
            text = str(getattr(step, "label", ""))
        out.append(StepView(id=step.id, kind=step.kind, text=text, depth=depth))
        if isinstance(step, BranchStep):
            out += _steps(step.then_steps, depth + 1)
            out += _steps(step.else_steps, depth + 1)
    return out


def sequence_views(uow: UnitOfWork) -> list[SequenceView]:
    """Every sequence, with its steps and how many people are where."""
    views = []
    for seq in uow.sequences.list():
        if seq.id is None:
            continue
        people = Counter(e.status.value for e in uow.enrollments.list(sequence_id=seq.id))
        views.append(SequenceView(id=seq.id, name=seq.name, status=seq.status.value,
                                  version=seq.version, steps=tuple(_steps(seq.steps)),
                                  people=dict(sorted(people.items()))))
    return views


def checklist(uow: UnitOfWork, sequence: str, contact: str | None, at: datetime) -> list[str]:
    """The "Why isn't it sending?" checklist for a sequence (or one person on it), as lines.

    Raises:
        TeamsimError: the sequence or the person is unknown (the message says which).
    """
    return render_lines(diagnose(uow, sequence, contact or None, at=at))


@dataclass(frozen=True, slots=True, kw_only=True)
class EventView:
    """One event of the log."""

    seq: int
    at: str
    type: str
    contact_id: int | None
    payload: str


def event_views(events: list[EventRecord], contact_id: int | None,
                limit: int = 500) -> tuple[list[EventView], int]:
    """The last ``limit`` events (only ``contact_id``'s, if given), newest last, and how many
    matched."""
    chosen = [e for e in events if contact_id is None or e.contact_id == contact_id]
    return ([EventView(seq=e.seq, at=stamp(e.at), type=e.type, contact_id=e.contact_id,
                       payload=json.dumps(e.payload, sort_keys=True, ensure_ascii=False))
             for e in chosen[-limit:]], len(chosen))


def funnel(events: list[EventRecord], world: World) -> list[StepFunnel]:
    """The funnel per message step so far."""
    return step_funnel(events, world)
