"""The prompts of model-backed teammates: the context the templates see, and the rendering.

The shipped templates live in ``agents/templates/*.j2``; :class:`PromptTemplates` overrides
any of them per teammate. They render in the message templates' sandbox (see ``_sandbox``).

The context of the drafting templates:

``teammate``
    the drafting teammate's name.
``contact``
    ``name``, ``first_name``, ``company``, ``timezone``, ``attributes`` (a mapping).
``sequence``, ``step``
    ``sequence.name``/``description``; ``step.id``/``label``/``channel``/``brief``; or ``None``
    for a one-off message.
``step_number``
    1 for the sequence's first message step, 2 for the next...
``brief``
    what the message should say.
``channel``
    ``name``, ``max_chars``, ``has_subject``, ``needs_opt_out``, ``opt_out_line`` and
    ``limits``: the channel's rules as sentences, for the prompt.
``thread``
    the last :data:`THREAD_MESSAGES` messages sent, oldest first: ``step_id``, ``channel``,
    ``subject``, ``body`` (at most :data:`THREAD_BODY_CHARS` characters), ``date``.
``revision``, ``review_notes``, ``previous``
    0 / empty / ``None`` on a first draft; on a revision, the reviewer's notes and the
    previous draft (``subject``, ``body``).

The reviewing templates see the same, plus ``draft`` (``subject``, ``body``), ``reviewer``,
``structured`` (whether the model answers through a tool) and ``tool_name``.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any, Literal

from teamsim.agents._sandbox import render
from teamsim.agents._settings import PromptTemplates
from teamsim.agents._types import Draft, DraftRequest
from teamsim.model import ChannelSpec, channel_spec

__all__ = ["OPT_OUT_LINE", "THREAD_BODY_CHARS", "THREAD_MESSAGES", "context", "render_prompt",
           "where"]

TemplateName = Literal["draft_system", "draft_user", "review_system", "review_user"]

OPT_OUT_LINE = "Reply STOP to opt out."
"""The opt-out line the prompts suggest (the template drafter's default, too)."""

THREAD_MESSAGES = 5
"""How many of the latest sent messages a prompt quotes."""

THREAD_BODY_CHARS = 2000
"""The longest part of a sent message's body a prompt quotes."""


@functools.cache
def shipped(name: TemplateName) -> str:
    """The template teamsim ships as ``agents/templates/<name>.j2``."""
    return (resources.files("teamsim.agents") / "templates" / f"{name}.j2").read_text("utf-8")


def render_prompt(templates: PromptTemplates, name: TemplateName, values: dict[str, Any],
                  teammate: str) -> str:
    """Render the teammate's ``name`` template (its override, or the shipped one).

    Raises:
        ValidationError: the template failed; the message names the teammate and template.
    """
    source = getattr(templates, name) or shipped(name)
    return render(source, values, f"teammate {teammate!r} prompt template {name!r}")


def limits(spec: ChannelSpec) -> list[str]:
    """The channel's rules as sentences for a prompt."""
    rules: list[str] = []
    if spec.name == "sms" and spec.max_chars is not None:
        rules.append(f"The message must fit one SMS: at most {spec.max_chars} characters, "
                     "plain text only (no emoji, no curly quotes).")
    elif spec.max_chars is not None:
        rules.append(f"The body must be at most {spec.max_chars} characters.")
    rules.append("Write a short subject line." if spec.has_subject else "No subject line.")
    if spec.needs_opt_out:
        rules.append(f"End the body with an opt-out line, for example: {OPT_OUT_LINE}")
    return rules


def context(request: DraftRequest) -> dict[str, Any]:
    """The values the drafting templates see (see the module's docstring)."""
    contact, step, sequence = request.contact, request.step, request.sequence
    spec = channel_spec(request.channel)
    return {
        "teammate": request.teammate,
        "contact": {
            "name": contact.name,
            "first_name": contact.first_name,
            "company": contact.company,
            "timezone": contact.timezone,
            "attributes": dict(sorted(contact.attributes.items())),
        },
        "sequence": ({"name": sequence.name, "description": sequence.description}
                     if sequence is not None else None),
        "step": ({"id": step.id, "label": step.label, "channel": step.channel,
                  "brief": step.brief} if step is not None else None),
        "step_number": request.step_index + 1,
        "brief": " ".join((request.brief or (step.brief if step else "")).split()),
        "channel": {
            "name": spec.name,
            "max_chars": spec.max_chars,
            "has_subject": spec.has_subject,
            "needs_opt_out": spec.needs_opt_out,
            "opt_out_line": OPT_OUT_LINE,
            "limits": limits(spec),
        },
        "thread": [
            {
                "step_id": m.step_id,
                "channel": m.channel,
                "subject": m.subject,
                "body": _capped(m.body),
                "date": m.sent_at.date().isoformat(),
            }
            for m in request.thread[-THREAD_MESSAGES:]
        ],
        "revision": request.revision,
        "review_notes": list(request.review_notes),
        "previous": _draft(request.previous) if request.previous is not None else None,
    }


def review_context(draft: Draft, request: DraftRequest, reviewer: str, *, structured: bool,
                   tool_name: str) -> dict[str, Any]:
    """The values the reviewing templates see."""
    values = context(request)
    values.update(draft=_draft(draft), reviewer=reviewer, structured=structured,
                  tool_name=tool_name)
    return values


def where(request: DraftRequest) -> str:
    """What a call is about, for cassette entries and errors."""
    step, sequence = request.step, request.sequence
    about = f"step {step.id!r}" if step is not None else f"a one-off {request.channel} message"
    if sequence is not None:
        about += f" of sequence {sequence.name!r}"
    about += f" for {request.contact.name}"
    if request.revision:
        about += f", revision {request.revision}"
    return about


def _draft(draft: Draft) -> dict[str, Any]:
    return {"subject": draft.subject, "body": draft.body}


def _capped(body: str) -> str:
    return body if len(body) <= THREAD_BODY_CHARS else body[:THREAD_BODY_CHARS] + "..."
