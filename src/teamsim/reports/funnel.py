"""The funnel per message step: due, drafted, approved, sent, and the reactions."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from teamsim.model import (
    DecisionMade,
    EventKind,
    EventRecord,
    MessageCancelled,
    MessageClicked,
    MessageOpened,
    MessageSent,
    ReplyReceived,
    SequenceCreated,
    StepDue,
    TaskStarted,
)
from teamsim.sim import World

__all__ = ["StepFunnel", "step_funnel"]

_APPROVALS = frozenset({"approve", "edit"})


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFunnel:
    """How far one message step's work got: due, drafted, approved, sent, and the reactions.

    ``drafted`` counts tasks (a redraft is not a second one); ``approved_human`` and
    ``approved_rule`` split approvals (edits included) by who gave them.
    """

    sequence: str
    step_id: str
    label: str
    channel: str
    due: int
    drafted: int
    approved_human: int
    approved_rule: int
    sent: int
    opened: int
    clicked: int
    replied: int


def step_funnel(events: Iterable[EventRecord], world: World) -> list[StepFunnel]:
    """The funnel per message step, read off the events, in the world's step order.

    The rule column counts rule approvals that stood: one recalled when its rule was disabled
    (its message cancelled before it went out) is taken back, and the step's redraft counts
    again under due and drafted.
    """
    names: dict[int | None, str] = {}
    task_step: dict[int, tuple[str, str]] = {}
    message_step: dict[int, tuple[str, str]] = {}
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for ev in events:
        kind = ev.type
        sequence = names.get(ev.sequence_id, "")
        if kind == EventKind.SEQUENCE_CREATED:
            names[ev.sequence_id] = SequenceCreated.from_payload(ev.payload).name
        elif kind == EventKind.STEP_DUE:
            counts[(sequence, StepDue.from_payload(ev.payload).step_id)]["due"] += 1
        elif kind == EventKind.TASK_STARTED:
            started = TaskStarted.from_payload(ev.payload)
            if started.step_id is not None and ev.task_id is not None:
                task_step[ev.task_id] = (sequence, started.step_id)
                counts[(sequence, started.step_id)]["drafted"] += 1
        elif kind == EventKind.DECISION_MADE:
            decision = DecisionMade.from_payload(ev.payload)
            step = task_step.get(ev.task_id or 0)
            if decision.action in _APPROVALS and step is not None:
                counts[step]["approved_rule" if decision.by == "rule" else "approved_human"] += 1
        elif kind == EventKind.MESSAGE_CANCELLED:
            # A disabled rule's approval recalled: not the rule's send.
            step = task_step.get(ev.task_id or 0)
            cancelled = MessageCancelled.from_payload(ev.payload)
            if cancelled.recalled_rule_id is not None and step is not None:
                counts[step]["approved_rule"] -= 1
        elif kind == EventKind.MESSAGE_SENT:
            sent = MessageSent.from_payload(ev.payload)
            if sent.step_id is not None:
                message_step[sent.message_id] = (sequence, sent.step_id)
                counts[(sequence, sent.step_id)]["sent"] += 1
        elif kind == EventKind.MESSAGE_OPENED:
            opened = MessageOpened.from_payload(ev.payload)
            if opened.step_id is not None:
                counts[(sequence, opened.step_id)]["opened"] += 1
        elif kind == EventKind.MESSAGE_CLICKED:
            clicked = MessageClicked.from_payload(ev.payload)
            if clicked.step_id is not None:
                counts[(sequence, clicked.step_id)]["clicked"] += 1
        elif kind == EventKind.REPLY_RECEIVED:
            reply = ReplyReceived.from_payload(ev.payload)
            step = message_step.get(reply.message_id or 0)
            if reply.kind == "reply" and step is not None:
                counts[step]["replied"] += 1
    rows: list[StepFunnel] = []
    known: set[tuple[str, str]] = set()
    for seq in world.sequences:
        for message in seq.message_steps():
            known.add((seq.name, message.id))
            rows.append(_funnel_row(seq.name, message.id, message.label, message.channel,
                                    counts.get((seq.name, message.id), Counter())))
    for key in sorted(set(counts) - known):  # steps added by a timeline edit
        rows.append(_funnel_row(key[0], key[1], "", "", counts[key]))
    return rows


def _funnel_row(sequence: str, step_id: str, label: str, channel: str,
                count: Counter[str]) -> StepFunnel:
    return StepFunnel(sequence=sequence, step_id=step_id, label=label, channel=channel,
                      due=count["due"], drafted=count["drafted"],
                      approved_human=count["approved_human"],
                      approved_rule=count["approved_rule"], sent=count["sent"],
                      opened=count["opened"], clicked=count["clicked"],
                      replied=count["replied"])
