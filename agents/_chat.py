"""Model-backed teammates: a drafter and a reviewer around any LangChain chat model.

:class:`ModelTeammate` builds both around one :class:`~langchain_core.language_models.
BaseChatModel`; they share its cassette, retries and accounting (the ``_client`` module).

**Drafts.** The prompt (a system and a user message, rendered from :class:`PromptTemplates`)
carries the contact, the sequence and step, the thread so far, the channel's rules and, on a
revision, the reviewer's notes and the previous draft. The reply is read as ``SUBJECT:`` and
``BODY:`` (or a JSON object with ``subject`` and ``body``) and checked against the channel: a
reply with no body, no subject on email, a body over the channel's length or without the
opt-out line it needs is malformed, and is asked for again with a note saying what was wrong.

**Reviews.** When the model can bind tools, the verdict comes through
``with_structured_output`` (a ``ReviewVerdict`` tool call: ``verdict`` pass/revise,
``reasons``); otherwise from the text: a JSON object, or a ``VERDICT: pass|revise`` line and
``- reason`` lines.

**Simulated minutes** never come from wall-clock latency: a draft takes ``draft_minutes``
(``revision_minutes`` on a revision) and a review ``review_minutes``, plus
``ceil(tokens_out / 1000 * minutes_per_1k_tokens)`` for the output tokens of the reply used.

**Tries.** Every model try counts against ``max_tries``: timeouts and rate limits (retried
after a seeded backoff) and malformed replies alike. Out of tries, the work raises
:class:`~teamsim.agents.AgentFailure` (``rate limited after 4 tries``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import ClassVar, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage

from teamsim.agents._cassette import Cassette
from teamsim.agents._client import ModelClient, Prompt, Session, usage_tokens
from teamsim.agents._prompts import context, render_prompt, review_context, where
from teamsim.agents._replies import Malformed, ReviewVerdict, parse_draft, parse_verdict, reply_text
from teamsim.agents._settings import ModelSettings
from teamsim.agents._types import (
    AgentFailure,
    Draft,
    DraftRequest,
    Review,
    ReviewRequest,
    Verdict,
)
from teamsim.agents._usage import ModelUsage
from teamsim.model import SimMinutes, ValidationError, channel_spec

__all__ = ["ChatModelDrafter", "ChatModelReviewer", "ModelTeammate"]

_TOOL = ReviewVerdict.__name__
T = TypeVar("T")


class ChatModelDrafter:
    """A :class:`~teamsim.agents.Drafter` (and :class:`~teamsim.agents.Prefetching`) whose
    drafts come from a chat model. Built by :class:`ModelTeammate`."""

    prefetch: ClassVar[bool] = True

    def __init__(self, client: ModelClient) -> None:
        self._client = client

    def draft(self, request: DraftRequest) -> Draft:
        """Ask the model for the message ``request`` describes.

        Raises:
            AgentFailure: no usable reply within the settings' ``max_tries``.
            CassetteMiss: replay mode, and the cassette has no reply to the prompt.
            ValidationError: a prompt template failed to render.
        """
        settings = self._client.settings
        values = context(request)
        name = request.teammate
        prompt = Prompt(
            purpose="draft",
            messages=(
                ("system", render_prompt(settings.prompts, "draft_system", values, name)),
                ("human", render_prompt(settings.prompts, "draft_user", values, name)),
            ),
            where=where(request),
        )
        return self._client.work(prompt, lambda session: self._draft(request, prompt, session))

    def _draft(self, request: DraftRequest, prompt: Prompt, session: Session) -> Draft:
        spec = channel_spec(request.channel)

        def read(message: AIMessage) -> Draft:
            subject, body = parse_draft(reply_text(message), spec)
            settings = self._client.settings
            base = settings.revision_minutes if request.revision else settings.draft_minutes
            return Draft(subject=subject, body=body, minutes=_minutes(base, message, settings))

        return _ask_until_usable(session, prompt, self._client.settings, read)


class ChatModelReviewer:
    """A :class:`~teamsim.agents.Reviewer` (and :class:`~teamsim.agents.Prefetching`) whose
    verdicts come from a chat model. Built by :class:`ModelTeammate`."""

    prefetch: ClassVar[bool] = True

    def __init__(self, client: ModelClient) -> None:
        self._client = client

    def review(self, request: ReviewRequest) -> Review:
        """Ask the model for a verdict on ``request.draft``.

        Raises:
            AgentFailure: no usable verdict within the settings' ``max_tries``.
            CassetteMiss: replay mode, and the cassette has no reply to the prompt.
            ValidationError: a prompt template failed to render.
        """
        structured = self._client.tool_calling(ReviewVerdict)
        if structured is None:  # no model: replay what was recorded, tool call or text
            structured = Session(self._client, None).has_recording(self._prompt(request, True))
        prompt = self._prompt(request, structured)
        return self._client.work(prompt, lambda session: self._review(prompt, session))

    def _prompt(self, request: ReviewRequest, structured: bool) -> Prompt:
        settings = self._client.settings
        values = review_context(request.draft, request.request, request.reviewer,
                                structured=structured, tool_name=_TOOL)
        name = request.reviewer
        return Prompt(
            purpose="review",
            messages=(
                ("system", render_prompt(settings.prompts, "review_system", values, name)),
                ("human", render_prompt(settings.prompts, "review_user", values, name)),
            ),
            schema=ReviewVerdict if structured else None,
            where=f"review of {where(request.request)}",
        )

    def _review(self, prompt: Prompt, session: Session) -> Review:
        settings = self._client.settings

        def read(message: AIMessage) -> Review:
            verdict = parse_verdict(message, _TOOL)
            return Review(
                verdict=Verdict(verdict.verdict),
                reasons=tuple(verdict.reasons),
                minutes=_minutes(settings.review_minutes, message, settings),
            )

        return _ask_until_usable(session, prompt, settings, read)


def _ask_until_usable(session: Session, prompt: Prompt, settings: ModelSettings,
                         read: Callable[[AIMessage], T]) -> T:
    """Ask ``prompt`` until ``read`` accepts the reply or the tries run out; a malformed reply
    is asked again with a note saying what was wrong."""
    tries = 0
    current = prompt
    while True:
        try:
            message, used = session.ask(current, tries_before=tries,
                                        tries_left=max(settings.max_tries - tries, 1))
        except AgentFailure as failure:
            raise AgentFailure(failure.reason, tries=tries + failure.tries) from failure
        tries += used
        try:
            return read(message)
        except Malformed as bad:
            if tries >= settings.max_tries:
                raise AgentFailure(f"malformed reply: {bad}", tries=tries) from None
            note = (f"Your reply could not be used: {bad}. Answer again, following the "
                    "instructions and the reply form exactly.")
            current = Prompt(purpose=prompt.purpose, messages=(*prompt.messages, ("human", note)),
                             schema=prompt.schema,
                             where=f"{prompt.where}, asked again after try {tries}")


def _minutes(base: SimMinutes, message: AIMessage, settings: ModelSettings) -> SimMinutes:
    """``base + ceil(tokens_out / 1000 * minutes_per_1k_tokens)``."""
    _, tokens_out = usage_tokens(message)
    return base + math.ceil(tokens_out * settings.minutes_per_1k_tokens / 1000)


class ModelTeammate:
    """One teammate backed by one chat model: its :attr:`drafter`, :attr:`reviewer` and
    :meth:`usage`.

    Args:
        model: any LangChain chat model; ``None`` only with a ``replay`` cassette (offline:
            nothing to call).
        name: the teammate's name (in cassette entries and errors).
        model_id: names the model in cassette keys (``"openai:gpt-4o-mini"``): the same
            prompt to another model is another recording.
        settings: prompts, simulated minutes, prices and retries.
        cassette: the run's recorded replies, shared by all teammates; ``None`` records
            nothing.
        seed: seeds the retry backoff's jitter.
        sleep: waits between retries (tests pass one that records the waits).
        redact: masks secrets in the reason of a failure before it is raised or recorded (a
            provider's error text can quote the API key); default: the text as it is.

    The drafter and reviewer are :class:`~teamsim.agents.Prefetching`: a call made from a
    thread other than the one that built the teammate is work done ahead of time; the next
    equal request from the building thread gets its result without another model call.
    """

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
        redact: Callable[[str], str] = str,
    ) -> None:
        if not name.strip():
            raise ValidationError("a model teammate needs a name")
        if not model_id.strip():
            raise ValidationError(f"teammate {name!r}: model_id must name the model")
        if model is None and (cassette is None or cassette.mode != "replay"):
            raise ValidationError(
                f"teammate {name!r}: no model to call; give it a chat model, or a cassette in "
                "'replay' mode to run offline from recorded replies")
        if model is not None and not isinstance(model, BaseChatModel):
            raise ValidationError(
                f"teammate {name!r}: the model must be a LangChain chat model "
                f"(langchain_core BaseChatModel), got {type(model).__name__}")
        self.name = name
        self.model_id = model_id
        self.settings = settings or ModelSettings()
        self._client = ModelClient(model, name=name, model_id=model_id, settings=self.settings,
                                   cassette=cassette, seed=seed, sleep=sleep,
                                   redact=redact)
        self.drafter = ChatModelDrafter(self._client)
        self.reviewer = ChatModelReviewer(self._client)

    def usage(self) -> ModelUsage:
        """This teammate's model use so far (read at the end of a run for
        ``prefetch_unused``)."""
        return self._client.usage()

    def __repr__(self) -> str:
        return f"ModelTeammate(name={self.name!r}, model_id={self.model_id!r})"
