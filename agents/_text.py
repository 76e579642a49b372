"""Text helpers the template drafter and the rule reviewer share.

The drafter renders an unfilled template variable as ``{{ name }}`` and the reviewer looks for
exactly that (and the other placeholder spellings people type by hand), so both sides agree on
what "unfilled" means.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from teamsim.model import SimMinutes

__all__ = [
    "DEFAULT_OPT_OUT_PHRASES",
    "DEFAULT_PLACEHOLDER_PATTERNS",
    "find_placeholders",
    "minutes_for",
    "sms_size",
    "strip_placeholder_sentences",
    "word_count",
]

DEFAULT_PLACEHOLDER_PATTERNS: tuple[str, ...] = (
    r"\{\{.*?\}\}",  # a Jinja variable left in the text: {{ project }}
    r"\{%.*?%\}",  # a Jinja tag left in the text: {% if x %}
    r"\{\s*[A-Za-z_][\w.]*\s*\}",  # a str.format field: {first_name}
    r"\[\s*[A-Za-z][\w .'/-]*\](?!\()",  # a hand-typed slot: [Name], [Company] (not a link)
)
"""Regular expressions for text that was meant to be replaced before sending."""

DEFAULT_OPT_OUT_PHRASES: tuple[str, ...] = ("opt out", "opt-out", "unsubscribe", "reply stop")
"""Phrases (case-insensitive) any one of which makes a line an opt-out line."""

# GSM 03.38: the characters one 160-character SMS segment can carry; the extension table's
# characters take two places each. Anything else makes the SMS UCS-2, 70 characters a segment.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")
_UCS2_SEGMENT = 70

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


def find_placeholders(
    text: str, patterns: Iterable[str] = DEFAULT_PLACEHOLDER_PATTERNS
) -> list[str]:
    """The unfilled placeholders in ``text``, in order of appearance, each once.

    Args:
        text: the text to search.
        patterns: regular expressions that match a placeholder.
    """
    spans: list[tuple[int, int, str]] = []
    compiled = _compiled(patterns if isinstance(patterns, tuple) else tuple(patterns))
    for pattern in compiled:
        spans.extend((m.start(), -m.end(), m.group(0)) for m in pattern.finditer(text))
    seen: list[str] = []
    covered = 0
    # Longest match first at each start; a match inside one already taken ({ x } in {{ x }})
    # is part of it, not another placeholder.
    for start, neg_end, match in sorted(spans):
        if start < covered:
            continue
        covered = -neg_end
        if match not in seen:
            seen.append(match)
    return seen


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """``patterns`` compiled once per set (``re``'s own cache costs a lookup per call)."""
    return tuple(re.compile(pattern) for pattern in patterns)


def strip_placeholder_sentences(
    text: str, patterns: Iterable[str] = DEFAULT_PLACEHOLDER_PATTERNS
) -> str:
    """``text`` without the sentences that hold an unfilled placeholder.

    Lines left empty disappear; paragraph breaks stay single.
    """
    pattern_list = list(patterns)
    lines: list[str] = []
    for line in text.splitlines():
        if not find_placeholders(line, pattern_list):
            lines.append(line)
            continue
        kept = [s for s in _SENTENCE_BREAK.split(line) if not find_placeholders(s, pattern_list)]
        if kept:
            lines.append(" ".join(kept))
    cleaned: list[str] = []
    for line in lines:
        if not line.strip() and (not cleaned or not cleaned[-1].strip()):
            continue
        cleaned.append(line)
    return "\n".join(cleaned).strip()


def word_count(text: str) -> int:
    """The number of whitespace-separated words in ``text``."""
    return len(text.split())


def minutes_for(words: int, base: SimMinutes, per_100_words: SimMinutes) -> SimMinutes:
    """``base`` plus ``per_100_words`` for every started hundred words."""
    return base + per_100_words * -(-words // 100)


def sms_size(body: str, limit: int | None) -> tuple[int, int | None, str]:
    """The size of ``body`` in SMS units, the one-segment limit that applies, and the unit.

    Args:
        body: the SMS text.
        limit: the channel's own limit (160 for GSM text).
    """
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in body):
        return sum(2 if c in _GSM_EXTENDED else 1 for c in body), limit, "GSM characters"
    capped = _UCS2_SEGMENT if limit is None else min(limit, _UCS2_SEGMENT)
    units = len(body.encode("utf-16-le")) // 2
    return units, capped, "UCS-2 characters (not all GSM, so 70 fit one SMS)"
