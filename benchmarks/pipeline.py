"""What one pipeline run costs against a bare LangGraph graph of the same shape.

A *pipeline run* is one due message step through :class:`teamsim.graph.Pipeline`: draft,
peer review, interrupt at the approval gate, resume with an approval, send, delete the
thread, with fake agents and an in-memory SQLite store (every store write and event is
included). The *bare run* is a ``StateGraph`` with the same nodes and edges, every node a
no-op except the gate's ``interrupt()``, invoked and resumed once on the same kind of
checkpointer with the same durability, then its thread deleted. Both are timed in the same
process, alternating blocks, best block of each kept. A third figure runs the pipeline on
:class:`teamsim.graph.InMemoryPipelineStore` (no SQL) to show how much of the difference is the
graph and how much the store's writes.

Run: ``python benchmarks/pipeline.py [--runs 2000] [--blocks 5] [--durability exit]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt

from teamsim.agents import Draft, FakeDrafter, FakeReviewer, Review, Verdict
from teamsim.graph import (
    HumanDecision,
    InMemoryPipelineStore,
    Pipeline,
    PipelineConfig,
    PipelineStore,
    TeamMember,
)
from teamsim.model import Contact, Sequence, Teammate
from teamsim.store import Store, UnitOfWork

AT = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
Durability = Literal["sync", "async", "exit"]


class _Bare(TypedDict):
    task_id: int
    body: str


def _noop(state: _Bare) -> dict[str, Any]:
    return {}


def _gate(state: _Bare) -> dict[str, Any]:
    return {"body": interrupt({"task_id": state["task_id"]})}


def bare_graph(
    checkpointer: InMemorySaver | None = None,
) -> CompiledStateGraph[_Bare, None, _Bare, _Bare]:
    """The pipeline's shape (draft, review, gate, send, discard) with no-op nodes, on
    ``checkpointer`` (default: a new ``InMemorySaver``)."""
    graph: StateGraph[_Bare, None, _Bare, _Bare] = StateGraph(_Bare)
    for name in ("draft", "review", "send", "discard"):
        graph.add_node(name, _noop)
    graph.add_node("gate", _gate)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "review")
    graph.add_conditional_edges("review", lambda s: "gate", ["draft", "gate"])
    graph.add_conditional_edges("gate", lambda s: "send", ["send", "draft", "discard"])
    graph.add_edge("send", END)
    graph.add_edge("discard", END)
    return graph.compile(
        checkpointer=checkpointer if checkpointer is not None else InMemorySaver())


def time_bare(runs: int, durability: Durability, start: int,
              clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds for ``runs`` bare invoke/interrupt/resume cycles (thread deleted after each).

    ``clock`` is the stopwatch: wall time by default, ``time.process_time`` for CPU time.
    """
    return time_bare_on(bare_graph(), runs, durability, start, clock)


def time_bare_on(graph: CompiledStateGraph[_Bare, None, _Bare, _Bare], runs: int,
                 durability: Durability, start: int,
                 clock: Callable[[], float] = time.perf_counter) -> float:
    """:func:`time_bare` on a given bare ``graph`` (its checkpointer deletes the threads)."""
    saver = graph.checkpointer
    assert isinstance(saver, InMemorySaver)
    began = clock()
    for i in range(start, start + runs):
        config: Any = {"configurable": {"thread_id": f"bare:{i}"}}
        graph.invoke({"task_id": i, "body": ""}, config, durability=durability)
        graph.invoke(Command(resume="ok"), config, durability=durability)
        saver.delete_thread(f"bare:{i}")
    return clock() - began


class World:
    """An in-memory store with one sequence, two teammates and a contact per run."""

    def __init__(self, contacts: int) -> None:
        self.store = Store.open("sqlite://")
        self.uow: UnitOfWork = self.store.unit_of_work().__enter__()
        self.sequence = self.uow.sequences.add(Sequence.new("Bench"), AT)
        self.step = self.sequence.message_steps()[0]
        ann = self.uow.teammates.add(Teammate(name="Ann"))
        bob = self.uow.teammates.add(Teammate(name="Bob"))
        drafter = FakeDrafter(lambda r: Draft(subject="Hello", body=f"Hi {r.contact.first_name}",
                                              minutes=10))
        reviewer = FakeReviewer(lambda r: Review(verdict=Verdict.PASS, minutes=5))
        self.ann = TeamMember(teammate=ann, drafter=drafter, reviewer=reviewer)
        self.bob = TeamMember(teammate=bob, drafter=drafter, reviewer=reviewer)
        assert self.sequence.id is not None
        self.people: list[tuple[int, Contact]] = []
        for i in range(contacts):
            contact = self.uow.contacts.add(Contact(name=f"Person {i}", email=f"p{i}@example.com"))
            assert contact.id is not None
            enrollment = self.uow.enrollments.add(self.sequence.id, contact.id, AT,
                                         current_step_id=self.step.id, next_due_at=AT)
            assert enrollment.id is not None
            self.people.append((enrollment.id, contact))
        self.uow.commit()

    def time_pipeline(self, pipeline: Pipeline, runs: int, start: int,
                      uow: PipelineStore | None = None) -> float:
        """Seconds for ``runs`` pipeline runs (draft, review, interrupt, resume, send)."""
        store: PipelineStore = uow if uow is not None else self.uow
        approve = HumanDecision(action="approve")
        began = time.perf_counter()
        for i in range(start, start + runs):
            enrollment_id, contact = self.people[i]
            at = AT + timedelta(minutes=i)
            waiting = pipeline.start_step(
                uow=store, enrollment_id=enrollment_id, sequence=self.sequence,
                step=self.step, contact=contact, drafter_member=self.ann,
                reviewer_member=self.bob, at=at,
            )
            sent = pipeline.resume(waiting.task_id, approve, uow=store, at=at)
            assert sent.status == "sent"
        self.uow.commit()
        return time.perf_counter() - began


def main() -> None:
    """Time both and print per-run microseconds and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="runs per block")
    parser.add_argument("--blocks", type=int, default=5, help="alternating blocks of each")
    parser.add_argument("--durability", choices=["sync", "async", "exit"], default="exit")
    args = parser.parse_args()
    durability: Durability = args.durability
    warmup = 200
    world = World(contacts=warmup + args.runs * args.blocks)
    saver = InMemorySaver()
    pipeline = Pipeline(checkpointer=saver, config=PipelineConfig(durability=durability))
    world.time_pipeline(pipeline, warmup, 0)
    time_bare(warmup, durability, 0)
    memory = InMemoryPipelineStore()
    bare: list[float] = []
    full: list[float] = []
    graph_only: list[float] = []
    for block in range(args.blocks):
        start = warmup + block * args.runs
        bare.append(time_bare(args.runs, durability, start))
        full.append(world.time_pipeline(pipeline, args.runs, start))
        graph_only.append(world.time_pipeline(pipeline, args.runs, start, uow=memory))
    assert dict(saver.storage) == {}, "finished threads must not stay in the saver"
    bare_us, full_us, graph_us = (min(t) / args.runs * 1e6 for t in (bare, full, graph_only))
    print(f"durability={durability}  runs/block={args.runs}  blocks={args.blocks}  (best block)")
    print(f"bare graph, no-op nodes, interrupt + resume:       {bare_us:8.1f} us/run")
    print(f"pipeline run with the SQLite store (all writes):   {full_us:8.1f} us/run")
    print(f"pipeline run on InMemoryPipelineStore (graph):     {graph_us:8.1f} us/run")
    print(f"ratio pipeline / bare: {full_us / bare_us:.2f}x "
          f"(graph cost only: {graph_us / bare_us:.2f}x)")
    world.uow.close()
    world.store.close()


if __name__ == "__main__":
    main()
