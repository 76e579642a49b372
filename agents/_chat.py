"""Model-backed teammates: a drafter and a reviewer around any LangChain chat model."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from teamsim.agents._cassette import Cassette
from teamsim.agents._settings import ModelSettings
from teamsim.agents._types import Draft, DraftRequest, Review, ReviewRequest
from teamsim.agents._usage import ModelUsage

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["ChatModelDrafter", "ChatModelReviewer", "ModelTeammate"]


class ChatModelDrafter:
    """A :class:`~teamsim.agents.Drafter` (and :class:`~teamsim.agents.Prefetching`) whose
    drafts come from a chat model."""

    prefetch: ClassVar[bool] = True

    def draft(self, request: DraftRequest) -> Draft:
        """Ask the model for the message; :class:`~teamsim.agents.AgentFailure` if it gives
        none usable after the settings' tries."""
        raise NotImplementedError


class ChatModelReviewer:
    """A :class:`~teamsim.agents.Reviewer` (and :class:`~teamsim.agents.Prefetching`) whose
    verdicts come from a chat model."""

    prefetch: ClassVar[bool] = True

    def review(self, request: ReviewRequest) -> Review:
        """Ask the model for a verdict; :class:`~teamsim.agents.AgentFailure` if it gives
        none usable after the settings' tries."""
        raise NotImplementedError


class ModelTeammate:
    """One teammate backed by one chat model: its :attr:`drafter`, :attr:`reviewer` and
    :meth:`usage`."""

    drafter: ChatModelDrafter
    reviewer: ChatModelReviewer

    def __init__(
        self,
        model: BaseChatModel | None,
        *,
        name: str,
        model_id: str,
        settings: ModelSettings | None = None,
        cassette: Cassette | None = None,
        seed: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        raise NotImplementedError

    def usage(self) -> ModelUsage:
        """This teammate's model use so far."""
        raise NotImplementedError
