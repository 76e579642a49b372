"""The graph: one thread per batch of tasks (the due steps of one scheduler tick), the five
nodes that work the batch's tasks, and the routing between them.

Shape (each node works, in the batch's order, the tasks whose ``stage`` names it)::

    START -> draft -> review --(some revise, rounds left)--> draft
                             \\--(none)--> gate --(rule approved)--> send --> gate
                                               \\--(interrupt: the human decides some)-->
                                                   send / discard / draft (a redraft) --> gate
                                               \\--(no task left)--> END

After every node the router picks the next one: the first of send, discard, draft, review
and gate that has tasks, else ``END``. The gate first decides the tasks a rule approves (no
interrupt then); otherwise it pauses with **one** ``interrupt()`` whose value is the attention
payload of every task waiting at it, and is resumed with ``Command(resume={"decisions":
{task_id: decision}, "withdrawn": [task_id, ...]})`` for any subset: the decided tasks go on,
the withdrawn ones are dropped, the rest wait at the gate for the next resume. The gate writes
nothing before ``interrupt()``; LangGraph re-runs it from its top on resume.

The state is the batch's task states in one channel (``tasks``), replaced whole by each node;
everything heavy comes in as runtime *context* (:class:`RunContext`), never checkpointed. A
task whose drafter or reviewer fails is dropped from the batch with its failure noted in its
:class:`~teamsim.graph._nodes.ItemWork`; the others go on.

The draft and review nodes first make the batch's model calls concurrently when the pipeline
allows it (``max_concurrency`` > 1, for agents that prefetch, which promise thread safety),
then apply the results one task at a time in the batch's order: events and ids never depend
on which call finished first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from teamsim.graph._nodes import (
    ItemWork,
    Stage,
    TaskFailed,
    TaskInfo,
    TaskState,
    attention_payload,
    decide,
    discard,
    draft,
    draft_request,
    human_decision,
    review,
    review_request,
    rule_decision,
    send,
)
from teamsim.graph._prefetch import Prefetcher
from teamsim.graph._team import prefetches
from teamsim.graph._types import PipelineConfig, RuleEvaluator

__all__ = ["ROUTE", "RunContext", "State", "builder"]

ROUTE: tuple[Stage, ...] = ("send", "discard", "draft", "review", "gate")
"""The order in which the router looks for work after every node."""


class State(TypedDict):
    """The graph's state: the batch's task states, in the order the tasks were started."""

    tasks: list[TaskState]


@dataclass(slots=True, kw_only=True)
class RunContext:
    """Per-invoke runtime context.

    Attributes:
        items: the tasks worked in this invoke (started, or decided by the human), by id.
        live: every task of the pipeline that is not done, by id (the gate's payloads).
        rules: the auto-approve rules.
        config: the pipeline's settings.
        prefetcher: makes a node's model calls concurrently, when the pipeline allows it.
        resuming: the invoke resumes the thread at the gate (until the gate has read the
            resume value).
    """

    items: dict[int, ItemWork]
    live: Mapping[int, TaskInfo]
    rules: RuleEvaluator
    config: PipelineConfig
    prefetcher: Prefetcher | None = None
    resuming: bool = False


def _draft_node(state: State, runtime: Runtime[RunContext]) -> State:
    ctx = runtime.context
    if ctx.prefetcher is not None:
        calls: list[tuple[Callable[[Any], Any], Any]] = []
        for s in state["tasks"]:
            w = ctx.items[s["task_id"]]
            if s["stage"] == "draft" and prefetches(w.task.drafter.drafter):
                calls.append((w.task.drafter.drafter.draft, draft_request(
                    w.task, revision=s["revision"] + 1, notes=s["notes"],
                    previous=(s["subject"], s["body"]) if s["revision"] >= 0 else None)))
        ctx.prefetcher.wave(calls)
    return _each_at("draft", state, ctx, draft)


def _review_node(state: State, runtime: Runtime[RunContext]) -> State:
    ctx = runtime.context
    if ctx.prefetcher is not None:
        calls: list[tuple[Callable[[Any], Any], Any]] = []
        for s in state["tasks"]:
            w = ctx.items[s["task_id"]]
            if s["stage"] == "review" and w.request is not None and prefetches(
                    w.task.reviewer.reviewer):
                calls.append((w.task.reviewer.reviewer.review, review_request(
                    w.task, subject=s["subject"], body=s["body"], request=w.request)))
        ctx.prefetcher.wave(calls)
    return _each_at("review", state, ctx, lambda task_state, w: review(
        task_state, w, rules=ctx.rules, config=ctx.config))


def _each_at(stage: str, state: State, ctx: RunContext,
             work: Callable[[TaskState, ItemWork], TaskState]) -> State:
    """Every task at ``stage`` through ``work``, one at a time in task order (what a wave made
    ahead, from worker threads, the agents hand to these calls: the Prefetching contract, so
    the cassette and the accounting are settled in this order); a task whose drafter or
    reviewer failed leaves the batch, its failure kept on its :class:`ItemWork`."""
    tasks: list[TaskState] = []
    for task_state in state["tasks"]:
        if task_state["stage"] == stage:
            w = ctx.items[task_state["task_id"]]
            try:
                task_state = work(task_state, w)
            except TaskFailed as failed:
                w.failed = failed
                continue
        tasks.append(task_state)
    return {"tasks": tasks}


def _gate_node(state: State, runtime: Runtime[RunContext]) -> State:
    """Decide what rules approve; else pause for the human and record what they decided.

    Nothing is written before ``interrupt()``.
    """
    ctx = runtime.context
    waiting = [s for s in state["tasks"] if s["stage"] == "gate"]
    ruled = [(s, d) for s in waiting if (d := rule_decision(s)) is not None]
    if ruled:
        by_rule = {s["task_id"]: decide(s, ctx.items[s["task_id"]], d, ctx.config)
                   for s, d in ruled}
        return {"tasks": [by_rule.get(s["task_id"], s) for s in state["tasks"]]}
    if ctx.resuming:
        # The gate's first run in a resumed invoke: interrupt() returns the resume value and
        # ignores its argument, so the payloads are not built for nothing.
        ctx.resuming = False
        payloads: list[dict[str, Any]] = []
    else:
        # A task withdrawn since the last resume is no longer live; this resume drops it.
        payloads = [attention_payload(s, ctx.live[s["task_id"]]) for s in waiting
                    if s["task_id"] in ctx.live]
    answer: dict[str, Any] = interrupt(payloads)
    decisions: dict[int, dict[str, Any]] = answer.get("decisions", {})
    withdrawn = set(answer.get("withdrawn", ()))
    at_gate = {s["task_id"]: s for s in waiting}
    # In the order the decisions were made, so the decision rows are numbered in that order.
    by_human = {task_id: decide(at_gate[task_id], ctx.items[task_id],
                                human_decision(at_gate[task_id], decision), ctx.config)
                for task_id, decision in decisions.items() if task_id in at_gate}
    return {"tasks": [by_human.get(s["task_id"], s) for s in state["tasks"]
                      if s["task_id"] not in withdrawn]}


def _send_node(state: State, runtime: Runtime[RunContext]) -> State:
    ctx = runtime.context
    sending = {s["task_id"]: s for s in state["tasks"] if s["stage"] == "send"}
    # In the order of the invoke's tasks (the batch's, or the decisions'), so the messages are
    # numbered in that order.
    for task_id, w in ctx.items.items():
        if task_id in sending:
            w.done = send(sending[task_id], w)
    return {"tasks": [s for s in state["tasks"] if s["stage"] != "send"]}


def _discard_node(state: State, runtime: Runtime[RunContext]) -> State:
    ctx = runtime.context
    tasks: list[TaskState] = []
    for task_state in state["tasks"]:
        if task_state["stage"] == "discard":
            w = ctx.items[task_state["task_id"]]
            discard(task_state, w)
            w.done = task_state
        else:
            tasks.append(task_state)
    return {"tasks": tasks}


def _route(state: State) -> str:
    """The next node: the first of :data:`ROUTE` with tasks, else the end."""
    stages = {s["stage"] for s in state["tasks"]}
    for stage in ROUTE:
        if stage in stages:
            return stage
    return END


@cache
def builder() -> StateGraph[State, RunContext, State, State]:
    """The uncompiled graph, built once per process (compiling binds a checkpointer)."""
    graph: StateGraph[State, RunContext, State, State] = StateGraph(
        State, context_schema=RunContext)
    graph.add_node("draft", _draft_node)
    graph.add_node("review", _review_node)
    graph.add_node("gate", _gate_node)
    graph.add_node("send", _send_node)
    graph.add_node("discard", _discard_node)
    graph.add_conditional_edges(START, _route, [*ROUTE, END])
    for node in ROUTE:
        graph.add_conditional_edges(node, _route, [*ROUTE, END])
    return graph
