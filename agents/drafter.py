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

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import TemplateError, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from jinja2.visitor import NodeTransformer
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field, field_validator

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
from teamsim.model import ChannelSpec, Minutes, ValidationError, channel_spec

__all__ = ["MAX_LOOP_STEPS", "MAX_PRINTED_CHARS", "MAX_RENDERED_CHARS", "DraftStyle",
           "MessageTemplate", "TemplateDrafter", "check_template"]

MAX_RENDERED_CHARS = 20_000
"""The longest text one template may render (four times the longest channel's limit)."""

MAX_LOOP_STEPS = 100_000
"""The most ``{% for %}`` iterations and calls one rendering may take, all together."""

MAX_PRINTED_CHARS = 50 * MAX_RENDERED_CHARS
"""The most characters one rendering may print with ``{{ ... }}``, counting what macros and
``{% set %}`` blocks print (each level of nesting prints a text again)."""

# The largest exponent ``**`` takes on a whole number: 2 ** 1000 has 302 digits, and a big
# exponent costs time and memory long before the result is printed.
_MAX_EXPONENT = 1000

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
            reason = _syntax_error(value)
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


class _Unfilled(Undefined):
    """A missing template variable: renders as ``{{ path }}`` instead of failing."""

    __slots__ = ()

    def _path(self) -> str:
        owner = self._undefined_obj
        if isinstance(owner, _Namespace):
            return f"{owner._path}.{self._undefined_name}"
        return str(self._undefined_name)

    def __str__(self) -> str:
        return "{{ " + self._path() + " }}"

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__" and name[-2:] == "__":
            raise AttributeError(name)
        return _Unfilled(name=f"{self._path()}.{name}")

    def __getitem__(self, key: Any) -> Any:
        return _Unfilled(name=f"{self._path()}.{key}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self


class _Namespace:
    """A read-only bag of template values that knows its own path (``contact.attributes``)."""

    __slots__ = ("_path", "_text", "_values")

    def __init__(self, path: str, values: Mapping[str, Any], text: str = "") -> None:
        self._path = path
        self._values = dict(values)
        self._text = text

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __str__(self) -> str:
        return self._text


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox that also refuses to build huge values or to run for long.

    ``'x' * 4000000000``, ``[0] * 10**9``, ``range(100000)|join('x' * 2000)`` or doubling a text
    with ``~`` would take all the memory before the output limit could stop it, and
    ``9 ** 9 ** 9`` or a macro calling itself twice all the time; they raise ``SecurityError``
    instead. Every loop step and every call (macros, ``loop()``, functions, methods, filters)
    takes a step of one budget per rendering (:data:`MAX_LOOP_STEPS`); the text methods and
    filters that can build a large text from a small one are checked before they run, and any
    text or list a call returns is checked after. (The sandbox already caps ``range`` at
    100,000 items.)
    """

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Parse ``source``, making every ``for`` loop count its steps against the budget and
        every ``~`` check the size of what it joins."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.Name(_COUNTED, "load"), [loop.iter], [], None, None)
        checked = _ConcatChecked().visit(tree)
        assert isinstance(checked, nodes.Template)
        return checked

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Apply ``*``, ``**``, ``%`` or ``+`` once the size of the result is known to be
        small."""
        if operator == "%" and isinstance(left, str) and _WIDE_PRINTF.search(left):
            raise SecurityError("a format width of more than 5 digits")
        if operator == "*":
            for items, times in ((left, right), (right, left)):
                if (isinstance(items, str | bytes | list | tuple) and isinstance(times, int)
                        and len(items) * times > MAX_RENDERED_CHARS):
                    raise SecurityError(
                        f"repeating {len(items)} item(s) {times} times makes more than "
                        f"{MAX_RENDERED_CHARS:,}")
        elif (operator == "**" and isinstance(left, int) and isinstance(right, int)
                and abs(left) > 1 and right > _MAX_EXPONENT):
            raise SecurityError(f"exponent {right} is larger than {_MAX_EXPONENT}")
        elif (operator == "+" and isinstance(left, str | bytes | list | tuple)
                and isinstance(right, str | bytes | list | tuple)):
            _check_total(len(left) + len(right), "adding")
        return _checked_size(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format``/``format_map``, sandboxed, refusing a width or precision (written
        in the format or given by a nested field) larger than :data:`MAX_RENDERED_CHARS`."""
        if super().wrap_str_format(value) is None:
            return None
        owner: str = value.__self__
        formatter: SandboxedFormatter = (
            _SizedEscapeFormatter(self, escape=owner.escape) if isinstance(owner, Markup)
            else _SizedFormatter(self))
        is_format_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument and no keywords")
                kwargs, args = args[0], ()
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return functools.update_wrapper(wrapper, value)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Call ``__obj``, taking a step of the budget, unless it is a text method asked to
        build a very large text; a recursive ``loop(...)`` counts its items as loop steps."""
        _take_steps(1)
        if isinstance(__obj, LoopContext) and args:
            args = (_counted(args[0]), *args[1:])
        method = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):
            args = _check_text_method(owner, getattr(method, "__name__", ""), args)
        return _checked_size(super().call(__context, __obj, *args, **kwargs))


class _ConcatChecked(NodeTransformer):
    """Turns every ``a ~ b`` into a call of :func:`_concat`, which checks the joined size, and
    makes every ``{% set x %}...{% endset %}`` block check the size of what it captured."""

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> nodes.Node:
        self.generic_visit(node)
        if node.filter is None:  # a filter given is checked as every filter is
            node.filter = nodes.Filter(None, _SIZED, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(nodes.Name(_CONCAT, "load"), node.nodes, [], None, None,
                          lineno=node.lineno)


class _SizeChecked(SandboxedFormatter):
    """Refuses a format spec whose width or precision is larger than the output limit; the
    spec is checked after nested fields (``{0:>{1}}``) are filled in, and the values formatted
    may be any size (``{:,}`` of 25000 is fine)."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        if any(len(digits) > 6 or int(digits) > MAX_RENDERED_CHARS
               for digits in re.findall(r"\d+", format_spec)):
            raise SecurityError(f"a width or count larger than {MAX_RENDERED_CHARS:,}")
        return super().format_field(value, format_spec)


class _SizedFormatter(_SizeChecked):
    pass


class _SizedEscapeFormatter(_SizeChecked, SandboxedEscapeFormatter):
    pass


# A width or precision of six digits or more in a printf format: "%999999s", "%.999999f".
_WIDE_PRINTF = re.compile(r"%[-+ #0]*(?:\*|\d{6,}|\d*\.(?:\*|\d{6,}))")

# The text methods whose whole-number argument is the width of the text they build.
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def _check_total(size: int, what: str) -> None:
    if size > MAX_RENDERED_CHARS:
        raise SecurityError(f"{what} makes more than {MAX_RENDERED_CHARS:,} characters")


def _checked_size(value: Any) -> Any:
    """``value``, unless it is a text longer than :data:`MAX_RENDERED_CHARS` or a list longer
    than :data:`MAX_LOOP_STEPS` (a value no template could print or loop over)."""
    if isinstance(value, str | bytes) and len(value) > MAX_RENDERED_CHARS:
        raise SecurityError(f"a text of more than {MAX_RENDERED_CHARS:,} characters")
    if isinstance(value, list | tuple) and len(value) > MAX_LOOP_STEPS:
        raise SecurityError(f"a list of more than {MAX_LOOP_STEPS:,} items")
    return value


def _check_width(args: Iterable[Any]) -> None:
    """Refuse a whole-number argument that would pad or repeat to a huge text."""
    if any(isinstance(a, int) and abs(a) > MAX_RENDERED_CHARS for a in args):
        raise SecurityError(f"a width or count larger than {MAX_RENDERED_CHARS:,}")


def _joined(separator: Any, items: Iterable[Any]) -> list[Any]:
    """``items`` as a list, once joining them with ``separator`` is known to be small."""
    listed = list(_counted(items))
    sep = len(separator) if isinstance(separator, str) else 0
    _check_total(sep * max(len(listed) - 1, 0)
                 + sum(len(x) for x in listed if isinstance(x, str)), "joining")
    return listed


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        count = text.count(old) if old else len(text) + 1
        _check_total(len(text) + count * (len(new) - len(old)), "replacing")


def _check_text_method(owner: str, name: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Check a call of ``owner.<name>(*args)`` before it runs; the arguments to use."""
    if name == "join" and args:
        return (_joined(owner, args[0]), *args[1:])
    if name == "replace" and len(args) >= 2:
        _check_replace(owner, args[0], args[1])
    elif name == "expandtabs" and args and isinstance(args[0], int):
        _check_total(len(owner) + owner.count("\t") * args[0], "expanding tabs")
    elif name in _WIDTH_METHODS:
        _check_width(args)
    return args


def _sized_filter(name: str, function: Any) -> Any:
    """The filter ``function``, taking a step of the budget, refusing arguments that would
    build a huge text and any huge text or list it returns."""
    skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(function)
    def sized(*args: Any, **kwargs: Any) -> Any:
        _take_steps(1)
        value, rest = args[skip] if len(args) > skip else None, args[skip + 1:]
        if name == "join":
            separator = rest[0] if rest else kwargs.get("d", "")
            args = (*args[:skip], _joined(separator, value or ()), *rest)
        elif name == "replace" and len(rest) >= 2:
            _check_replace(value, rest[0], rest[1])
        elif name == "format":
            if isinstance(value, str) and _WIDE_PRINTF.search(value):
                raise SecurityError("a format width of more than 5 digits")
        elif name == "indent" and isinstance(value, str):
            width = rest[0] if rest else kwargs.get("width", 4)
            pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
            _check_total(len(value) + (value.count("\n") + 1) * pad, "indenting")
        elif name in _WIDTH_FILTERS:
            _check_width((*rest, *kwargs.values()))
        return _checked_size(function(*args, **kwargs))

    return sized


# Filters whose numeric arguments size their output ("x"|center(10**9)).
_WIDTH_FILTERS = frozenset({"center", "truncate", "wordwrap", "batch", "slice"})


# Steps left in the rendering under way: nested loops that print nothing
# ({% for a in x %}{% for b in x %}{% endfor %}{% endfor %}) or a macro calling itself twice
# would otherwise run for hours.
_STEPS_LEFT: ContextVar[list[int]] = ContextVar("teamsim_template_steps")
_CHARS_LEFT: ContextVar[list[int]] = ContextVar("teamsim_template_chars")
_COUNTED = "_teamsim_counted"
_CONCAT = "_teamsim_concat"
_SIZED = "_teamsim_sized"


def _take_steps(count: int, what: str = "loops and calls") -> None:
    left = _STEPS_LEFT.get(None) or [MAX_LOOP_STEPS]
    left[0] -= count
    if left[0] < 0:
        raise SecurityError(f"{what} take more than {MAX_LOOP_STEPS:,} steps")


def _counted(items: Iterable[Any]) -> Iterator[Any]:
    """``items``, one by one, each taking a step of the rendering's budget."""
    for item in items:
        _take_steps(1, "loops")
        yield item


def _concat(*parts: Any) -> str:
    """``a ~ b ~ ...``: the parts as text, joined, unless that makes a huge text."""
    texts = [str(part) for part in parts]
    _check_total(sum(len(t) for t in texts), "joining with ~")
    return "".join(texts)


def _no_lipsum(*args: Any, **kwargs: Any) -> str:
    """Jinja's ``lipsum`` draws from the global random generator (a run would not repeat)
    and can write millions of words, so templates do not get it."""
    raise SecurityError("lipsum() is not available in templates (its text is random)")


def _emitted(value: Any) -> Any:
    """Every ``{{ ... }}`` printed anywhere (the output, a macro, a ``{% set %}`` block) takes
    its length from one budget per rendering, so a loop printing a long text into a block or
    a macro is stopped before the pieces are joined."""
    text = value if isinstance(value, str) else str(value)
    left = _CHARS_LEFT.get(None) or [MAX_PRINTED_CHARS]
    left[0] -= len(text)
    if left[0] < 0:
        raise SecurityError(f"prints more than {MAX_PRINTED_CHARS:,} characters in all "
                            "(counting macros and set blocks)")
    return text


_ENV = _Sandbox(undefined=_Unfilled, autoescape=False, trim_blocks=True, lstrip_blocks=True,
                finalize=_emitted)
_ENV.globals[_COUNTED] = _counted
_ENV.globals[_CONCAT] = _concat
_ENV.globals["lipsum"] = _no_lipsum
_ENV.filters[_SIZED] = _checked_size
for _name in list(_ENV.filters):
    _ENV.filters[_name] = _sized_filter(_name, _ENV.filters[_name])


def check_template(source: str, where: str = "template") -> None:
    """Raise :class:`~teamsim.model.errors.ValidationError` if ``source`` is not a valid template.

    Args:
        source: the Jinja2 template text.
        where: where the template came from, for the message (``"steps[0].body_template"``).
    """
    reason = _syntax_error(source)
    if reason is not None:
        raise ValidationError(f"{where}: {reason}; fix the template's Jinja2 syntax")


def _syntax_error(source: str) -> str | None:
    """Why ``source`` does not parse as a template, or ``None`` when it does."""
    try:
        _ENV.from_string(source)
    except TemplateError as err:
        return str(err).rstrip(".")
    return None


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
            body = _render(template.body, context, _where(request, "body"))
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
                    _render(template.subject, context, _where(request, "subject")).split()
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
    attributes = _Namespace("contact.attributes", contact.attributes)
    values: dict[str, Any] = dict(contact.attributes)
    step, sequence = request.step, request.sequence
    values.update(
        contact=_Namespace(
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
        sequence=_Namespace(
            "sequence",
            {"name": sequence.name, "description": sequence.description} if sequence else {},
            text=sequence.name if sequence else "",
        ),
        step=_Namespace(
            "step",
            {"id": step.id, "label": step.label, "channel": step.channel, "brief": step.brief}
            if step
            else {},
            text=step.label if step else "",
        ),
        teammate=request.teammate,
        thread=[
            _Namespace(
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


def _render(source: str, context: Mapping[str, Any], where: str) -> str:
    """Render ``source``; any failure is a :class:`~teamsim.model.errors.ValidationError` naming
    ``where``, and so is output longer than :data:`MAX_RENDERED_CHARS`."""
    pieces: list[str] = []
    size = 0
    token = _STEPS_LEFT.set([MAX_LOOP_STEPS])
    chars = _CHARS_LEFT.set([MAX_PRINTED_CHARS])
    try:
        for piece in _ENV.from_string(source).generate(context):
            size += len(piece)
            if size > MAX_RENDERED_CHARS:
                raise ValidationError(
                    f"{where}: renders more than {MAX_RENDERED_CHARS:,} characters; "
                    "shorten the template")
            pieces.append(piece)
    except ValidationError:
        raise
    except Exception as err:
        # Scenario files supply templates: whatever a template does wrong at run time (divide
        # by zero, index past the end, build too much) is bad input, not a teamsim crash.
        reason = str(err).rstrip(".") or type(err).__name__
        raise ValidationError(f"{where}: {type(err).__name__}: {reason}; fix the template"
                              ) from None
    finally:
        _STEPS_LEFT.reset(token)
        _CHARS_LEFT.reset(chars)
    return "".join(pieces).strip()


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
