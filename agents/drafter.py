"""The default drafter: fills Jinja2 templates, or writes plain wording from the step itself.

Templates come from the step (``subject_template``/``body_template``) or from the drafter's
:class:`DraftStyle` (by ``"<sequence>/<step id>"``, step id or label). They render in a sandbox,
because scenario files supply them, with this context:

``contact``
    ``name``, ``first_name``, ``last_name``, ``email``, ``company``, ``timezone``, ``attributes``.
``first_name``, ``company``
    shortcuts for the contact's.
``sequence``, ``step``
    ``sequence.name``/``description``; ``step.id``/``label``/``channel``/``brief``.
``teammate``
    the drafting teammate's name (it signs the message).
``thread``
    earlier messages, oldest first: ``step_id``, ``channel``, ``subject``, ``body``, ``sent_at``.
``step_index``, ``brief``, ``channel``, ``revision``
    as in the :class:`~teamsim.agents.DraftRequest`.
each of the contact's free attributes
    by its own name (``{{ project }}``), unless it clashes with a name above.

A variable the context lacks does not fail: it renders as ``{{ name }}``, visibly unfilled, so
the reviewer catches it. On a revision the drafter drops the sentences that still hold a
placeholder (writing plain wording instead when that leaves less than half the text); from the
second revision, or when the notes are about the wording itself (the name, a repeat, a banned
phrase), it writes plain wording, so the revision loop converges.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from teamsim.agents._sandbox import Namespace, render, syntax_error
from teamsim.agents._text import (
    DEFAULT_OPT_OUT_PHRASES,
    DEFAULT_PLACEHOLDER_PATTERNS,
    find_placeholders,
    minutes_for,
    sms_size,
    strip_placeholder_sentences,
    word_count,
)
from teamsim.agents._types import Draft, DraftRequest, ThreadMessage
from teamsim.agents.reviewer import Check
from teamsim.model import ChannelSpec, Minutes, channel_spec

__all__ = ["DraftStyle", "MessageTemplate", "TemplateDrafter"]

# Review notes the drafter can fix inside the template's own text; any other note means the
# wording itself is wrong, so the revision starts again from plain wording.
_FIXABLE_IN_TEMPLATE = (Check.PLACEHOLDERS, Check.OPT_OUT, Check.LENGTH, Check.SUBJECT)

# Channels whose limit is this small get the one-line form of the plain wording.
_SHORT_FORM_CHARS = 320

_FOLLOW_UP_OPENERS = (
    "I'm following up on my {ref}.",
    "I wanted to come back to my {ref}.",
    "I'm checking in once more about my {ref}.",
)
_FOLLOW_UP_ASKS = (
    "Is this worth a quick conversation{for_org}?",
    "If the timing is not right, just let me know.",
    "I'm happy to send more details whenever it suits you.",
)


class MessageTemplate(BaseModel):
    """A Jinja2 subject and body template; either may be left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str | None = None
    body: str | None = None

    @field_validator("subject", "body")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None:
            reason = syntax_error(value)
            if reason is not None:
                raise ValueError(f"{reason}; fix the template's Jinja2 syntax")
        return value


class DraftStyle(BaseModel):
    """How :class:`TemplateDrafter` writes and how long it takes.

    A pydantic model so a scenario file can set it directly.

    Attributes:
        templates: templates by ``"<sequence name>/<step id>"``, step id or step label, used
            for the parts a step has no template of its own for.
        opt_out_line: appended on channels that need an opt-out line.
        ensure_opt_out: append the opt-out line even to a template that forgot it.
        sign_off: the line before the teammate's name in long messages.
        placeholder_patterns: what counts as an unfilled placeholder when revising.
        base_minutes: simulated minutes for a first draft.
        revision_minutes: simulated minutes for a revision.
        minutes_per_100_words: extra minutes for every started hundred words.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    templates: dict[str, MessageTemplate] = Field(default_factory=dict)
    opt_out_line: str = "Reply STOP to opt out."
    ensure_opt_out: bool = True
    sign_off: str = "Best,"
    placeholder_patterns: tuple[str, ...] = DEFAULT_PLACEHOLDER_PATTERNS
    base_minutes: Minutes = 10
    revision_minutes: Minutes = 5
    minutes_per_100_words: Minutes = 5


class TemplateDrafter:
    """A deterministic :class:`~teamsim.agents.Drafter` built on Jinja2 templates.

    The same request always gives the same draft. Without templates it still writes a sensible
    message: a greeting with the contact's first name, the brief, a reference to the earlier
    message on a follow-up, the teammate's name, and an opt-out line where the channel needs
    one; on short channels (SMS) it fits one message.
    """

    def __init__(self, style: DraftStyle | None = None) -> None:
        self.style = style or DraftStyle()

    def draft(self, request: DraftRequest) -> Draft:
        """Write the message ``request`` asks for."""
        spec = channel_spec(request.channel)
        template = self._template(request)
        revising = request.revision > 0
        reword = revising and (
            request.revision >= 2
            or any(not note.startswith(_FIXABLE_IN_TEMPLATE) for note in request.review_notes)
        )
        context = _context(request)
        patterns = self.style.placeholder_patterns

        body = ""
        if template.body is not None and not reword:
            body = render(template.body, context, _where(request, "body"))
            if revising:
                rendered = body
                body = strip_placeholder_sentences(rendered, patterns)
                # Little left once the placeholders went: the template did not fit this
                # contact, so write plain wording instead.
                if word_count(body) * 2 < word_count(rendered):
                    body = ""
        if not body:
            body = self._plain_body(request, spec)
        elif spec.needs_opt_out and (self.style.ensure_opt_out or revising):
            body = self._with_opt_out(body)
        if revising and not _fits(body, spec):
            body = self._fit_template_body(body, spec)

        subject: str | None = None
        if spec.has_subject:
            if template.subject is not None and not reword:
                subject = " ".join(
                    render(template.subject, context, _where(request, "subject")).split()
                )
                if revising and find_placeholders(subject, patterns):
                    subject = None
            subject = subject or _plain_subject(request)

        words = word_count(body) + word_count(subject or "")
        base = self.style.revision_minutes if revising else self.style.base_minutes
        minutes = minutes_for(words, base, self.style.minutes_per_100_words)
        return Draft(subject=subject, body=body, minutes=minutes)

    def _template(self, request: DraftRequest) -> MessageTemplate:
        """The step's own templates, completed from the style's templates for the step."""
        step = request.step
        if step is None:
            return MessageTemplate()
        keys = [step.id, step.label]
        if request.sequence is not None:
            keys.insert(0, f"{request.sequence.name}/{step.id}")
        configured = next(
            (self.style.templates[k] for k in keys if k in self.style.templates),
            MessageTemplate(),
        )
        # Both parts were checked where they were written; no need to parse them again.
        return MessageTemplate.model_construct(
            subject=step.subject_template or configured.subject,
            body=step.body_template or configured.body,
        )

    def _with_opt_out(self, body: str) -> str:
        lowered = body.lower()
        phrases = (self.style.opt_out_line.lower(), *DEFAULT_OPT_OUT_PHRASES)
        if any(phrase in lowered for phrase in phrases):
            return body
        return f"{body}\n\n{self.style.opt_out_line}"

    def _plain_body(self, request: DraftRequest, spec: ChannelSpec) -> str:
        contact, me = request.contact, request.teammate
        follow_up = request.step_index > 0 or bool(request.thread)
        brief = _sentence(request.brief or (request.step.brief if request.step else ""))
        variant = max(request.step_index - 1, 0) + request.revision
        org = contact.company
        if follow_up:
            opener = _FOLLOW_UP_OPENERS[variant % len(_FOLLOW_UP_OPENERS)].format(
                ref=_reference(request.thread, long_form=not _short(spec))
            )
            ask = _FOLLOW_UP_ASKS[variant % len(_FOLLOW_UP_ASKS)].format(
                for_org=f" for {org}" if org else ""
            )
            content = f"{opener} {brief or ask}"
        else:
            helped = org or "you"
            content = brief or f"I wanted to introduce myself and see whether I can help {helped}."
        opt_out = self.style.opt_out_line if spec.needs_opt_out else ""

        if _short(spec):
            who = f"{me} again" if follow_up else f"it's {me}"
            head = f"Hi {contact.first_name}, {who}. "
            tail = f" {opt_out}" if opt_out else ""
            return _fit_words(head, content, tail, spec)

        paragraphs = [f"Hi {contact.first_name},", content]
        if not follow_up:
            paragraphs.append("Let me know if you would like to hear more.")
        paragraphs.append(f"{self.style.sign_off}\n{me}")
        if opt_out:
            paragraphs.append(opt_out)
        return "\n\n".join(paragraphs)

    def _fit_template_body(self, body: str, spec: ChannelSpec) -> str:
        tail = ""
        if spec.needs_opt_out and body.endswith(self.style.opt_out_line):
            body = body.removesuffix(self.style.opt_out_line).rstrip()
            tail = f"\n\n{self.style.opt_out_line}"
        return _fit_words("", body, tail, spec)


def _context(request: DraftRequest) -> dict[str, Any]:
    contact = request.contact
    attributes = Namespace("contact.attributes", contact.attributes)
    values: dict[str, Any] = dict(contact.attributes)
    step, sequence = request.step, request.sequence
    values.update(
        contact=Namespace(
            "contact",
            {
                "name": contact.name,
                "first_name": contact.first_name,
                "last_name": contact.name.split()[-1],
                "email": contact.email,
                "company": contact.company,
                "timezone": contact.timezone,
                "attributes": attributes,
            },
            text=contact.name,
        ),
        first_name=contact.first_name,
        company=contact.company,
        sequence=Namespace(
            "sequence",
            {"name": sequence.name, "description": sequence.description} if sequence else {},
            text=sequence.name if sequence else "",
        ),
        step=Namespace(
            "step",
            {"id": step.id, "label": step.label, "channel": step.channel, "brief": step.brief}
            if step
            else {},
            text=step.label if step else "",
        ),
        teammate=request.teammate,
        thread=[
            Namespace(
                "message",
                {
                    "step_id": m.step_id,
                    "channel": m.channel,
                    "subject": m.subject,
                    "body": m.body,
                    "sent_at": m.sent_at,
                },
                text=m.body,
            )
            for m in request.thread
        ],
        step_index=request.step_index,
        brief=request.brief or (step.brief if step else ""),
        channel=request.channel,
        revision=request.revision,
    )
    return values


def _where(request: DraftRequest, part: str) -> str:
    """The template's place for a message: teammate, sequence, step and part."""
    teammate = f"teammate {request.teammate!r} drafting "
    step = request.step
    if step is None:
        return f"{teammate}the {part} template"
    sequence = f"sequence {request.sequence.name!r} " if request.sequence else ""
    return f"{teammate}{sequence}step {step.id!r} {part} template"


def _plain_subject(request: DraftRequest) -> str:
    earlier = next((m.subject for m in reversed(request.thread) if m.subject), None)
    if earlier:
        return f"Re: {earlier.removeprefix('Re: ')}"
    label = request.step.label.strip() if request.step else ""
    if label and not _generic_label(label, request.channel):
        return label
    first = request.contact.first_name
    if request.step_index > 0:
        return f"Following up, {first}"
    return f"A quick note for {request.contact.company or first}"


def _generic_label(label: str, channel: str) -> bool:
    """Whether ``label`` only restates the channel ("Email", "SMS message")."""
    return label.lower().removesuffix(" message") in ("", "message", channel.lower())


def _reference(thread: tuple[ThreadMessage, ...], *, long_form: bool) -> str:
    """How a follow-up names the message it follows up on."""
    if not thread:
        return "earlier message"
    last = thread[-1]
    if last.channel == "email":
        if long_form and last.subject:
            return f'email "{last.subject}"'
        return "last email"
    names = {"sms": "text", "linkedin": "LinkedIn message"}
    return f"last {names.get(last.channel, 'message')}"


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else f"{text}."


def _short(spec: ChannelSpec) -> bool:
    return spec.max_chars is not None and spec.max_chars <= _SHORT_FORM_CHARS


def _fits(text: str, spec: ChannelSpec) -> bool:
    if spec.max_chars is None:
        return True
    if spec.name == "sms":
        size, limit, _ = sms_size(text, spec.max_chars)
        return limit is None or size <= limit
    return len(text) <= spec.max_chars


def _fit_words(head: str, content: str, tail: str, spec: ChannelSpec) -> str:
    """``head + content + tail``, dropping words from the end of ``content`` until it fits."""
    text = f"{head}{content}{tail}"
    words = content.split(" ")
    while not _fits(text, spec) and words:
        words.pop()
        shortened = " ".join(words).rstrip(",;:-")
        text = f"{head}{shortened}...{tail}" if shortened else f"{head.rstrip()}{tail}"
    return text
