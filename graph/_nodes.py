"""The per-task work of the graph: what one task's state holds, and the draft, review, gate,
send and discard steps applied to one task.

The graph (:mod:`teamsim.graph._graph`) runs these over every task of its batch, in order;
this module knows nothing of batches. A task's state holds ids and the current draft text
only, and its ``stage`` says which node works it next; everything heavy (the sequence, the
contact, the agents, the unit of work, the simulated ``at``) is in its :class:`ItemWork`,
which is never checkpointed. The steps write through the unit of work.

The gate is the only node that can run twice for one piece of work (LangGraph re-runs it from
its top on resume), so it writes nothing before ``interrupt()``: the attention item is written
by the driver from the interrupt payload (:func:`attention_payload`), and the decision is
written by :func:`decide` after ``interrupt()`` returns, which happens once per accepted
resume.

A drafter or reviewer that cannot work (it raises :class:`~teamsim.agents.AgentFailure`, or
any other exception, taken as one try) ends its task: :func:`draft` or :func:`review` raises
:class:`TaskFailed` before writing anything, and the node drops the task from the batch for
the driver to record the failure; the batch's other tasks go on. The requests the agents see
are built by :func:`draft_request` and :func:`review_request` only, which the concurrent calls
(:meth:`Pipeline.prefetch`, the batch nodes' waves) use too, so a call made ahead of time is
the very call the node makes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict, TypeVar

from teamsim.agents import (
    AgentFailure,
    Draft,
    DraftRequest,
    Review,
    ReviewRequest,
    ThreadMessage,
    Verdict,
)
from teamsim.graph._ports import PipelineStore
from teamsim.graph._team import TeamMember
from teamsim.graph._types import (
    ApprovalRequest,
    HumanDecision,
    PipelineConfig,
    RuleEvaluator,
    WorkKind,
    WorkSegment,
)
from teamsim.model import (
    Contact,
    DecisionMade,
    DraftCreated,
    MessageQueued,
    MessageStep,
    Payload,
    PipelineError,
    ReviewDone,
    Sequence,
    TaskDiscarded,
    TeamsimError,
)

__all__ = [
    "ItemWork",
    "Stage",
    "TaskFailed",
    "TaskInfo",
    "TaskState",
    "attention_payload",
    "decide",
    "decided",
    "discard",
    "draft",
    "draft_request",
    "human_decision",
    "initial_state",
    "review",
    "review_request",
    "rule_decision",
    "send",
]

_R = TypeVar("_R")


Stage = Literal["draft", "review", "gate", "send", "discard"]
"""Which node works a task next (``gate``: it waits for a rule or the human)."""


class TaskState(TypedDict):
    """The checkpointed state of one task: ids, counters and the current draft text."""

    task_id: int
    stage: Stage
    revision: int  # revision number of the current draft; -1 before the first
    draft_id: int
    subject: str | None
    body: str
    rounds: int  # reviews done in this approval round
    reviews: list[dict[str, Any]]  # this approval round's reviews (for the attention payload)
    notes: list[str]  # what the next draft must address (reviewer's reasons or human's note)
    concerns: list[str]  # the last review's open concerns ([] when it passed)
    rule: dict[str, Any] | None  # the rule consulted for this approval round
    redrafted: bool  # a human rejection already sent the draft back once
    decision: dict[str, Any] | None


def initial_state(task_id: int) -> TaskState:
    """The state a new task starts from (to be drafted)."""
    return TaskState(
        task_id=task_id, stage="draft", revision=-1, draft_id=0, subject=None, body="",
        rounds=0, reviews=[], notes=[], concerns=[], rule=None, redrafted=False, decision=None,
    )


def _changed(state: TaskState, **changes: Any) -> TaskState:
    """A copy of the task state with ``changes``."""
    return {**state, **changes}  # type: ignore[typeddict-item]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskInfo:
    """What a task works on; kept by the driver, handed to the graph as context."""

    task_id: int
    kind: Literal["step", "chat"]
    thread_id: str
    contact: Contact
    channel: str
    brief: str
    drafter: TeamMember
    drafter_id: int
    reviewer: TeamMember
    reviewer_id: int
    enrollment_id: int | None = None
    sequence: Sequence | None = None
    step: MessageStep | None = None
    step_index: int = 0
    thread: tuple[ThreadMessage, ...] = ()

    @property
    def contact_id(self) -> int:
        """The contact's id (contacts reach the pipeline stored)."""
        if self.contact.id is None:
            raise PipelineError(f"contact {self.contact.email!r} reached the pipeline unstored")
        return self.contact.id

    @classmethod
    def for_step(
        cls, *, task_id: int, thread_id: str, sequence: Sequence, step: MessageStep,
        contact: Contact, drafter: TeamMember, drafter_id: int, reviewer: TeamMember,
        reviewer_id: int, enrollment_id: int | None, thread: tuple[ThreadMessage, ...],
    ) -> TaskInfo:
        """The task of a due message ``step`` (the one way to build it: the pipeline's
        prefetch builds the same task, so it asks the agents the same)."""
        index = next((i for i, s in enumerate(sequence.message_steps()) if s.id == step.id), 0)
        return cls(
            task_id=task_id, kind="step", thread_id=thread_id, contact=contact,
            channel=step.channel, brief=step.brief, drafter=drafter, drafter_id=drafter_id,
            reviewer=reviewer, reviewer_id=reviewer_id, enrollment_id=enrollment_id,
            sequence=sequence, step=step, step_index=index, thread=thread,
        )


@dataclass(slots=True, kw_only=True)
class ItemWork:
    """One task's part of an invoke: its unit of work, its simulated ``at`` (when its work
    starts, or when the human decided), and the work done so far in this invoke (which is
    what makes its timestamps a truthful schedule). Never checkpointed.

    Attributes:
        failed: set when the task's drafter or reviewer could not work in this invoke.
        done: the task's last state, once it was sent or discarded in this invoke.
    """

    uow: PipelineStore
    at: datetime
    task: TaskInfo
    elapsed: int = 0
    work: list[WorkSegment] = field(default_factory=list)
    request: DraftRequest | None = None
    failed: TaskFailed | None = None
    done: TaskState | None = None

    def now(self) -> datetime:
        """The simulated time after the task's work done so far in this invoke."""
        elapsed = self.elapsed
        return self.at if elapsed == 0 else self.at + timedelta(minutes=elapsed)

    def record_work(self, teammate_id: int, teammate: str, kind: WorkKind, minutes: int,
                    draft_id: int) -> None:
        """Note that ``teammate`` spent ``minutes`` on ``kind`` starting now."""
        self.work.append(WorkSegment(
            teammate_id=teammate_id, teammate=teammate, kind=kind, start=self.elapsed,
            minutes=minutes, draft_id=draft_id,
        ))
        self.elapsed += minutes

    def event(self, payload: Payload, at: datetime) -> None:
        """Append an event about this task to the event log."""
        task = self.task
        self.uow.events.append(
            payload, at,
            sequence_id=task.sequence.id if task.sequence is not None else None,
            enrollment_id=task.enrollment_id, contact_id=task.contact_id, task_id=task.task_id,
        )


# -- what the agents are asked (the only builders of their requests) -------------------------


def draft_request(task: TaskInfo, *, revision: int, notes: Iterable[str],
                  previous: tuple[str | None, str] | None) -> DraftRequest:
    """The request the drafter of ``task`` gets for draft number ``revision``.

    Args:
        task: the task.
        revision: 0 for the first draft, 1 for the first revision...
        notes: what the draft must address (the last review's reasons, a human's note).
        previous: the (subject, body) of the draft being revised, or ``None``.
    """
    return DraftRequest(
        contact=task.contact, channel=task.channel, teammate=task.drafter.name,
        brief=task.brief, sequence=task.sequence, step=task.step, step_index=task.step_index,
        thread=task.thread, revision=revision, review_notes=tuple(notes),
        previous=None if previous is None else Draft(subject=previous[0], body=previous[1]),
    )


def review_request(task: TaskInfo, *, subject: str | None, body: str,
                   request: DraftRequest) -> ReviewRequest:
    """The request the reviewer of ``task`` gets for the draft (``subject``, ``body``) written
    for ``request``."""
    return ReviewRequest(draft=Draft(subject=subject, body=body), request=request,
                         reviewer=task.reviewer.name)


class TaskFailed(Exception):
    """A drafter or reviewer could not work: the node stops the task, having written nothing.

    Raised out of ``invoke`` to the driver, which records the failure.

    Attributes:
        stage: ``draft`` or ``review``.
        teammate: the teammate whose drafter or reviewer failed.
        teammate_id: its id.
        reason: what went wrong (``rate limited``, ``TimeoutError: read timed out``).
        tries: how many times the work was tried.
        draft_id: the task's latest draft (0: none yet).
    """

    def __init__(self, *, stage: Literal["draft", "review"], teammate: str, teammate_id: int,
                 reason: str, tries: int, draft_id: int) -> None:
        self.failure = AgentFailure(reason, tries=tries)
        super().__init__(str(self.failure))
        self.stage = stage
        self.teammate = teammate
        self.teammate_id = teammate_id
        self.reason = reason
        self.tries = tries
        self.draft_id = draft_id


def _attempt(call: Callable[[_R], Any], request: _R, *, stage: Literal["draft", "review"],
             teammate: str, teammate_id: int, draft_id: int) -> Any:
    """``call(request)``; an :class:`AgentFailure` or any other exception (one try) becomes
    :class:`TaskFailed`. teamsim's own errors (a replay cassette's miss, a bad setting) are
    not the agent failing at its work: they propagate and stop the run with their message."""
    try:
        return call(request)
    except AgentFailure as err:
        reason, tries = err.reason, err.tries
    except TeamsimError:
        raise
    except Exception as err:
        reason, tries = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__, 1
    raise TaskFailed(stage=stage, teammate=teammate, teammate_id=teammate_id, reason=reason,
                     tries=tries, draft_id=draft_id)


def _wrong_return(role: str, teammate: str, got: object, expected: str, example: str
                  ) -> PipelineError:
    return PipelineError(
        f"{role} of teammate {teammate!r} returned {type(got).__name__}, not "
        f"teamsim.agents.{expected}; return {example}"
    )


# -- one task's steps --------------------------------------------------------------------


def draft(task_state: TaskState, w: ItemWork) -> TaskState:
    """Have the drafter write (or revise) the message; record the draft. Next: review."""
    task = w.task
    revision = task_state["revision"] + 1
    request = draft_request(
        task, revision=revision, notes=task_state["notes"],
        previous=(task_state["subject"], task_state["body"]) if revision > 0 else None)
    written = _attempt(task.drafter.drafter.draft, request, stage="draft",
                       teammate=task.drafter.name, teammate_id=task.drafter_id,
                       draft_id=task_state["draft_id"])
    if not isinstance(written, Draft):
        raise _wrong_return("drafter", task.drafter.name, written, "Draft",
                            "Draft(subject=..., body=...)")
    minutes = max(0, written.minutes)
    at = w.now() + timedelta(minutes=minutes)
    draft_id: int = w.uow.drafts.add(
        task_id=task.task_id, revision=revision, author_id=task.drafter_id,
        subject=written.subject, body=written.body, minutes=minutes, at=at,
    )
    kind: WorkKind = "draft" if revision == 0 else "revision"
    w.record_work(task.drafter_id, task.drafter.name, kind, minutes, draft_id)
    w.request = request
    w.event(DraftCreated(
        draft_id=draft_id, revision=revision, author_id=task.drafter_id,
        author=task.drafter.name, minutes=minutes, notes=tuple(task_state["notes"]),
    ), at)
    return _changed(task_state, stage="review", revision=revision, draft_id=draft_id,
                    subject=written.subject, body=written.body)


def review(task_state: TaskState, w: ItemWork, *, rules: RuleEvaluator,
           config: PipelineConfig) -> TaskState:
    """Have the peer reviewer check the draft; record the review; on the last round of this
    approval round, ask the rules whether one approves it. Next: the drafter again while the
    reviewer asks for changes and rounds are left, else the gate."""
    task = w.task
    request = w.request or draft_request(
        task, revision=task_state["revision"], notes=task_state["notes"], previous=None)
    checked = _attempt(
        task.reviewer.reviewer.review,
        review_request(task, subject=task_state["subject"], body=task_state["body"],
                       request=request),
        stage="review", teammate=task.reviewer.name, teammate_id=task.reviewer_id,
        draft_id=task_state["draft_id"])
    if not isinstance(checked, Review):
        raise _wrong_return("reviewer", task.reviewer.name, checked, "Review",
                            "Review(verdict=Verdict.PASS or Verdict.REVISE, reasons=(...))")
    try:
        verdict = Verdict(checked.verdict)
    except ValueError:
        raise PipelineError(
            f"reviewer of teammate {task.reviewer.name!r} returned the verdict "
            f"{checked.verdict!r}; use Verdict.PASS or Verdict.REVISE"
        ) from None
    minutes = max(0, checked.minutes)
    at = w.now() + timedelta(minutes=minutes)
    reasons = list(checked.reasons)
    review_id: int = w.uow.drafts.add_review(
        task_id=task.task_id, draft_id=task_state["draft_id"], reviewer_id=task.reviewer_id,
        verdict=verdict.value, notes=reasons, minutes=minutes, at=at,
    )
    w.record_work(task.reviewer_id, task.reviewer.name, "review", minutes, task_state["draft_id"])
    w.event(ReviewDone(
        review_id=review_id, draft_id=task_state["draft_id"], reviewer_id=task.reviewer_id,
        reviewer=task.reviewer.name, verdict=verdict.value, notes=tuple(reasons),
        minutes=minutes,
    ), at)
    rounds = task_state["rounds"] + 1
    passed = verdict is Verdict.PASS
    update: dict[str, Any] = {
        "rounds": rounds,
        "reviews": [*task_state["reviews"], {"draft_id": task_state["draft_id"],
                                        "revision": task_state["revision"],
                                        "verdict": verdict.value, "notes": reasons}],
        "notes": reasons,
        "concerns": [] if passed else reasons,
        "stage": "draft" if not passed and rounds <= config.max_review_rounds else "gate",
    }
    if passed or rounds > config.max_review_rounds:
        update["rule"] = None if task_state["redrafted"] else _consult_rules(w, rules, passed)
    return _changed(task_state, **update)


def _consult_rules(w: ItemWork, rules: RuleEvaluator, clean: bool) -> dict[str, Any] | None:
    task = w.task
    decision = rules.evaluate(ApprovalRequest(
        task_id=task.task_id,
        sequence_id=task.sequence.id if task.sequence is not None else None,
        sequence=task.sequence.name if task.sequence is not None else None,
        step_id=task.step.id if task.step is not None else None,
        step_label=task.step.label if task.step is not None else "",
        channel=task.channel, teammate=task.drafter.name, clean_review=clean, at=w.now(),
    ))
    if decision is None:
        return None
    return {"rule_id": decision.rule_id, "approves": decision.approves,
            "reason": decision.reason}


def attention_payload(state: TaskState, task: TaskInfo) -> dict[str, Any]:
    """The JSON payload of a task waiting at the gate, which becomes its Needs attention
    item."""
    return {
        "task_id": state["task_id"],
        "kind": task.kind,
        "contact": {"id": task.contact.id, "name": task.contact.name},
        "sequence": (None if task.sequence is None
                     else {"id": task.sequence.id, "name": task.sequence.name}),
        "step": None if task.step is None else {"id": task.step.id, "label": task.step.label},
        "channel": task.channel,
        "draft": {"id": state["draft_id"], "revision": state["revision"],
                  "subject": state["subject"], "body": state["body"]},
        "drafter": {"id": task.drafter_id, "name": task.drafter.name},
        "reviewer": {"id": task.reviewer_id, "name": task.reviewer.name},
        "reviews": state["reviews"],
        "flagged": bool(state["concerns"]),
        "open_concerns": state["concerns"],
        "rule": state["rule"],
        "redraft": state["redrafted"],
    }


def rule_decision(task_state: TaskState) -> dict[str, Any] | None:
    """The decision of the rule that approves this task's draft, if one does."""
    rule = task_state["rule"]
    if rule is None or not rule["approves"]:
        return None
    return {"action": "approve", "by": "rule", "rule_id": rule["rule_id"], "note": "",
            "subject": task_state["subject"], "body": task_state["body"], "redraft": False}


def human_decision(task_state: TaskState, answer: dict[str, Any]) -> dict[str, Any]:
    """The decision a human's answer (a :class:`HumanDecision` as a dict) makes."""
    human = HumanDecision(**answer)
    subject, body = task_state["subject"], task_state["body"]
    if human.action == "edit":
        subject = human.subject if human.subject is not None else subject
        body = human.body or body
    return {"action": human.action, "by": human.by, "rule_id": None,
            "note": human.note, "subject": subject, "body": body, "redraft": False}


def decide(task_state: TaskState, w: ItemWork, decision: dict[str, Any],
           config: PipelineConfig) -> TaskState:
    """Record the rule's or the human's decision. Next: send what was approved; the drafter
    once more on a rejection if configured; else discard."""
    task = w.task
    if (decision["action"] == "reject" and config.on_reject == "redraft"
            and not task_state["redrafted"]):
        decision["redraft"] = True
    at = w.now()
    approved = decision["action"] != "reject"
    decision_id = w.uow.drafts.add_decision(
        task_id=task.task_id, draft_id=task_state["draft_id"], action=decision["action"],
        by="rule" if decision["rule_id"] is not None else "human",
        rule_id=decision["rule_id"], note=decision["note"],
        subject=decision["subject"] if approved else None,
        body=decision["body"] if approved else None, at=at,
    )
    w.event(DecisionMade(
        decision_id=decision_id, draft_id=task_state["draft_id"], action=decision["action"],
        by=decision["by"], rule_id=decision["rule_id"], note=decision["note"],
        subject=decision["subject"], body=decision["body"], redraft=decision["redraft"],
    ), at)
    update: dict[str, Any] = {"decision": decision}
    if decision["redraft"]:
        note = decision["note"] or "the human rejected this draft; write a different one"
        update.update(stage="draft", redrafted=True, notes=[note], rounds=0, reviews=[],
                      concerns=[], rule=None)
    else:
        update["stage"] = "send" if approved else "discard"
    return _changed(task_state, **update)


def decided(task_state: TaskState) -> dict[str, Any]:
    """The decision the gate recorded (every stage after the gate has one)."""
    decision = task_state["decision"]
    if decision is None:
        raise PipelineError("the approval gate let a task through without a decision")
    return decision


def send(task_state: TaskState, w: ItemWork) -> TaskState:
    """Queue the approved text; ``uow.messages.send`` is unique per task, so this sends once.
    The task is done."""
    task = w.task
    decision = decided(task_state)
    at = w.now()
    message_id, created = w.uow.messages.send(
        task_id=task.task_id, enrollment_id=task.enrollment_id, contact_id=task.contact_id,
        step_id=task.step.id if task.step is not None else None, channel=task.channel,
        subject=decision["subject"], body=decision["body"], teammate_id=task.drafter_id, at=at,
    )
    if created:
        w.event(MessageQueued(
            message_id=message_id, draft_id=task_state["draft_id"], channel=task.channel,
            teammate_id=task.drafter_id, by=decision["by"],
            rule_id=decision["rule_id"], edited=decision["action"] == "edit",
        ), at)
    return _changed(task_state, decision={**decision, "message_id": message_id})


def discard(task_state: TaskState, w: ItemWork) -> None:
    """Drop the rejected draft. The task is done."""
    decision = decided(task_state)
    w.event(TaskDiscarded(
        draft_id=task_state["draft_id"], reason="rejected", note=decision["note"],
        outcome="skipped" if w.task.kind == "step" else "discarded",
    ), w.now())
