"""Reading a model's replies: a draft (``SUBJECT:``/``BODY:``) and a review verdict (a tool
call, a JSON object, or ``VERDICT:`` with ``- reason`` lines).

A reply that cannot be used raises :class:`Malformed`, saying what was wrong in words the
model is then told in its retry.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Literal

from langchain_core.messages import AIMessage
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from teamsim.agents._prompts import OPT_OUT_LINE
from teamsim.agents._text import DEFAULT_OPT_OUT_PHRASES, sms_size
from teamsim.model import ChannelSpec

__all__ = ["MAX_SUBJECT_CHARS", "Malformed", "ReviewVerdict", "parse_draft", "parse_verdict",
           "reply_text"]

MAX_SUBJECT_CHARS = 150
"""The longest subject line a drafted email may have."""


class Malformed(Exception):
    """A reply that cannot be used; ``str()`` says what was wrong."""


class ReviewVerdict(BaseModel):
    """A reviewer's verdict on an outreach draft: pass it, or ask for a revision."""

    model_config = ConfigDict(extra="forbid")

    # What the cassette key says of this schema: written out rather than taken from
    # model_json_schema(), whose details (titles, descriptions) may change with pydantic's
    # version and would then turn every recorded review into a miss.
    key_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"verdict": {"enum": ["pass", "revise"]},
                       "reasons": {"type": "array", "items": {"type": "string"}}},
        "required": ["verdict"],
    }

    verdict: Literal["pass", "revise"] = Field(
        description="'pass' if the draft can be sent as it is, 'revise' if it must change")
    reasons: list[str] = Field(
        default_factory=list,
        description="for 'revise', what to fix, one short sentence each; empty for 'pass'")


_FENCE = re.compile(r"^```[\w-]*\s*\n(?P<inner>.*?)\n?```\s*$", re.DOTALL)
_SUBJECT = re.compile(r"^[ \t*_#]*subject[ \t*_]*:[ \t*_]*(?P<text>.*)$",
                      re.IGNORECASE | re.MULTILINE)
_BODY = re.compile(r"^[ \t*_#]*body[ \t*_]*:[ \t*_]*", re.IGNORECASE | re.MULTILINE)
_VERDICT = re.compile(r"^[ \t*_#]*verdict[ \t*_]*[:=-][ \t*_\"']*(?P<word>pass|revise)\b",
                      re.IGNORECASE | re.MULTILINE)
_REASON = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(?P<text>\S.*)$", re.MULTILINE)


def reply_text(message: AIMessage) -> str:
    """The text of a reply (the text blocks of a list content, joined)."""
    return str(message.text).strip()


def parse_draft(text: str, spec: ChannelSpec) -> tuple[str | None, str]:
    """The subject (``None`` on channels without one) and body of a drafting reply.

    Raises:
        Malformed: no body, no subject on a channel that needs one, a body over the channel's
            length, or no opt-out line where the channel needs one.
    """
    text = _unfenced(text)
    subject, body = _json_draft(text) or _marked_draft(text)
    body = body.strip()
    subject = " ".join((subject or "").split()) or None
    if not body:
        raise Malformed("the reply has no message body (write it after a line 'BODY:')")
    if spec.has_subject:
        if subject is None:
            raise Malformed("the reply has no subject line (write it as 'SUBJECT: ...' on the "
                            "first line)")
        if len(subject) > MAX_SUBJECT_CHARS:
            raise Malformed(f"the subject line is {len(subject)} characters; keep it under "
                            f"{MAX_SUBJECT_CHARS}")
    else:
        subject = None
    _check_length(body, spec)
    if spec.needs_opt_out and not any(p in body.lower() for p in DEFAULT_OPT_OUT_PHRASES):
        raise Malformed(f"the body has no opt-out line; end it with: {OPT_OUT_LINE}")
    return subject, body


def parse_verdict(message: AIMessage, schema_name: str) -> ReviewVerdict:
    """The verdict in a reviewing reply: the ``schema_name`` tool call when there is one,
    else a JSON object in the text, else a ``VERDICT:`` line with ``- reason`` lines.

    Raises:
        Malformed: no verdict found, an invalid one, or ``revise`` without a reason.
    """
    calls = [call for call in message.tool_calls if call["name"] == schema_name]
    if calls:
        verdict = _validated(calls[0]["args"], f"the {schema_name} tool call")
    else:
        text = _unfenced(reply_text(message))
        found = _json_object(text)
        if found is not None and "verdict" in found:
            verdict = _validated(found, "the JSON verdict")
        else:
            verdict = _marked_verdict(text)
    reasons = [" ".join(reason.split()) for reason in verdict.reasons]
    verdict = ReviewVerdict(verdict=verdict.verdict, reasons=[r for r in reasons if r])
    if verdict.verdict == "revise" and not verdict.reasons:
        raise Malformed("a 'revise' verdict needs at least one reason saying what to fix")
    return verdict


def _unfenced(text: str) -> str:
    text = text.strip()
    match = _FENCE.match(text)
    return match.group("inner").strip() if match else text


def _json_object(text: str) -> dict[str, Any] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start:end + 1])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _json_draft(text: str) -> tuple[str | None, str] | None:
    if not text.startswith("{"):
        return None
    found = _json_object(text)
    if found is None or not isinstance(found.get("body"), str):
        return None
    subject = found.get("subject")
    return (subject if isinstance(subject, str) else None), found["body"]


def _marked_draft(text: str) -> tuple[str | None, str]:
    body_match = _BODY.search(text)
    # A "Subject:" line inside the body is the body's business, not the subject line.
    head = text[:body_match.start()] if body_match is not None else text
    subject_match = _SUBJECT.search(head)
    subject = subject_match.group("text").strip(" *_") if subject_match else None
    if body_match is not None:
        body = text[body_match.end():]
    elif subject_match is not None:
        body = text[:subject_match.start()] + text[subject_match.end():]
    else:
        body = text
    return subject, body


def _check_length(body: str, spec: ChannelSpec) -> None:
    if spec.max_chars is None:
        return
    size, limit, unit = len(body), spec.max_chars, "characters"
    if spec.name == "sms":
        size, capped, unit = sms_size(body, spec.max_chars)
        limit = capped if capped is not None else limit
    if size > limit:
        raise Malformed(f"the body is {size} {unit}, over the {spec.name} limit of {limit}; "
                        "shorten it")


def _validated(value: Any, what: str) -> ReviewVerdict:
    try:
        return ReviewVerdict.model_validate(value)
    except PydanticError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "verdict"
        raise Malformed(f"{what} is not a valid verdict ({where}: {first['msg']})") from None


def _marked_verdict(text: str) -> ReviewVerdict:
    match = _VERDICT.search(text)
    if match is None:
        raise Malformed("the reply has no verdict (start it with 'VERDICT: pass' or "
                        "'VERDICT: revise')")
    after = text[match.end():]
    reasons = [m.group("text").strip() for m in _REASON.finditer(after)]
    word = match.group("word").lower()
    return ReviewVerdict(verdict="pass" if word == "pass" else "revise", reasons=reasons)
