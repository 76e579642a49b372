"""An offline stand-in chat model for demos, tests and benchmarks: no network, no randomness.

:class:`DemoChatModel` is a real LangChain chat model (a ``BaseChatModel``) that reads the
prompts teamsim's shipped templates write and answers them the way a careful model would:

- asked to draft, it writes a short personalised message from the contact's name, company and
  attributes, the step's label and brief and the thread so far, within the channel's rules
  (a subject line on email, the opt-out line where it is needed, one SMS on ``sms``); on a
  revision it rewords and addresses the reviewer's notes;
- asked to review, it checks for unfilled placeholders, the length limit, a missing opt-out
  line and a greeting without the contact's first name, and answers with a ``ReviewVerdict``
  tool call when tools are bound (``bind_tools``, as ``with_structured_output`` does) or with
  ``VERDICT:`` and ``- reason`` lines otherwise.

Its replies carry ``usage_metadata`` counted from words (4 tokens per 3 words). Every choice it
makes comes from the prompt's SHA-256, so the same prompt always gets the same reply.
``latency_seconds`` makes each call sleep (for benchmarks of concurrent calls). A scenario
names it as ``teamsim.agents.demo:demo_model``. Prompts from overridden templates are read as
well as their lines allow.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from teamsim.agents._text import DEFAULT_OPT_OUT_PHRASES, find_placeholders, sms_size
from teamsim.model import channel_spec

__all__ = ["DemoChatModel", "demo_model"]

_OPT_OUT = "Reply STOP to opt out."
_SLIP = "You can pick a time that suits you here: [calendar link]."
_ASKS = (
    "Would a 15-minute call next week be useful?",
    "Would it help if I sent over a short example?",
    "Is this worth a quick conversation?",
)
_SHORT_ASKS = ("Worth a quick call?", "Shall I send an example?", "Open to a short chat?")
_OFFER_CLOSES = (
    "Just reply with a time that suits and I'll set it up.",
    "Reply to this email and I'll book it in.",
    "Let me know what works for you and I'll arrange it.",
)
_SHORT_OFFER_CLOSES = ("Reply to book.", "Just reply and I'll set it up.", "Want me to book it?")
_FOLLOW_UPS = (
    "I wanted to follow up on my last {ref}.",
    "I'm coming back to my last {ref} in case it got buried.",
    "A quick follow-up on my last {ref}.",
)
_FOLLOW_UP_POINTS = (
    "If the timing is off, just say so and I'll check back in a few months.",
    "Happy to send a one-page summary instead, if that is easier than a call.",
    "Most teams start with a small trial, with no commitment.",
)
_REVISED_OPENERS = (
    "I'll keep this short.",
    "Here is the short version.",
    "One quick note from me.",
)


class DemoChatModel(BaseChatModel):
    """A deterministic, offline chat model that drafts and reviews outreach (see the module).

    Attributes:
        latency_seconds: wall-clock seconds each call sleeps (0: none).
        slip_every: about one first draft in this many (chosen by the prompt's digest) leaves
            a placeholder in, for the reviewer to catch; 0 never.
        tool_names: the tools bound by :meth:`bind_tools` (answers then use the first).
    """

    latency_seconds: float = Field(default=0.0, ge=0, le=60)
    slip_every: int = Field(default=0, ge=0)
    tool_names: tuple[str, ...] = ()

    @property
    def _llm_type(self) -> str:
        return "teamsim-demo"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"latency_seconds": self.latency_seconds, "slip_every": self.slip_every}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """A copy that answers reviews with a call of the first of ``tools``."""
        names = tuple(convert_to_openai_tool(tool)["function"]["name"] for tool in tools)
        return self.model_copy(update={"tool_names": names})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        system = "\n".join(str(m.text) for m in messages if m.type == "system")
        asked = "\n".join(str(m.text) for m in messages if m.type != "system")
        digest = hashlib.sha256(f"{system}\n{asked}".encode()).hexdigest()
        if re.search(r"^Review this\b", asked, re.MULTILINE) or "reviewing" in system:
            message = self._review(system, asked, digest)
        else:
            message = AIMessage(content=_draft(system, asked, digest, self.slip_every))
        words_in = len(f"{system}\n{asked}".split())
        words_out = len(str(message.text).split()) + sum(
            len(str(call["args"]).split()) for call in message.tool_calls)
        tokens_in, tokens_out = -(-words_in * 4 // 3), -(-words_out * 4 // 3)
        message.usage_metadata = {"input_tokens": tokens_in, "output_tokens": tokens_out,
                                  "total_tokens": tokens_in + tokens_out}
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _review(self, system: str, asked: str, digest: str) -> AIMessage:
        verdict, reasons = _review(system, asked)
        if self.tool_names:
            return AIMessage(content="", tool_calls=[{
                "name": self.tool_names[0],
                "args": {"verdict": verdict, "reasons": reasons},
                "id": f"call_{digest[:16]}",
                "type": "tool_call",
            }])
        lines = [f"VERDICT: {verdict}", *(f"- {reason}" for reason in reasons)]
        return AIMessage(content="\n".join(lines))


def demo_model(**kwargs: Any) -> DemoChatModel:
    """A :class:`DemoChatModel` (``teamsim.agents.demo:demo_model`` in a scenario); keywords
    set its fields (``latency_seconds``, ``slip_every``)."""
    return DemoChatModel(**kwargs)


# Reading the prompt.

def _field(text: str, label: str) -> str:
    match = re.search(rf"^{label}:[ \t]*(.*)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _attributes(text: str) -> list[tuple[str, str]]:
    block = re.search(r"^About them:\n((?:- .*\n?)+)", text, re.MULTILINE)
    if block is None:
        return []
    found = []
    for line in block.group(1).splitlines():
        name, _, value = line[2:].partition(":")
        if value.strip():
            found.append((name.strip().replace("_", " "), value.strip()))
    return found


def _section(text: str, heading: str) -> list[str]:
    """The ``- item`` lines under a heading line that starts with ``heading``."""
    match = re.search(rf"^{heading}.*\n((?:- .*\n?)+)", text, re.MULTILINE)
    return [line[2:].strip() for line in match.group(1).splitlines()] if match else []


def _channel(system: str, asked: str) -> str:
    named = _field(asked, "Channel") or (re.findall(r"Rules for (\w+):", system) or [""])[0]
    review = re.search(r"^Review this (\w+) draft", asked, re.MULTILINE)
    name = review.group(1) if review else named
    try:
        return channel_spec(name).name
    except ValueError:
        return "email"


# Drafting.

def _draft(system: str, asked: str, digest: str, slip_every: int) -> str:
    channel = channel_spec(_channel(system, asked))
    me = (re.findall(r"^You are ([^,]+),", system, re.MULTILINE) or ["the team"])[0]
    first = _field(asked, "First name") or "there"
    company = _field(asked, "Company")
    company = "" if company.startswith("(") else company
    brief = _field(asked, "Brief")
    sentences, close = _from_brief("" if brief.startswith("(") else brief)
    step = re.sub(r"\s*\(message \d+.*\)$", "", _field(asked, "Step"))
    revision = int((re.findall(r"^Write revision (\d+)", asked, re.MULTILINE) or ["0"])[0])
    notes = " ".join(_section(asked, "A reviewer asked for changes")).lower()
    retry_note = asked.split("could not be used", 1)[-1] if "could not be used" in asked else ""
    number = re.search(r"\(message (\d+)", asked)
    follow_up = "Already sent to" in asked or (number is not None and number.group(1) != "1")
    pick = int(digest[:8], 16) + revision
    short = (revision > 0 and "length" in notes) or "over the" in retry_note
    slip = (slip_every > 0 and revision == 0 and not retry_note
            and int(digest[8:16], 16) % slip_every == 0)

    opener = ""
    if follow_up:
        earlier = re.findall(r"^--- [\d-]+, (\w+)", asked, re.MULTILINE)
        ref = {"sms": "text", "linkedin": "LinkedIn message"}.get(
            earlier[-1] if earlier else "email", "email")
        opener = _FOLLOW_UPS[pick % len(_FOLLOW_UPS)].format(ref=ref)
    elif revision and not sentences:
        opener = _REVISED_OPENERS[pick % len(_REVISED_OPENERS)]
    elif not sentences:
        opener = (f"I'm reaching out because {company} looks like a good fit for what we do."
                  if company else "I'm reaching out with a quick idea.")
    if not sentences:
        sentences = [_FOLLOW_UP_POINTS[pick % len(_FOLLOW_UP_POINTS)] if follow_up else (
            f"We help teams like {company} get more done with less busywork."
            if company else "We help teams get more done with less busywork.")]
    closes = {"offer": _OFFER_CLOSES, "ask": ("",)}.get(close, _ASKS)
    ask = closes[pick % len(closes)]

    if channel.max_chars is not None and channel.max_chars <= 320:
        who = f"{me} again" if follow_up else f"it's {me}"
        short_asks = {"offer": _SHORT_OFFER_CLOSES, "ask": ("",)}.get(close, _SHORT_ASKS)
        tail = " ".join(part for part in (short_asks[pick % len(short_asks)],
                                          _OPT_OUT if channel.needs_opt_out else "") if part)
        return "BODY:\n" + _fit(f"Hi {first}, {who}. ", sentences, tail, channel.name,
                                channel.max_chars)

    paragraphs = [f"Hi {first},", " ".join([opener, *sentences]).strip()]
    project = dict(_attributes(asked)).get("project")
    if not short and not follow_up and project:
        where = f"the {project} project at {company}" if company else f"your {project} project"
        paragraphs.append(f"With {where} in mind, I think we can save you time and a few "
                          "surprises along the way.")
    elif not short and not follow_up and company:
        paragraphs.append(f"I think we could be a real help to {company}.")
    if ask or slip:
        paragraphs.append(" ".join(part for part in (ask, _SLIP if slip else "") if part))
    paragraphs.append(f"Best,\n{me}")
    if channel.needs_opt_out:
        paragraphs.append(_OPT_OUT)
    body = "\n\n".join(paragraphs)
    if channel.max_chars is not None and len(body) > channel.max_chars:
        body = body[: channel.max_chars - len(_OPT_OUT) - 5].rsplit(" ", 1)[0] + "...\n\n" + (
            _OPT_OUT if channel.needs_opt_out else "")
    if not channel.has_subject:
        return f"BODY:\n{body.strip()}"
    subject = _subject(asked, step, company, first, follow_up, "subject" in notes)
    return f"SUBJECT: {subject}\nBODY:\n{body}"


def _subject(asked: str, step: str, company: str, first: str, follow_up: bool,
             reword: bool) -> str:
    """``Re:`` the earlier subject on a follow-up; else about their project or company (a
    step's label is often an instruction, "Say hello", and is used only when it is not)."""
    earlier = re.findall(r', subject "([^"]+)"', asked)
    if follow_up and earlier:
        return f"Re: {earlier[-1].removeprefix('Re: ')}"
    project = dict(_attributes(asked)).get("project")
    first_word = step.split(" ")[0].lower()
    if project:
        subject = f"Your {project} project"
    elif step and first_word not in (*_VERBS, "say", "follow", "nudge", "last", "email"):
        subject = step
    else:
        subject = f"A quick idea for {company or first}"
    return f"Quick question: {subject[0].lower()}{subject[1:]}" if reword else subject


_VERBS = ("welcome", "thank", "offer", "ask", "mention", "share", "send", "tell", "remind",
          "introduce", "connect", "invite", "suggest", "check")
_CLAUSE_BREAK = re.compile(
    rf"(?:\s*[,;:]\s*(?:and\s+)?|\s+and\s+)(?=(?:{'|'.join(_VERBS)})\b)", re.IGNORECASE)
_PRONOUNS = {"them": "you", "their": "your", "they": "you", "theirs": "yours",
             "themselves": "yourselves", "they're": "you're", "they've": "you've"}
_PRONOUN = re.compile(rf"\b(?:{'|'.join(map(re.escape, _PRONOUNS))})\b", re.IGNORECASE)


def _from_brief(brief: str) -> tuple[list[str], str]:
    """What the message says for a brief, as sentences, and how it should close: ``offer``
    (it offered something), ``ask`` (it asked a question) or ``""``.

    Briefs are instructions to the writer ("Thank them for the enquiry and offer a survey")
    or descriptions of the message ("A short text: did they get the times?"); the demo turns
    each clause into what the message itself would say to the contact.
    """
    text = " ".join(brief.split()).rstrip(".")
    if re.match(r"(?:an?|one)\s", text, re.IGNORECASE):
        head, sep, rest = [*re.split(r"([:;])", text, maxsplit=1), "", ""][:3]
        asking = re.search(r"\basking (whether|if|about)\s+(.*)$", head, re.IGNORECASE)
        if sep and rest.strip():
            text = rest.strip()
        elif asking:
            text = f"ask {asking.group(1)} {asking.group(2)}"
        else:
            return [], ""
    sentences: list[str] = []
    close = ""
    for clause in _CLAUSE_BREAK.split(text):
        said, kind = _clause(clause.strip(" ,;"))
        kind = kind or ("ask" if said.endswith("?") else "")
        if said:
            sentences.append(said)
            close = kind or close
    return sentences, close


def _clause(clause: str) -> tuple[str, str]:
    """One clause of a brief as the message would say it, and its kind."""
    verb, _, rest = clause.partition(" ")
    verb, rest = verb.lower(), _you(rest.strip())
    rest = re.sub(r"^(?:the lead|you)\b\s*(?:that\s+)?", "", rest) if verb in (
        "welcome", "tell", "remind") else rest
    if verb == "welcome":
        return "It's great to hear from you.", ""
    if verb == "thank":
        return _sentence(f"thank {rest}"), ""
    if verb == "offer":
        if rest.startswith("to "):
            return _sentence(f"I'd be happy {rest}"), "offer"
        return _sentence(f"I'd like to offer you {rest}"), "offer"
    if verb == "ask":
        if rest.startswith(("whether ", "if ")):
            return f"Could you let me know {rest}?", "ask"
        if rest.startswith("about "):
            return _sentence(f"I'd love to hear {rest}"), "ask"
        return f"Could you tell me {rest}?", "ask"
    if verb == "mention":
        return _sentence(f"I also wanted to mention {rest}"), ""
    if verb == "share":
        return _sentence(f"I thought you might like to see {rest}"), ""
    if verb == "send":
        return _sentence(f"I've attached {rest}"), ""
    if verb in ("tell", "remind"):
        lead = "" if verb == "tell" else "just a reminder that "
        return _sentence(f"{lead}{rest}"), ""
    if verb == "introduce":
        return _sentence(f"I'd like to introduce {rest}"), ""
    if verb == "connect":
        return "I'd love to connect.", ""
    if verb in ("invite", "suggest"):
        return _sentence(f"I'd like to {verb} you {rest.removeprefix('you ')}"), "offer"
    if verb == "check":
        return _sentence(f"I wanted to check {rest.removeprefix('in ')}"), ""
    return _sentence(_you(clause)), ""


def _you(text: str) -> str:
    """``text`` said to the contact: them -> you, their -> your."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        said = _PRONOUNS[word.lower()]
        return said.capitalize() if word[0].isupper() else said

    return _PRONOUN.sub(swap, text)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else f"{text}."


def _fit(head: str, sentences: list[str], tail: str, channel: str, limit: int) -> str:
    """``head``, as many of ``sentences`` as fit, then `` tail``; the first sentence is cut
    word by word if even it alone does not fit."""

    def fits(text: str) -> bool:
        if channel == "sms":
            size, capped, _ = sms_size(text, limit)
            return capped is None or size <= capped
        return len(text) <= limit

    def joined(content: str) -> str:
        return " ".join(part for part in (head.rstrip(), content, tail) if part)

    kept: list[str] = []
    for sentence in sentences:
        if not fits(joined(" ".join([*kept, sentence]))):
            break
        kept.append(sentence)
    if kept:
        return joined(" ".join(kept))
    words = sentences[0].split() if sentences else []
    while words and not fits(joined(" ".join(words).rstrip(",;:-.") + "...")):
        words.pop()
    return joined(" ".join(words).rstrip(",;:-.") + "..." if words else "")


# Reviewing.

def _review(system: str, asked: str) -> tuple[str, list[str]]:
    channel = channel_spec(_channel(system, asked))
    first = (re.findall(r"by their first name, ([^;\n]+);", system) or [""])[0].strip()
    draft = asked.split("\nDraft", 1)[-1]
    subject = _field(draft, "SUBJECT")
    body_at = re.search(r"^BODY:\n", draft, re.MULTILINE)
    body = draft[body_at.end():].strip() if body_at else ""
    reasons: list[str] = []
    for part, text in (("subject", subject), ("body", body)):
        reasons.extend(f"placeholders: unfilled placeholder {found} in the {part}; fill it in "
                       "or remove the sentence" for found in find_placeholders(text))
    if channel.max_chars is not None:
        size, limit = len(body), channel.max_chars
        if channel.name == "sms":
            size, capped, _ = sms_size(body, limit)
            limit = capped if capped is not None else limit
        if size > limit:
            reasons.append(f"length: the body is {size} characters, over the {channel.name} "
                           f"limit of {limit}; shorten it")
    if channel.has_subject and not subject:
        reasons.append(f"subject: a message on {channel.name} needs a subject line; write one")
    if channel.needs_opt_out and not any(p in body.lower() for p in DEFAULT_OPT_OUT_PHRASES):
        reasons.append(f"opt_out: a message on {channel.name} must say how to opt out; "
                       "add an opt-out line")
    if first and not re.match(rf"\s*(?:hi|hello|dear|hey)\b[ ,]*{re.escape(first)}\b", body,
                              re.IGNORECASE):
        reasons.append(f"name: the greeting does not name {first}; greet them as {first}")
    return ("revise" if reasons else "pass"), reasons
