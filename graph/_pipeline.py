"""The driver: starts, resumes and withdraws pipeline tasks on one compiled graph."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any, Final

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from teamsim.agents import ThreadMessage
from teamsim.graph._nodes import (
    RunContext,
    State,
    TaskFailed,
    TaskInfo,
    builder,
    initial_state,
)
from teamsim.graph._ports import PipelineStore
from teamsim.graph._prefetch import Prefetcher, PrefetchItem
from teamsim.graph._saver import ThreadIndexedSaver
from teamsim.graph._team import Team, TeamMember
from teamsim.graph._types import (
    HumanDecision,
    NoRules,
    PipelineConfig,
    PipelineResult,
    PipelineStatus,
    RuleEvaluator,
)
from teamsim.model import (
    AttentionOpened,
    ConflictError,
    Contact,
    DraftFailed,
    MessageStep,
    PipelineError,
    RuleCheck,
    Sequence,
    TaskStarted,
    TaskWithdrawn,
)
from teamsim.store import MessageRecord, TaskRecord

__all__ = ["Pipeline"]

_AWAITING = "awaiting_approval"
_WORKING = "working"
_FAILED = "failed"


class Pipeline:
    """Runs every due message step and every chat request through one compiled LangGraph graph:
    draft, peer review (with up to ``max_review_rounds`` revisions), approval gate, send.

    **One graph.** The graph's shape is built once per process; each ``Pipeline`` compiles it
    once, with its checkpointer, and reuses it for every task. Per-task objects (the unit of
    work, the simulated ``at``, the sequence, the contact, the agents) are passed as LangGraph
    runtime *context*, which is never checkpointed; the checkpointed state is ids, counters
    and the current draft text. One thread per task: ``(enrollment, step, due time)`` or one
    chat request. A finished task's thread is deleted, so the checkpointer holds only the
    tasks awaiting approval, however large the campaign.

    **Durability.** The default is ``durability="exit"``: LangGraph writes one checkpoint when
    a run pauses at the approval gate or ends, and none between draft, review and gate.
    Everything the run decides is written through the store's unit of work, which the caller
    commits; a checkpoint taken mid-run (after a draft, before its review) would point at
    store rows that a crash rolls back, so it buys no recovery, only cost. The checkpoint that
    matters, the paused gate, is written either way. With a durable saver (SQLite, PostgreSQL)
    pass ``PipelineConfig(durability="sync")`` if you want LangGraph's own crash recovery of
    long agent calls; the store's idempotent ``uow.messages.send`` keeps sends exactly-once in any
    mode.

    **Failures.** A drafter or reviewer that raises (an
    :class:`~teamsim.agents.AgentFailure` after its retries, or any other exception, taken as
    one try) fails the task: nothing is drafted further or sent, the task's status and outcome
    are ``failed``, a ``draft_failure`` item opens in Needs attention saying who could not do
    what ("Riley could not draft step s3 for Ana Lopez: rate limited after 4 tries"), a
    ``draft.failed`` event records it, and the call returns ``status="failed"`` with the item's
    id. A drafter or reviewer that *returns* something else than a
    :class:`~teamsim.agents.Draft` / :class:`~teamsim.agents.Review` is a programming error: a
    :class:`~teamsim.model.PipelineError` naming the teammate and what to return.

    **Concurrent model calls.** :meth:`prefetch` makes the agents' calls for a batch of due
    steps ahead of time, ``config.max_concurrency`` at a time, for agents that prefetch; the
    graph's own calls then get the remembered results in their usual order. :meth:`close`
    stops its worker threads.

    **Exactly one send.** The approval gate writes nothing before ``interrupt()``; the
    attention item is written here from the interrupt payload after ``invoke`` returns. A
    resume is accepted only while the store says the task awaits approval, and sending goes
    through ``uow.messages.send``, unique per task. So a repeated resume raises
    :class:`~teamsim.model.PipelineError` and never sends twice, even after the thread is gone.

    Args:
        rules: the auto-approve rules to consult (default: none).
        config: review rounds, what a rejection does, durability.
        checkpointer: any LangGraph checkpoint saver (default: a new
            :class:`ThreadIndexedSaver`, LangGraph's in-memory saver with a thread deletion
            that stays cheap however many tasks are paused at once).
        team: the :class:`~teamsim.graph.Team` whose members work the tasks; needed only to
            resume a task this ``Pipeline`` did not start (after a restart with a durable
            checkpointer), to find its drafter and reviewer again.
    """

    def __init__(
        self,
        *,
        rules: RuleEvaluator | None = None,
        config: PipelineConfig | None = None,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        team: Team | None = None,
    ) -> None:
        self.rules: RuleEvaluator = rules if rules is not None else NoRules()
        self.config = config if config is not None else PipelineConfig()
        self.checkpointer: BaseCheckpointSaver[Any] = (
            checkpointer if checkpointer is not None else ThreadIndexedSaver())
        self._team = team
        self._graph: CompiledStateGraph[State, RunContext, State, State] = builder().compile(
            checkpointer=self.checkpointer)
        self._live: dict[int, TaskInfo] = {}
        self._attention: dict[int, int] = {}
        self._prefetcher: Prefetcher | None = None

    # -- concurrent model calls ----------------------------------------------------------------

    def prefetch(self, items: Iterable[PrefetchItem]) -> None:
        """Make the drafter and reviewer calls that starting ``items`` will make, ahead of time
        and concurrently, for the agents that prefetch (:class:`~teamsim.agents.Prefetching`).

        In waves, ``config.max_concurrency`` calls at a time: every first draft, then their
        reviews, then the revisions the verdicts ask for (with the reasons as notes and the
        draft as the previous one, as the graph asks), then their reviews, up to
        ``config.max_review_rounds``. The results are not used here: the agents remember them
        and hand them to the graph's own calls, which apply them one at a time in the usual
        order. An agent's failure is its to remember too; nothing is raised here. With
        ``max_concurrency`` 1 this does nothing.
        """
        if self.config.max_concurrency <= 1:
            return
        tasks = [item.task() for item in items]
        if not tasks:
            return
        if self._prefetcher is None:
            self._prefetcher = Prefetcher(max_workers=self.config.max_concurrency,
                                          max_review_rounds=self.config.max_review_rounds)
        self._prefetcher.run(tasks)

    def close(self) -> None:
        """Stop the worker threads of :meth:`prefetch`, if any were started (idempotent)."""
        prefetcher, self._prefetcher = self._prefetcher, None
        if prefetcher is not None:
            prefetcher.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- starting ------------------------------------------------------------------------------

    def start_step(
        self,
        *,
        uow: PipelineStore,
        enrollment_id: int,
        sequence: Sequence,
        step: MessageStep,
        contact: Contact,
        drafter_member: TeamMember,
        reviewer_member: TeamMember,
        at: datetime,
        thread: Iterable[ThreadMessage] | None = None,
    ) -> PipelineResult:
        """Draft, review and (by rule or human) approve the due message ``step`` of one
        enrollment.

        Drafting, reviewing and revising all happen in this call, timed from ``at``; the
        result either awaits the human's approval (with the attention item's id) or, when a
        rule approved it, is already sent. ``thread`` (the messages already sent to the contact
        in this sequence, oldest first) is read from the store unless the caller passes it.

        Raises:
            ValueError: the reviewer is the drafter, ``at`` is naive, or ids are missing.
        """
        at = _utc(at, "start_step")
        if sequence.id is None or contact.id is None:
            raise ValueError("start_step: sequence and contact must be stored (ids set)")
        drafter_id, reviewer_id = _pair_ids(drafter_member, reviewer_member)
        thread_id = f"enrollment:{enrollment_id}:step:{step.id}:{at:%Y%m%dT%H%M%S}"
        task_id: int = uow.tasks.add(
            kind="step", thread_id=thread_id, contact_id=contact.id,
            teammate_id=drafter_id, reviewer_id=reviewer_id, at=at,
            enrollment_id=enrollment_id, step_id=step.id, sequence_id=sequence.id,
            brief=step.brief, status=_WORKING,
        )
        if thread is None:
            thread = _thread(uow.messages.thread(contact.id, sequence.id))
        task = TaskInfo.for_step(
            task_id=task_id, thread_id=thread_id, sequence=sequence, step=step,
            contact=contact, drafter=drafter_member, drafter_id=drafter_id,
            reviewer=reviewer_member, reviewer_id=reviewer_id, enrollment_id=enrollment_id,
            thread=tuple(thread),
        )
        return self._start(task, uow, at)

    def start_chat(
        self,
        *,
        uow: PipelineStore,
        contact: Contact,
        text: str,
        teammate: TeamMember,
        reviewer: TeamMember,
        at: datetime,
        channel: str = "email",
    ) -> PipelineResult:
        """Run a one-off chat request (not part of any sequence) through the same graph.

        ``teammate`` drafts a message to ``contact`` saying ``text``, ``reviewer`` checks it,
        then it waits for approval and is sent.

        Raises:
            ValueError: the reviewer is the drafter, ``at`` is naive, or the text is blank.
        """
        at = _utc(at, "start_chat")
        if contact.id is None:
            raise ValueError("start_chat: the contact must be stored (id set)")
        if not text.strip():
            raise ValueError("start_chat: the request text is blank; say what to write")
        drafter_id, reviewer_id = _pair_ids(teammate, reviewer)
        digest = hashlib.sha256(f"{teammate.name}\n{channel}\n{text}".encode()).hexdigest()[:12]
        thread_id = f"chat:{contact.id}:{at:%Y%m%dT%H%M%S}:{digest}"
        task_id: int = uow.tasks.add(
            kind="chat", thread_id=thread_id, contact_id=contact.id,
            teammate_id=drafter_id, reviewer_id=reviewer_id, at=at, brief=text,
            status=_WORKING,
        )
        thread = _thread(uow.messages.thread(contact.id, None))
        task = TaskInfo(
            task_id=task_id, kind="chat", thread_id=thread_id, contact=contact,
            channel=channel, brief=text, drafter=teammate, drafter_id=drafter_id,
            reviewer=reviewer, reviewer_id=reviewer_id, thread=thread,
        )
        return self._start(task, uow, at)

    def _start(self, task: TaskInfo, uow: PipelineStore, at: datetime) -> PipelineResult:
        uow.events.append(
            TaskStarted(kind=task.kind, thread_id=task.thread_id, channel=task.channel,
                        drafter_id=task.drafter_id, reviewer_id=task.reviewer_id,
                        step_id=task.step.id if task.step is not None else None), at,
            sequence_id=task.sequence.id if task.sequence is not None else None,
            enrollment_id=task.enrollment_id, contact_id=task.contact.id, task_id=task.task_id,
        )
        self._live[task.task_id] = task
        try:
            return self._run(task, initial_state(task.task_id), uow, at)
        except BaseException:
            # The caller's unit of work rolls the task back; drop its thread with it.
            self._forget(task.task_id, task.thread_id)
            raise

    # -- resuming ------------------------------------------------------------------------------

    def resume(
        self, task_id: int, decision: HumanDecision, *, uow: PipelineStore, at: datetime
    ) -> PipelineResult:
        """Carry the human's decision into the paused task: send, redraft or discard.

        Raises:
            PipelineError: the task is not awaiting approval (finished, withdrawn, or a
                repeated resume): nothing is sent or written.
        """
        at = _utc(at, "resume")
        if not isinstance(decision, HumanDecision):
            raise TypeError(f"decision must be a HumanDecision, got {type(decision).__name__}")
        item_id = self._attention.get(task_id)
        if item_id is not None:
            # This pipeline opened the item and has not resumed it: the task is live here, and
            # resolving the item (an UPDATE ... WHERE status = 'open') is the atomic guard
            # against a second resume, so the task row need not be read.
            task = self._live[task_id]
        else:
            record = uow.tasks.get(task_id)
            if record.status != _AWAITING:
                raise PipelineError(
                    f"task {task_id} is not awaiting approval (it is {record.status}"
                    f"{'' if record.outcome is None else ', ' + record.outcome}); only a task "
                    "waiting in Needs attention can be approved, edited or rejected"
                )
            task = self._task(record, uow)
            item_id = self._attention_item(task_id, uow)
        try:
            uow.attention.resolve(item_id, status="resolved", at=at)
        except ConflictError as err:
            raise PipelineError(
                f"task {task_id} is not awaiting approval ({err}); only a task waiting in "
                "Needs attention can be approved, edited or rejected"
            ) from None
        self._attention.pop(task_id, None)
        try:
            return self._run(task, Command(resume=_answer(decision)), uow, at)
        except BaseException:
            # The caller's unit of work rolls the resolution back: the task still waits.
            self._attention[task_id] = item_id
            raise

    def withdraw(self, task_id: int, reason: str, *, uow: PipelineStore, at: datetime) -> None:
        """Drop a task that awaits approval (the contact replied, the enrollment ended...):
        its attention item is withdrawn and its thread deleted; nothing is sent.

        Raises:
            PipelineError: the task is not awaiting approval.
        """
        at = _utc(at, "withdraw")
        record = uow.tasks.get(task_id)
        if record.status != _AWAITING:
            raise PipelineError(
                f"task {task_id} is not awaiting approval (it is {record.status}); "
                "only a task waiting in Needs attention can be withdrawn"
            )
        item_id = self._attention_item(task_id, uow)
        uow.attention.resolve(item_id, status="withdrawn", at=at)
        uow.tasks.set_status(task_id, "withdrawn", at, outcome="withdrawn")
        uow.events.append(
            TaskWithdrawn(reason=reason, attention_id=item_id), at,
            sequence_id=record.sequence_id, enrollment_id=record.enrollment_id,
            contact_id=record.contact_id, task_id=task_id,
        )
        self._forget(task_id, record.thread_id)

    def live_tasks(self) -> list[int]:
        """Ids of the tasks this pipeline has open (awaiting approval), oldest first."""
        return sorted(self._live)

    # -- internals -----------------------------------------------------------------------------

    def _run(self, task: TaskInfo, payload: State | Command[Any], uow: PipelineStore,
             at: datetime) -> PipelineResult:
        ctx = RunContext(uow=uow, at=at, task=task, rules=self.rules, config=self.config)
        try:
            out = self._graph.invoke(
                payload, {"configurable": {"thread_id": task.thread_id}}, context=ctx,
                durability=self.config.durability,
            )
        except TaskFailed as failed:
            return self._failed(task, ctx, failed, uow)
        ready_at = ctx.now()
        work = tuple(ctx.work)
        state = out["task"]
        interrupts = out.get("__interrupt__")
        if interrupts:
            attention: dict[str, Any] = interrupts[0].value
            item_id: int = uow.attention.open(
                kind="draft", at=ready_at, task_id=task.task_id, payload=attention)
            uow.tasks.set_status(task.task_id, _AWAITING, ready_at)
            rule = attention["rule"]
            ctx.event(AttentionOpened(
                attention_id=item_id, draft_id=attention["draft"]["id"],
                flagged=attention["flagged"], open_concerns=tuple(attention["open_concerns"]),
                rule=None if rule is None else RuleCheck(**rule),
            ), ready_at)
            self._attention[task.task_id] = item_id
            return PipelineResult(
                task_id=task.task_id, status="awaiting_approval", attention_id=item_id,
                draft_id=state["draft_id"], work=work, ready_at=ready_at,
                flagged=attention["flagged"],
            )
        decision: dict[str, Any] = state["decision"]
        status: PipelineStatus
        if decision["action"] == "reject":
            status = "skipped" if task.kind == "step" else "discarded"
        else:
            status = "sent"
        uow.tasks.set_status(task.task_id, status, ready_at, outcome=status)
        self._forget(task.task_id, task.thread_id)
        return PipelineResult(
            task_id=task.task_id, status=status, message_id=decision.get("message_id"),
            draft_id=state["draft_id"], work=work, ready_at=ready_at,
            rule_id=decision["rule_id"], flagged=bool(state["concerns"]),
            subject=decision["subject"] if status == "sent" else None,
            body=decision["body"] if status == "sent" else None,
        )

    def _failed(self, task: TaskInfo, ctx: RunContext, failed: TaskFailed,
                uow: PipelineStore) -> PipelineResult:
        """Record a task whose drafter or reviewer could not work: a ``draft_failure`` item in
        Needs attention, the task ``failed``, a ``draft.failed`` event; nothing is sent."""
        ready_at = ctx.now()
        text = failure_text(task, failed)
        item_id: int = uow.attention.open(
            kind="draft_failure", at=ready_at, task_id=task.task_id, payload={
                "task_id": task.task_id,
                "kind": task.kind,
                "text": text,
                "stage": failed.stage,
                "teammate": {"id": failed.teammate_id, "name": failed.teammate},
                "drafter": {"id": task.drafter_id, "name": task.drafter.name},
                "reason": failed.reason,
                "tries": failed.tries,
                "contact": {"id": task.contact.id, "name": task.contact.name},
                "sequence": (None if task.sequence is None
                             else {"id": task.sequence.id, "name": task.sequence.name}),
                "step": (None if task.step is None
                         else {"id": task.step.id, "label": task.step.label}),
                "channel": task.channel,
            })
        uow.tasks.set_status(task.task_id, _FAILED, ready_at, outcome=_FAILED)
        ctx.event(DraftFailed(
            stage=failed.stage, teammate_id=failed.teammate_id, teammate=failed.teammate,
            reason=failed.reason, tries=failed.tries, attention_id=item_id,
        ), ready_at)
        self._forget(task.task_id, task.thread_id)
        return PipelineResult(
            task_id=task.task_id, status="failed", attention_id=item_id,
            draft_id=failed.draft_id or None, work=tuple(ctx.work), ready_at=ready_at,
            failure=text,
        )

    def _forget(self, task_id: int, thread_id: str) -> None:
        self._live.pop(task_id, None)
        self._attention.pop(task_id, None)
        self.checkpointer.delete_thread(thread_id)

    def _attention_item(self, task_id: int, uow: PipelineStore) -> int:
        if task_id in self._attention:
            return self._attention[task_id]
        for item in uow.attention.list("open", kind="draft"):
            if item.task_id == task_id:
                return int(item.id)
        raise PipelineError(
            f"task {task_id} awaits approval but has no open attention item; "
            "the store and the pipeline disagree"
        )

    def _task(self, record: TaskRecord, uow: PipelineStore) -> TaskInfo:
        task = self._live.get(record.id)
        if task is not None:
            return task
        if self._team is None or record.teammate_id is None or record.reviewer_id is None:
            raise PipelineError(
                f"task {record.id} was started by another Pipeline; to resume it here, "
                "create this Pipeline with team=... and the same durable checkpointer"
            )
        drafter = self._team.member(uow.teammates.get(record.teammate_id).name)
        reviewer = self._team.member(uow.teammates.get(record.reviewer_id).name)
        contact = uow.contacts.get(record.contact_id)
        if record.kind == "chat" or record.sequence_id is None or record.step_id is None:
            # The task record does not keep a chat's channel; chats default to email.
            task = TaskInfo(
                task_id=record.id, kind="chat", thread_id=record.thread_id, contact=contact,
                channel="email", brief=record.brief,
                thread=_thread(uow.messages.thread(record.contact_id, None)), drafter=drafter,
                drafter_id=record.teammate_id, reviewer=reviewer, reviewer_id=record.reviewer_id,
            )
        else:
            sequence = uow.sequences.get(record.sequence_id)
            step = sequence.step(record.step_id)
            if not isinstance(step, MessageStep):
                raise PipelineError(f"task {record.id}: step {record.step_id!r} is no longer "
                                    "a message step; withdraw the task instead")
            task = TaskInfo.for_step(
                task_id=record.id, thread_id=record.thread_id, sequence=sequence, step=step,
                contact=contact, drafter=drafter, drafter_id=record.teammate_id,
                reviewer=reviewer, reviewer_id=record.reviewer_id,
                enrollment_id=record.enrollment_id,
                thread=_thread(uow.messages.thread(record.contact_id, sequence.id)),
            )
        self._live[record.id] = task
        return task


def failure_text(task: TaskInfo, failed: TaskFailed) -> str:
    """What the Needs attention item of a failed task says: "Riley could not draft step s3 for
    Ana Lopez: rate limited after 4 tries" (a review: "Sam could not review Riley's draft of
    step s3 for ..."; a chat: "... the chat message for ...")."""
    what = "the chat message" if task.step is None else f"step {task.step.id}"
    if failed.stage == "draft":
        did = f"{failed.teammate} could not draft {what}"
    else:
        did = f"{failed.teammate} could not review {task.drafter.name}'s draft of {what}"
    return f"{did} for {task.contact.name}: {failed.failure}"


def _pair_ids(drafter: TeamMember, reviewer: TeamMember) -> tuple[int, int]:
    ids = []
    for member in (drafter, reviewer):
        if member.teammate.id is None:
            raise ValueError(f"teammate {member.name!r} has no id; add it to the store first "
                             "(uow.teammates.add) and use the returned teammate")
        ids.append(member.teammate.id)
    if ids[0] == ids[1]:
        raise ValueError(
            f"teammate {drafter.name!r} cannot review its own draft; pick another reviewer"
        )
    return ids[0], ids[1]


def _thread(messages: list[MessageRecord]) -> tuple[ThreadMessage, ...]:
    return tuple(
        ThreadMessage(step_id=m.step_id, channel=m.channel, subject=m.subject, body=m.body,
                      sent_at=m.sent_at or m.queued_at)
        for m in messages
    )


_DECISION_FIELDS: Final = tuple(field.name for field in fields(HumanDecision))


def _answer(decision: HumanDecision) -> dict[str, Any]:
    """``dataclasses.asdict(decision)``, built directly when every field is a plain ``str`` or
    ``None`` (which ``asdict`` would return as they are)."""
    answer = {name: getattr(decision, name) for name in _DECISION_FIELDS}
    for value in answer.values():
        if value is not None and value.__class__ is not str:
            return asdict(decision)
    return answer


def _utc(at: datetime, where: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{where}: at={at.isoformat()} is naive; pass a timezone-aware UTC "
                         "datetime (the simulated now)")
    return at.astimezone(UTC)
