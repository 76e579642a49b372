"""Text helpers the template drafter and the rule reviewer share.

The drafter renders an unfilled template variable as ``{{ name }}`` and the reviewer looks for
exactly that (and the other placeholder spellings people type by hand), so both sides agree on
what "unfilled" means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from teamsim.domain import SimMinutes

__all__ = [
    "DEFAULT_PLACEHOLDER_PATTERNS",
    "find_placeholders",
    "minutes_for",
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

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


def find_placeholders(
    text: str, patterns: Iterable[str] = DEFAULT_PLACEHOLDER_PATTERNS
) -> list[str]:
    """The unfilled placeholders in ``text``, in order of appearance, each once.

    Args:
        text: the text to search.
        patterns: regular expressions that match a placeholder.
    """
    found: list[tuple[int, str]] = []
    for pattern in patterns:
        found.extend((m.start(), m.group(0)) for m in re.finditer(pattern, text))
    seen: list[str] = []
    for _, match in sorted(found):
        if match not in seen:
            seen.append(match)
    return seen


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
