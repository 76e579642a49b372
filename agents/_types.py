"""The plug points of a teammate: what a drafter is asked and returns, what a reviewer checks.

``Drafter`` and ``Reviewer`` are one-method protocols. Researchers plug in their own (an LLM
drafter, say); tests and notebooks use :class:`FakeDrafter` / :class:`FakeReviewer`, which wrap
a plain function, the way httpx's ``MockTransport`` wraps a handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol, runtime_checkable

from teamsim.model import Contact, MessageStep, Sequence, SimMinutes, TeamsimError

__all__ = [
    "AgentFailure",
    "Draft",
    "DraftRequest",
    "Drafter",
    "FakeDrafter",
    "FakeReviewer",
    "Prefetching",
    "Review",
    "ReviewRequest",
    "Reviewer",
    "ThreadMessage",
    "Verdict",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadMessage:
    """A message already sent to the contact in this sequence (or this chat)."""

    step_id: str | None
    channel: str
    subject: str | None
    body: str
    sent_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Draft:
    """A drafted message: subject (email only), body and the simulated minutes it took."""

    subject: str | None
    body: str
    minutes: SimMinutes = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftRequest:
    """Everything a drafter needs to write one message.

    Attributes:
        contact: the person the message is for.
        channel: the channel it goes out on (``email``, ``sms``...).
        teammate: the name of the drafting teammate (it signs the message).
        brief: what the message should say (the step's brief, or a chat request's text).
        sequence: the sequence, or ``None`` for a one-off chat.
        step: the message step, or ``None`` for a one-off chat.
        step_index: 0 for the sequence's first message step, 1 for the next, and so on.
        thread: earlier messages to this contact in this sequence, oldest first.
        revision: 0 for a first draft, 1 for the first revision, and so on.
        review_notes: on a revision, the reviewer's reasons for asking for it.
        previous: on a revision, the draft being revised.
    """

    contact: Contact
    channel: str
    teammate: str
    brief: str = ""
    sequence: Sequence | None = None
    step: MessageStep | None = None
    step_index: int = 0
    thread: tuple[ThreadMessage, ...] = ()
    revision: int = 0
    review_notes: tuple[str, ...] = ()
    previous: Draft | None = None


class Verdict(StrEnum):
    """A peer reviewer's verdict."""

    PASS = "pass"
    REVISE = "revise"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewRequest:
    """A draft to check, with the request it answered and the reviewing teammate's name."""

    draft: Draft
    request: DraftRequest
    reviewer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    """A peer review: ``pass`` or ``revise``, the reasons, and the minutes it took."""

    verdict: Verdict
    reasons: tuple[str, ...] = field(default_factory=tuple)
    minutes: SimMinutes = 0


class Drafter(Protocol):
    """Writes a message for a :class:`DraftRequest`."""

    def draft(self, request: DraftRequest) -> Draft:
        """Return the drafted message and the simulated minutes the work took."""
        ...


class Reviewer(Protocol):
    """Checks a draft the way a careful colleague would."""

    def review(self, request: ReviewRequest) -> Review:
        """Return the verdict, its reasons and the simulated minutes the check took."""
        ...


class AgentFailure(TeamsimError):
    """A drafter or reviewer could not do its work (a model timed out, was rate limited or
    kept answering in a shape that cannot be used), after the retries it was allowed.

    The pipeline records it as a failed task that lands in Needs attention; the run goes on.
    Any other exception a drafter or reviewer raises is treated the same way, as one try.

    Attributes:
        reason: what went wrong, in words (``rate limited``, ``timed out``...).
        tries: how many times the work was attempted.
    """

    def __init__(self, reason: str, *, tries: int = 1) -> None:
        super().__init__(f"{reason} after {tries} {'try' if tries == 1 else 'tries'}")
        self.reason = reason
        self.tries = tries


@runtime_checkable
class Prefetching(Protocol):
    """A drafter or reviewer whose work may be asked for ahead of time, from worker threads.

    The pipeline calls ``draft``/``review`` of such an agent concurrently for the work it
    expects in the same simulated minute, and again, one at a time and in a fixed order, when
    it applies the results. The agent keeps what an early call produced (or the
    :class:`AgentFailure` it raised) and hands it to the next equal request without working
    again, so the results, and the run's digest, do not depend on which call finished first.
    """

    prefetch: ClassVar[bool]


class FakeDrafter:
    """A :class:`Drafter` that calls a plain function, for tests and notebooks."""

    def __init__(self, fn: Callable[[DraftRequest], Draft]) -> None:
        self._fn = fn

    def draft(self, request: DraftRequest) -> Draft:
        """Return ``fn(request)``."""
        return self._fn(request)


class FakeReviewer:
    """A :class:`Reviewer` that calls a plain function, for tests and notebooks."""

    def __init__(self, fn: Callable[[ReviewRequest], Review]) -> None:
        self._fn = fn

    def review(self, request: ReviewRequest) -> Review:
        """Return ``fn(request)``."""
        return self._fn(request)
