"""The default reviewer: checks a draft the way a careful colleague would.

:class:`RuleReviewer` runs each check in :class:`Check` and asks for a revision when any of
them finds something. Every reason starts with its check's name (``"placeholders: ..."``), so
a drafter can tell what to fix and a report can count reasons by kind.
"""

from __future__ import annotations

import difflib
import functools
import re
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from teamsim.agents._text import (
    DEFAULT_OPT_OUT_PHRASES,
    DEFAULT_PLACEHOLDER_PATTERNS,
    find_placeholders,
    minutes_for,
    sms_size,
    word_count,
)
from teamsim.agents._types import Draft, DraftRequest, Review, ReviewRequest, Verdict
from teamsim.model import Contact, Minutes, channel_spec

__all__ = ["Check", "ReviewRules", "RuleReviewer"]


class Check(StrEnum):
    """The checks of :class:`RuleReviewer`; each reason starts with ``"<check>: "``."""

    PLACEHOLDERS = "placeholders"
    NAME = "name"
    LENGTH = "length"
    SUBJECT = "subject"
    REPEAT = "repeat"
    OPT_OUT = "opt_out"
    BANNED_PHRASE = "banned_phrase"


_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening))\b[ \t]*,?[ \t]*"
    r"(?P<name>[^\s,!.:;?]+)(?:\.?[ \t]+(?P<surname>[^\s,!.:;?]+))?",
    re.IGNORECASE,
)
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof"})


class ReviewRules(BaseModel):
    """What :class:`RuleReviewer` checks and how long it takes.

    A pydantic model so a scenario file can set it directly.

    Attributes:
        checks: the checks to run (all by default).
        banned_phrases: phrases a message must not contain (case-insensitive, whole words).
        opt_out_phrases: any one of these (case-insensitive) counts as an opt-out line.
        placeholder_patterns: regular expressions for text meant to be replaced.
        generic_greetings: words after "Hi" that greet without naming anyone ("there").
        near_duplicate_ratio: a body this similar (difflib ratio) to an earlier one repeats it.
        max_chars: per-channel length limits that override the channel's own.
        sms_one_segment: hold SMS to one segment (160 GSM characters, 70 otherwise).
        base_minutes: simulated minutes every review takes.
        minutes_per_100_words: extra minutes for every started hundred words of the draft.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    checks: frozenset[Check] = frozenset(Check)
    banned_phrases: tuple[str, ...] = ()
    opt_out_phrases: tuple[str, ...] = DEFAULT_OPT_OUT_PHRASES
    placeholder_patterns: tuple[str, ...] = DEFAULT_PLACEHOLDER_PATTERNS
    generic_greetings: frozenset[str] = frozenset(
        {"there", "all", "everyone", "team", "folks", "friend", "friends"}
    )
    near_duplicate_ratio: float = Field(default=0.9, gt=0, le=1)
    max_chars: dict[str, Annotated[int, Field(ge=1, le=100_000)]] = Field(default_factory=dict)
    sms_one_segment: bool = True
    base_minutes: Minutes = 3
    minutes_per_100_words: Minutes = 1


class RuleReviewer:
    """A :class:`~teamsim.agents.Reviewer` that applies :class:`ReviewRules`.

    The verdict is ``revise`` when any check finds something, else ``pass``; the minutes grow
    with the draft's length. The same draft always gets the same review.
    """

    def __init__(self, rules: ReviewRules | None = None) -> None:
        self.rules = rules or ReviewRules()

    def review(self, request: ReviewRequest) -> Review:
        """Check ``request.draft`` against what it was written for."""
        draft, asked = request.draft, request.request
        reasons: list[str] = []
        for check in Check:
            if check in self.rules.checks:
                reasons.extend(f"{check}: {found}" for found in self._run(check, draft, asked))
        words = word_count(draft.body) + word_count(draft.subject or "")
        return Review(
            verdict=Verdict.REVISE if reasons else Verdict.PASS,
            reasons=tuple(reasons),
            minutes=minutes_for(words, self.rules.base_minutes, self.rules.minutes_per_100_words),
        )

    def _run(self, check: Check, draft: Draft, asked: DraftRequest) -> list[str]:
        if check is Check.PLACEHOLDERS:
            return self._placeholders(draft)
        if check is Check.NAME:
            return _name(draft.body, asked.contact, self.rules.generic_greetings)
        if check is Check.LENGTH:
            return self._length(draft.body, asked.channel)
        if check is Check.SUBJECT:
            if not channel_spec(asked.channel).has_subject or (draft.subject or "").strip():
                return []
            return [f"a message on {asked.channel} needs a subject line; write one"]
        if check is Check.REPEAT:
            return self._repeat(draft.body, asked)
        if check is Check.OPT_OUT:
            return self._opt_out(draft.body, asked.channel)
        return self._banned(draft)

    def _placeholders(self, draft: Draft) -> list[str]:
        found = []
        for part, text in (("subject", draft.subject or ""), ("body", draft.body)):
            for placeholder in find_placeholders(text, self.rules.placeholder_patterns):
                found.append(
                    f"unfilled placeholder {placeholder} in the {part}; "
                    "fill it in or remove the sentence"
                )
        return found

    def _length(self, body: str, channel: str) -> list[str]:
        limit = self.rules.max_chars.get(channel, channel_spec(channel).max_chars)
        size = len(body)
        unit = "characters"
        if channel == "sms" and self.rules.sms_one_segment:
            size, limit, unit = sms_size(body, limit)
        if limit is None or size <= limit:
            return []
        return [f"the body is {size} {unit}, over the {channel} limit of {limit}; shorten it"]

    def _repeat(self, body: str, asked: DraftRequest) -> list[str]:
        mine = _normalise(body)
        for earlier in asked.thread:
            theirs = _normalise(earlier.body)
            where = f"at step {earlier.step_id}" if earlier.step_id else "earlier"
            if mine == theirs:
                return [f"the body repeats the message sent {where}; say something new"]
            matcher = difflib.SequenceMatcher(None, mine, theirs, autojunk=False)
            # real_quick_ratio and quick_ratio are cheap upper bounds of ratio: most pairs of
            # messages are ruled out by them without the quadratic comparison.
            if (matcher.real_quick_ratio() < self.rules.near_duplicate_ratio
                    or matcher.quick_ratio() < self.rules.near_duplicate_ratio):
                continue
            ratio = matcher.ratio()
            if ratio >= self.rules.near_duplicate_ratio:
                return [
                    f"the body is {ratio:.0%} the same as the message sent {where}; "
                    "say something new"
                ]
        return []

    def _opt_out(self, body: str, channel: str) -> list[str]:
        if not channel_spec(channel).needs_opt_out:
            return []
        lowered = body.lower()
        if any(phrase.lower() in lowered for phrase in self.rules.opt_out_phrases):
            return []
        return [f"a message on {channel} must say how to opt out; add an opt-out line"]

    def _banned(self, draft: Draft) -> list[str]:
        text = f"{draft.subject or ''}\n{draft.body}"
        return [
            f"uses the banned phrase {phrase!r}; reword it"
            for phrase, pattern in _banned_patterns(self.rules.banned_phrases)
            if pattern.search(text)
        ]


@functools.lru_cache(maxsize=64)
def _banned_patterns(phrases: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each banned phrase with its whole-word, case-insensitive pattern, compiled once per
    set of rules (not once per review)."""
    return tuple(
        (phrase, re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)", re.IGNORECASE))
        for phrase in phrases
    )


def _name(body: str, contact: Contact, generic: frozenset[str]) -> list[str]:
    """What is wrong with how the greeting (the first line) names the contact."""
    opening = next((line for line in body.splitlines() if line.strip()), "")
    match = _GREETING.match(opening)
    if match is None:
        return []
    said = match.group("name")
    if said.lower() in generic:
        return []
    first, last = contact.first_name, contact.name.split()[-1]
    if said.rstrip(".").lower() in _TITLES:
        surname = match.group("surname") or ""
        if surname == last:
            return []
        return [f"the greeting says {match.group(0).strip()!r}; address them as {last}"]
    if said == first:
        return []
    local_part = contact.email.split("@")[0]
    if said.lower() == local_part.lower() and local_part.lower() != first.lower():
        why = f"uses the email address {said!r} instead of their name"
    elif said.lower() == first.lower():
        why = f"writes their name as {said!r}"
    else:
        why = f"greets {said!r}"
    return [f"the greeting {why}, but the contact is {first}; greet them as {first}"]


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())
