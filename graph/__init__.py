"""teamsim.graph: the per-step pipeline every due message step and chat request runs through.

One compiled LangGraph ``StateGraph`` (draft, peer review, approval gate, send or discard),
driven by :class:`Pipeline`, one graph thread per batch of tasks (the due steps of one
scheduler tick, :class:`StepStart`). The approval gate pauses with one ``interrupt()`` whose
payload lists every waiting task's, each of which becomes a Needs attention item;
:meth:`Pipeline.resume` (now) or :meth:`Pipeline.decide` and
:meth:`Pipeline.apply_decisions` (later, one resume per thread) carry the human's
:class:`HumanDecision` back in with ``Command(resume=...)``. Auto-approve rules plug in through
the :class:`RuleEvaluator` protocol. The pipeline reads and writes the store through the narrow
:class:`PipelineStore` protocol (a :class:`teamsim.store.UnitOfWork` is one); the in-memory
:class:`InMemoryPipelineStore` is its fake.

A drafter or reviewer that cannot work fails its task (status ``failed``, a ``draft_failure``
item in Needs attention, nothing sent) instead of the caller's run. :meth:`Pipeline.prefetch`
makes the model calls of a batch of due steps (:class:`PrefetchItem`) ahead of time,
``PipelineConfig.max_concurrency`` at a time, for agents that prefetch.
"""

from teamsim.agents import ThreadMessage
from teamsim.graph._batch import StepStart
from teamsim.graph._memory import InMemoryPipelineStore
from teamsim.graph._pipeline import Pipeline
from teamsim.graph._ports import (
    PipelineAttention,
    PipelineContacts,
    PipelineDrafts,
    PipelineEvents,
    PipelineMessages,
    PipelineSequences,
    PipelineStore,
    PipelineTasks,
    PipelineTeammates,
)
from teamsim.graph._prefetch import PrefetchItem
from teamsim.graph._saver import ThreadIndexedSaver
from teamsim.graph._team import Team, TeamMember
from teamsim.graph._types import (
    ApprovalRequest,
    FakeRules,
    HumanDecision,
    NoRules,
    OnReject,
    PipelineConfig,
    PipelineResult,
    PipelineStatus,
    RuleDecision,
    RuleEvaluator,
    WorkKind,
    WorkSegment,
)
from teamsim.model import public_home as _public_home

__all__ = [
    "ApprovalRequest",
    "FakeRules",
    "HumanDecision",
    "InMemoryPipelineStore",
    "NoRules",
    "OnReject",
    "Pipeline",
    "PipelineAttention",
    "PipelineConfig",
    "PipelineContacts",
    "PipelineDrafts",
    "PipelineEvents",
    "PipelineMessages",
    "PipelineResult",
    "PipelineSequences",
    "PipelineStatus",
    "PipelineStore",
    "PipelineTasks",
    "PipelineTeammates",
    "PrefetchItem",
    "RuleDecision",
    "RuleEvaluator",
    "StepStart",
    "Team",
    "TeamMember",
    "ThreadIndexedSaver",
    "ThreadMessage",
    "WorkKind",
    "WorkSegment",
]

_public_home(__name__, globals())
