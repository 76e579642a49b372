"""Value objects and plug points of the per-step pipeline.

The pipeline asks a :class:`RuleEvaluator` whether an auto-approve rule lets a draft go out
without the human; the rules engine itself lives elsewhere and plugs in through that
one-method protocol. :class:`NoRules` never matches; :class:`FakeRules` wraps a plain function
for tests, the way :class:`teamsim.agents.FakeDrafter` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from teamsim.model import SimMinutes

__all__ = [
    "ApprovalRequest",
    "FakeRules",
    "HumanDecision",
    "NoRules",
    "OnReject",
    "PipelineConfig",
    "PipelineResult",
    "PipelineStatus",
    "RuleDecision",
    "RuleEvaluator",
    "WorkKind",
    "WorkSegment",
]

OnReject = Literal["skip", "redraft"]
"""What a human rejection does: drop the step, or have it redrafted once."""
PipelineStatus = Literal[
    "awaiting_approval", "sent", "skipped", "discarded", "withdrawn", "failed"]
"""Where a pipeline task stands after a call returns (``skipped`` is a rejected sequence step,
``discarded`` a rejected chat request, ``failed`` one whose drafter or reviewer could not work:
nothing was sent and a ``draft_failure`` item in Needs attention says why)."""
WorkKind = Literal["draft", "review", "revision"]
"""What a teammate spent a work segment on."""
Durability = Literal["sync", "async", "exit"]
"""LangGraph's checkpoint durability modes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineConfig:
    """How the pipeline behaves.

    Attributes:
        max_review_rounds: how many times a ``revise`` verdict sends the draft back to its
            drafter in one approval round; after that the draft goes to the human flagged with
            the reviewer's open concerns.
        on_reject: ``"skip"`` drops a rejected step; ``"redraft"`` sends it back to the drafter
            once with the human's note (a second rejection skips it).
        durability: LangGraph durability mode passed to every ``invoke``. ``"exit"`` (the
            default) writes one checkpoint when a run pauses at the approval gate or ends; see
            :class:`~teamsim.graph.Pipeline` for why that is enough.
        max_concurrency: how many drafter/reviewer calls :meth:`Pipeline.prefetch` makes at
            once, in worker threads, for agents that prefetch
            (:class:`~teamsim.agents.Prefetching`). 1 (the default) makes no call ahead of
            time: every call is made by the graph, one after another.
        max_batch: the most tasks one graph thread holds (:meth:`Pipeline.start_steps` splits
            larger batches): every resume rebuilds the gate's payload of each task still
            waiting in the thread, so a thread of thousands would cost more than it saves.
    """

    max_review_rounds: int = 2
    on_reject: OnReject = "skip"
    durability: Durability = "exit"
    max_concurrency: int = 1
    max_batch: int = 256

    def __post_init__(self) -> None:
        if (not isinstance(self.max_batch, int) or isinstance(self.max_batch, bool)
                or self.max_batch < 1):
            raise ValueError(f"max_batch must be an int >= 1, got {self.max_batch!r}")
        if (not isinstance(self.max_concurrency, int) or isinstance(self.max_concurrency, bool)
                or self.max_concurrency < 1):
            raise ValueError(
                f"max_concurrency must be an int >= 1 (1: no concurrent model calls), got "
                f"{self.max_concurrency!r}"
            )
        if self.max_review_rounds < 0:
            raise ValueError(f"max_review_rounds must be >= 0, got {self.max_review_rounds}")
        if self.on_reject not in ("skip", "redraft"):
            raise ValueError(f"on_reject must be 'skip' or 'redraft', got {self.on_reject!r}")
        if self.durability not in ("sync", "async", "exit"):
            raise ValueError(
                f"durability must be 'sync', 'async' or 'exit', got {self.durability!r}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class HumanDecision:
    """The human's answer at the approval gate, passed to :meth:`Pipeline.resume`.

    Attributes:
        action: ``approve`` the draft as is, ``edit`` it (the edited text is what is sent), or
            ``reject`` it.
        subject: with ``edit``, the new subject (``None`` keeps the draft's).
        body: with ``edit``, the new body (required).
        note: an optional note; on a rejection with ``on_reject="redraft"`` the drafter gets it.
        by: who decided (recorded with the decision).
    """

    action: Literal["approve", "edit", "reject"]
    subject: str | None = None
    body: str | None = None
    note: str = ""
    by: str = "human"

    def __post_init__(self) -> None:
        if self.action not in ("approve", "edit", "reject"):
            raise ValueError(
                f"action must be 'approve', 'edit' or 'reject', got {self.action!r}"
            )
        if self.action == "edit" and not (self.body and self.body.strip()):
            raise ValueError("an 'edit' decision needs the new body text (body=...)")
        if self.action != "edit" and (self.subject is not None or self.body is not None):
            raise ValueError(f"only an 'edit' decision carries subject/body, not {self.action!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalRequest:
    """What a :class:`RuleEvaluator` sees of a draft that is ready for approval.

    Attributes:
        task_id: the pipeline task.
        sequence_id: the sequence, or ``None`` for a chat request.
        sequence: the sequence's name, or ``None`` for a chat request.
        step_id: the message step's id, or ``None`` for a chat request.
        step_label: the message step's label (``""`` for a chat request).
        channel: the channel the message goes out on.
        teammate: the drafting teammate's name.
        clean_review: whether the final review passed with no open concerns.
        at: when the draft is ready (simulated time, UTC).
    """

    task_id: int
    sequence_id: int | None
    sequence: str | None
    step_id: str | None
    step_label: str
    channel: str
    teammate: str
    clean_review: bool
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleDecision:
    """A matching auto-approve rule's answer.

    ``approves=False`` means the rule matched but may not approve (its cap is used up, say);
    ``reason`` then says why, and the draft goes to the human with that noted.
    """

    rule_id: int
    approves: bool
    reason: str = ""


class RuleEvaluator(Protocol):
    """Decides whether an enabled auto-approve rule approves a draft without the human."""

    def evaluate(self, request: ApprovalRequest) -> RuleDecision | None:
        """Return the matching rule's decision, or ``None`` when no enabled rule matches."""
        ...


class NoRules:
    """A :class:`RuleEvaluator` with no rules: every draft goes to the human."""

    def evaluate(self, request: ApprovalRequest) -> RuleDecision | None:
        """Return ``None``."""
        return None


class FakeRules:
    """A :class:`RuleEvaluator` that calls a plain function, for tests and notebooks."""

    def __init__(self, fn: Callable[[ApprovalRequest], RuleDecision | None]) -> None:
        self._fn = fn

    def evaluate(self, request: ApprovalRequest) -> RuleDecision | None:
        """Return ``fn(request)``."""
        return self._fn(request)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkSegment:
    """A stretch of simulated work by one teammate, so the simulator can hold it that long.

    Attributes:
        teammate_id: the working teammate.
        teammate: its name.
        kind: ``draft``, ``review`` or ``revision``.
        start: minutes after the call's ``at`` when the work began.
        minutes: how long it took.
        draft_id: the draft written or reviewed.
    """

    teammate_id: int
    teammate: str
    kind: WorkKind
    start: SimMinutes
    minutes: SimMinutes
    draft_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineResult:
    """What one call into the pipeline did.

    Attributes:
        task_id: the pipeline task (one LangGraph thread).
        status: where the task stands now.
        attention_id: the open Needs attention item when ``awaiting_approval``.
        message_id: the queued message when ``sent``.
        draft_id: the latest draft.
        work: the work done during this call, in order.
        ready_at: when that work was done (the call's ``at`` plus all work minutes): the
            attention item's or the send's time.
        rule_id: the auto-approve rule that approved the draft, if one did.
        flagged: whether the draft reached the human with the reviewer's concerns still open.
        subject: when ``sent``, the queued message's subject (as approved or edited).
        body: when ``sent``, the queued message's body (as approved or edited).
        failure: when ``failed``, what the Needs attention item says ("Riley could not draft
            step s3 for Ana Lopez: rate limited after 4 tries").
    """

    task_id: int
    status: PipelineStatus
    attention_id: int | None = None
    message_id: int | None = None
    draft_id: int | None = None
    work: tuple[WorkSegment, ...] = field(default_factory=tuple)
    ready_at: datetime
    rule_id: int | None = None
    flagged: bool = False
    subject: str | None = None
    body: str | None = None
    failure: str | None = None

    @property
    def busy_minutes(self) -> SimMinutes:
        """All work minutes of this call, summed."""
        return sum(segment.minutes for segment in self.work)
