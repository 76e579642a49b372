"""The driver: starts batches of pipeline tasks, carries the human's decisions in, withdraws
tasks; one compiled graph, one graph thread per batch."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from collections.abc import Sequence as Seq
from datetime import datetime
from typing import Any, overload

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from teamsim.agents import ThreadMessage
from teamsim.graph._batch import (
    Batch,
    StepStart,
    answer,
    failed_task,
    finished,
    opened,
    pair_ids,
    task_of,
    thread_of,
    utc,
)
from teamsim.graph._graph import RunContext, State, builder
from teamsim.graph._nodes import ItemWork, TaskInfo, TaskState, initial_state
from teamsim.graph._ports import PipelineStore
from teamsim.graph._prefetch import Prefetcher, PrefetchItem
from teamsim.graph._saver import ThreadIndexedSaver
from teamsim.graph._team import Team, TeamMember
from teamsim.graph._types import (
    HumanDecision,
    NoRules,
    PipelineConfig,
    PipelineResult,
    RuleEvaluator,
)
from teamsim.model import (
    ConflictError,
    Contact,
    MessageStep,
    PipelineError,
    Sequence,
    TaskStarted,
    TaskWithdrawn,
)
from teamsim.store import TaskRecord

__all__ = ["Pipeline"]

_AWAITING = "awaiting_approval"
_WORKING = "working"
# Supersteps per invoke: draft and review per round, the gate, send, discard, the gate again.
_RECURSION_LIMIT = 100


class Pipeline:
    """Runs every due message step and every chat request through one compiled LangGraph graph:
    draft, peer review (with up to ``max_review_rounds`` revisions), approval gate, send.

    **One graph, one thread per batch.** The graph's shape is built once per process; each
    ``Pipeline`` compiles it once, with its checkpointer, and reuses it for every batch.
    :meth:`start_steps` runs a batch of due steps (a scheduler tick's) in one thread, up to
    ``config.max_batch`` tasks a thread; :meth:`start_step` and :meth:`start_chat` start a
    batch of one. Per-task objects (the unit of work, the simulated ``at``, the sequence, the
    contact, the agents) are passed as LangGraph runtime *context*, which is never
    checkpointed; the checkpointed state is ids, counters and the current draft text of each
    task. A thread is deleted once none of its tasks waits any more, so the checkpointer holds
    only the batches with tasks awaiting approval, however large the campaign. Each task keeps
    its own ``thread_id`` in the store and the event log (``(enrollment, step, due time)`` or
    one chat request); the graph thread is ``batch:<first task id>``.

    **Decisions.** :meth:`resume` carries one decision in at once (one invoke of the task's
    thread). :meth:`decide` records the decision (the attention item is resolved at once) and
    :meth:`apply_decisions` carries every recorded decision in later, one invoke per thread,
    each task's rows and events timed at its own decision: a human deciding a hundred drafts
    of one batch costs one resume, not a hundred.

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
    ``draft.failed`` event records it, and its result has ``status="failed"`` with the item's
    id; the other tasks of its batch go on. A drafter or reviewer that *returns* something
    else than a :class:`~teamsim.agents.Draft` / :class:`~teamsim.agents.Review` is a
    programming error: a :class:`~teamsim.model.PipelineError` naming the teammate and what
    to return.

    **Concurrent model calls.** With ``config.max_concurrency`` above 1, the batch's draft and
    review nodes make their tasks' calls concurrently (for agents that prefetch), then apply
    the results one task at a time in the batch's order. :meth:`prefetch` makes the calls
    for steps not started yet ahead of time. :meth:`close` stops the worker threads.

    **Exactly one send.** The approval gate writes nothing before ``interrupt()``; the
    attention items are written here from the interrupt payload after ``invoke`` returns. A
    decision is accepted only while the task's attention item is open (resolving it is the
    guard), and sending goes through ``uow.messages.send``, unique per task. So a repeated
    resume or decision raises :class:`~teamsim.model.PipelineError` and never sends twice,
    even after the thread is gone.

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
        self._batch_of: dict[int, Batch] = {}
        self._pending: dict[str, Batch] = {}
        self._applied: list[PipelineResult] = []
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
        prefetcher = self._waves()
        tasks = [item.task() for item in items]
        if prefetcher is not None and tasks:
            prefetcher.run(tasks)

    def _waves(self) -> Prefetcher | None:
        if self.config.max_concurrency <= 1:
            return None
        if self._prefetcher is None:
            self._prefetcher = Prefetcher(max_workers=self.config.max_concurrency,
                                          max_review_rounds=self.config.max_review_rounds)
        return self._prefetcher

    def close(self) -> None:
        """Stop the worker threads of the concurrent calls, if any were started (idempotent)."""
        prefetcher, self._prefetcher = self._prefetcher, None
        if prefetcher is not None:
            prefetcher.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- starting ------------------------------------------------------------------------------

    def start_steps(self, steps: Seq[StepStart], *, uow: PipelineStore,
                    at: datetime) -> list[PipelineResult]:
        """Draft, review and (by rule or human) approve a batch of due message steps, all
        starting at ``at``, in graph threads of up to ``config.max_batch`` tasks.

        Drafting, reviewing and revising all happen in this call, each task timed from ``at``
        by its own work; each result (in the order of ``steps``) either awaits the human's
        approval (with its attention item's id), is already sent (a rule approved it), or
        failed (its drafter or reviewer could not work).

        Raises:
            ValueError: a reviewer is its drafter, ``at`` is naive, or ids are missing
                (nothing is written then).
        """
        at = utc(at, "start_steps")
        for step in steps:
            if step.sequence.id is None or step.contact.id is None:
                raise ValueError("start_step: sequence and contact must be stored (ids set)")
            pair_ids(step.drafter, step.reviewer)
        tasks = [self._add_step(step, uow, at) for step in steps]
        results: list[PipelineResult] = []
        size = self.config.max_batch
        for first in range(0, len(tasks), size):
            results.extend(self._start(tasks[first:first + size], uow, at))
        return results

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
        enrollment: :meth:`start_steps` with a batch of one.

        ``thread`` (the messages already sent to the contact in this sequence, oldest first)
        is read from the store unless the caller passes it.

        Raises:
            ValueError: the reviewer is the drafter, ``at`` is naive, or ids are missing.
        """
        [result] = self.start_steps([StepStart(
            enrollment_id=enrollment_id, sequence=sequence, step=step, contact=contact,
            drafter=drafter_member, reviewer=reviewer_member,
            thread=None if thread is None else tuple(thread))], uow=uow, at=at)
        return result

    def _add_step(self, start: StepStart, uow: PipelineStore, at: datetime) -> TaskInfo:
        """Write a due step's task row and ``task.started`` event; its task."""
        sequence, step, contact = start.sequence, start.step, start.contact
        if sequence.id is None or contact.id is None:
            raise ValueError("start_step: sequence and contact must be stored (ids set)")
        drafter_id, reviewer_id = pair_ids(start.drafter, start.reviewer)
        thread_id = f"enrollment:{start.enrollment_id}:step:{step.id}:{at:%Y%m%dT%H%M%S}"
        task_id: int = uow.tasks.add(
            kind="step", thread_id=thread_id, contact_id=contact.id,
            teammate_id=drafter_id, reviewer_id=reviewer_id, at=at,
            enrollment_id=start.enrollment_id, step_id=step.id, sequence_id=sequence.id,
            brief=step.brief, status=_WORKING,
        )
        thread = start.thread
        if thread is None:
            thread = thread_of(uow.messages.thread(contact.id, sequence.id))
        task = TaskInfo.for_step(
            task_id=task_id, thread_id=thread_id, sequence=sequence, step=step,
            contact=contact, drafter=start.drafter, drafter_id=drafter_id,
            reviewer=start.reviewer, reviewer_id=reviewer_id,
            enrollment_id=start.enrollment_id, thread=tuple(thread),
        )
        self._started(task, uow, at)
        return task

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
        at = utc(at, "start_chat")
        if contact.id is None:
            raise ValueError("start_chat: the contact must be stored (id set)")
        if not text.strip():
            raise ValueError("start_chat: the request text is blank; say what to write")
        drafter_id, reviewer_id = pair_ids(teammate, reviewer)
        digest = hashlib.sha256(f"{teammate.name}\n{channel}\n{text}".encode()).hexdigest()[:12]
        thread_id = f"chat:{contact.id}:{at:%Y%m%dT%H%M%S}:{digest}"
        task_id: int = uow.tasks.add(
            kind="chat", thread_id=thread_id, contact_id=contact.id,
            teammate_id=drafter_id, reviewer_id=reviewer_id, at=at, brief=text,
            status=_WORKING,
        )
        thread = thread_of(uow.messages.thread(contact.id, None))
        task = TaskInfo(
            task_id=task_id, kind="chat", thread_id=thread_id, contact=contact,
            channel=channel, brief=text, drafter=teammate, drafter_id=drafter_id,
            reviewer=reviewer, reviewer_id=reviewer_id, thread=thread,
        )
        self._started(task, uow, at)
        [result] = self._start([task], uow, at)
        return result

    def _started(self, task: TaskInfo, uow: PipelineStore, at: datetime) -> None:
        uow.events.append(
            TaskStarted(kind=task.kind, thread_id=task.thread_id, channel=task.channel,
                        drafter_id=task.drafter_id, reviewer_id=task.reviewer_id,
                        step_id=task.step.id if task.step is not None else None), at,
            sequence_id=task.sequence.id if task.sequence is not None else None,
            enrollment_id=task.enrollment_id, contact_id=task.contact.id, task_id=task.task_id,
        )

    def _start(self, tasks: list[TaskInfo], uow: PipelineStore,
               at: datetime) -> list[PipelineResult]:
        batch = Batch(f"batch:{tasks[0].task_id}")
        for task in tasks:
            self._live[task.task_id] = task
            self._batch_of[task.task_id] = batch
        items = {task.task_id: ItemWork(uow=uow, at=at, task=task) for task in tasks}
        try:
            return self._invoke(
                batch, State(tasks=[initial_state(task.task_id) for task in tasks]), items, uow)
        except BaseException:
            # The caller's unit of work rolls the tasks back; drop their thread with them.
            for task in tasks:
                self._forget(task.task_id)
            self._drop(batch)
            raise

    # -- deciding ------------------------------------------------------------------------------

    def resume(
        self, task_id: int, decision: HumanDecision, *, uow: PipelineStore, at: datetime
    ) -> PipelineResult:
        """Carry the human's decision into the paused task now: send, redraft or discard.

        The task's other waiting tasks stay as they are (decisions recorded for them with
        :meth:`decide` stay recorded).

        Raises:
            PipelineError: the task is not awaiting approval (finished, withdrawn, decided,
                or a repeated resume): nothing is sent or written.
        """
        at = utc(at, "resume")
        item_id, task = self._accept(task_id, decision, uow, at)
        batch = self._batch(task_id, uow)
        try:
            [result] = self._invoke(
                batch, self._command(batch, {task_id: answer(decision)}),
                {task_id: ItemWork(uow=uow, at=at, task=task)}, uow)
        except BaseException:
            # The caller's unit of work rolls the resolution back: the task still waits.
            self._attention[task_id] = item_id
            raise
        return result

    def decide(
        self, task_id: int, decision: HumanDecision, *, uow: PipelineStore, at: datetime
    ) -> None:
        """Record the human's decision on a paused task now (its attention item is resolved
        at ``at``); :meth:`apply_decisions` carries it in later, with the decision's rows and
        events timed at ``at``. A task this pipeline did not start is resumed at once (its
        result comes with the next :meth:`apply_decisions`).

        Raises:
            PipelineError: the task is not awaiting approval (finished, withdrawn, or already
                decided): nothing is written.
        """
        at = utc(at, "decide")
        known = task_id in self._batch_of
        self._accept(task_id, decision, uow, at)
        if not known:
            batch = self._batch(task_id, uow)
            self._applied.extend(self._invoke(
                batch, self._command(batch, {task_id: answer(decision)}),
                {task_id: ItemWork(uow=uow, at=at, task=self._live[task_id])}, uow))
            return
        batch = self._batch_of[task_id]
        batch.decided[task_id] = (decision, at)
        self._pending[batch.thread_id] = batch

    def apply_decisions(self, *, uow: PipelineStore) -> list[PipelineResult]:
        """Carry every decision recorded by :meth:`decide` in: one resume per graph thread;
        the results in the order the decisions were recorded, thread by thread."""
        results, self._applied = self._applied, []
        pending, self._pending = self._pending, {}
        for batch in pending.values():
            decided, batch.decided = batch.decided, {}
            items = {task_id: ItemWork(uow=uow, at=at, task=self._live[task_id])
                     for task_id, (_, at) in decided.items()}
            results.extend(self._invoke(batch, self._command(
                batch, {task_id: answer(d) for task_id, (d, _) in decided.items()}), items, uow))
        return results

    def _accept(self, task_id: int, decision: HumanDecision, uow: PipelineStore,
                at: datetime) -> tuple[int, TaskInfo]:
        """Check that the task awaits approval and resolve its attention item (the guard
        against a second decision); its item id and task."""
        if not isinstance(decision, HumanDecision):
            raise TypeError(f"decision must be a HumanDecision, got {type(decision).__name__}")
        item_id = self._attention.get(task_id)
        if item_id is not None:
            # This pipeline opened the item and has not had it decided: the task is live here,
            # and resolving the item (an UPDATE ... WHERE status = 'open') is the atomic guard
            # against a second decision, so the task row need not be read.
            task = self._live[task_id]
        else:
            record = uow.tasks.get(task_id)
            batch = self._batch_of.get(task_id)
            if record.status != _AWAITING or (batch is not None and task_id in batch.decided):
                status = "decided" if record.status == _AWAITING else record.status
                raise PipelineError(
                    f"task {task_id} is not awaiting approval (it is {status}"
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
        return item_id, task

    def withdraw(self, task_id: int, reason: str, *, uow: PipelineStore, at: datetime) -> None:
        """Drop a task that awaits approval (the contact replied, the enrollment ended...):
        its attention item is withdrawn and it leaves its thread (deleted once no task waits
        in it); nothing is sent.

        Raises:
            PipelineError: the task is not awaiting approval.
        """
        at = utc(at, "withdraw")
        record = uow.tasks.get(task_id)
        batch = self._batch_of.get(task_id)
        if record.status != _AWAITING or (batch is not None and task_id in batch.decided):
            status = "decided" if record.status == _AWAITING else record.status
            raise PipelineError(
                f"task {task_id} is not awaiting approval (it is {status}); "
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
        batch = self._batch(task_id, uow, missing_ok=True)
        self._forget(task_id)
        if batch is None:
            return  # no thread of this checkpointer holds it: nothing to drop
        batch.withdrawn.append(task_id)
        if batch.idle():
            self._drop(batch)

    def live_tasks(self) -> list[int]:
        """Ids of the tasks this pipeline has open (awaiting approval), oldest first."""
        return sorted(task_id for task_id, batch in self._batch_of.items()
                      if task_id not in batch.decided)

    # -- internals -----------------------------------------------------------------------------

    def _command(self, batch: Batch, decisions: dict[int, dict[str, Any]]) -> Command[Any]:
        withdrawn, batch.withdrawn = batch.withdrawn, []
        return Command(resume={"decisions": decisions, "withdrawn": withdrawn})

    def _invoke(self, batch: Batch, payload: State | Command[Any], items: dict[int, ItemWork],
                uow: PipelineStore) -> list[PipelineResult]:
        """One invoke of the batch's thread; the results of ``items``, in their order."""
        ctx = RunContext(items=items, live=self._live, rules=self.rules, config=self.config,
                         prefetcher=self._waves(), resuming=isinstance(payload, Command))
        out = self._graph.invoke(
            payload, {"configurable": {"thread_id": batch.thread_id},
                      "recursion_limit": _RECURSION_LIMIT},
            context=ctx, durability=self.config.durability,
        )
        waiting: dict[int, TaskState] = {s["task_id"]: s for s in out["tasks"]}
        interrupts = out.get("__interrupt__")
        payloads: dict[int, dict[str, Any]] = (
            {p["task_id"]: p for p in interrupts[0].value} if interrupts else {})
        batch.waiting = set(waiting)
        results = []
        for task_id, w in items.items():
            if w.failed is not None:
                results.append(failed_task(w, uow))
            elif w.done is not None:
                results.append(finished(w, w.done, uow))
            elif task_id in payloads:
                result = opened(w, waiting[task_id], payloads[task_id], uow)
                self._attention[task_id] = result.attention_id or 0
                results.append(result)
                continue
            else:
                raise PipelineError(f"task {task_id} neither finished nor reached the gate")
            self._forget(task_id)
        if not waiting:
            self._drop(batch)
        return results

    def _forget(self, task_id: int) -> None:
        self._live.pop(task_id, None)
        self._attention.pop(task_id, None)
        self._batch_of.pop(task_id, None)

    def _drop(self, batch: Batch) -> None:
        """Delete the batch's thread; forget its tasks that were withdrawn meanwhile."""
        for task_id in batch.waiting:
            if self._batch_of.get(task_id) is batch:
                self._forget(task_id)
        self._pending.pop(batch.thread_id, None)
        self.checkpointer.delete_thread(batch.thread_id)

    @overload
    def _batch(self, task_id: int, uow: PipelineStore) -> Batch: ...

    @overload
    def _batch(self, task_id: int, uow: PipelineStore, *, missing_ok: bool) -> Batch | None: ...

    def _batch(self, task_id: int, uow: PipelineStore, *, missing_ok: bool = False
               ) -> Batch | None:
        """The batch of a waiting task; after a restart, found in the checkpointer (its thread
        is ``batch:<first task id>``, and a batch's task ids are consecutive)."""
        batch = self._batch_of.get(task_id)
        if batch is not None:
            return batch
        for first in range(task_id, max(0, task_id - self.config.max_batch), -1):
            checkpoint = self.checkpointer.get_tuple(
                {"configurable": {"thread_id": f"batch:{first}", "checkpoint_ns": ""}})
            if checkpoint is None:
                continue
            tasks = checkpoint.checkpoint["channel_values"].get("tasks", [])
            waiting = {s["task_id"] for s in tasks}
            if task_id not in waiting:
                continue
            batch = Batch(f"batch:{first}", waiting=waiting)
            for other in waiting:
                record = uow.tasks.get(other)
                if record.status == _AWAITING:
                    self._task(record, uow)
                    self._batch_of[other] = batch
                else:
                    batch.withdrawn.append(other)
            return batch
        if missing_ok:
            return None
        raise PipelineError(
            f"task {task_id} awaits approval but no graph thread holds it; resume it with "
            "the checkpointer that started it"
        )

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
        if task is None:
            task = self._live[record.id] = task_of(record, uow, self._team)
        return task
