"""teamsim.agents: the teammates who draft messages and review each other's drafts.

The plug points are one-method protocols, :class:`Drafter` and :class:`Reviewer`, with fakes
that wrap a plain function. The defaults are :class:`TemplateDrafter` (Jinja2 templates, or
plain wording from the step) and :class:`RuleReviewer` (the checks a careful colleague makes).
:class:`ModelTeammate` puts any LangChain chat model behind both (:class:`ChatModelDrafter`,
:class:`ChatModelReviewer`), with recorded replies (:class:`Cassette`) and token accounting
(:class:`ModelUsage`); :mod:`teamsim.agents.demo` ships an offline stand-in model.
Pairing teammates up (who reviews whose drafts) is :class:`teamsim.graph.Team`'s job.
"""

from teamsim.agents._cassette import Cassette, CassetteMiss, CassetteMode, Entry
from teamsim.agents._chat import ChatModelDrafter, ChatModelReviewer, ModelTeammate
from teamsim.agents._sandbox import check_template
from teamsim.agents._settings import ModelSettings, PromptTemplates
from teamsim.agents._text import find_placeholders
from teamsim.agents._types import (
    AgentFailure,
    Draft,
    Drafter,
    DraftRequest,
    FakeDrafter,
    FakeReviewer,
    Prefetching,
    Review,
    Reviewer,
    ReviewRequest,
    ThreadMessage,
    Verdict,
)
from teamsim.agents._usage import ModelUsage
from teamsim.agents.drafter import DraftStyle, MessageTemplate, TemplateDrafter
from teamsim.agents.reviewer import Check, ReviewRules, RuleReviewer
from teamsim.model import public_home as _public_home

__all__ = [
    "AgentFailure",
    "Cassette",
    "CassetteMiss",
    "CassetteMode",
    "ChatModelDrafter",
    "ChatModelReviewer",
    "Check",
    "Draft",
    "DraftRequest",
    "DraftStyle",
    "Drafter",
    "Entry",
    "FakeDrafter",
    "FakeReviewer",
    "MessageTemplate",
    "ModelSettings",
    "ModelTeammate",
    "ModelUsage",
    "Prefetching",
    "PromptTemplates",
    "Review",
    "ReviewRequest",
    "ReviewRules",
    "Reviewer",
    "RuleReviewer",
    "TemplateDrafter",
    "ThreadMessage",
    "Verdict",
    "check_template",
    "find_placeholders",
]

_public_home(__name__, globals())
