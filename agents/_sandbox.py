"""The sandbox templates render in: Jinja2's immutable sandbox, with limits on what one
rendering may build, print and spend.

Scenario files supply the templates, so a template is untrusted input: whatever it does wrong
(a syntax error, dividing by zero, a loop of a billion steps, a text of a billion characters)
is a :class:`~teamsim.model.ValidationError` naming where the template came from, never a
crash or a hang. A variable the context lacks renders as ``{{ name }}``, visibly unfilled.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import Template, TemplateError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from teamsim.model import ValidationError

__all__ = [
    "MAX_LOOP_STEPS",
    "MAX_PRINTED_CHARS",
    "MAX_RENDERED_CHARS",
    "Namespace",
    "check_template",
    "render",
    "syntax_error",
    "unknown_names",
]

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


class _Unfilled(Undefined):
    """A missing template variable: renders as ``{{ path }}`` instead of failing."""

    __slots__ = ()

    def _path(self) -> str:
        owner = self._undefined_obj
        if isinstance(owner, Namespace):
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


class Namespace:
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
        if not isinstance(checked, nodes.Template):  # the transformer keeps the root
            raise TypeError(f"a template parsed to {type(checked).__name__}")
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
    reason = syntax_error(source)
    if reason is not None:
        raise ValidationError(f"{where}: {reason}; fix the template's Jinja2 syntax")


def syntax_error(source: str) -> str | None:
    """Why ``source`` does not parse as a template, or ``None`` when it does."""
    try:
        _ENV.from_string(source)
    except TemplateError as err:
        return str(err).rstrip(".")
    return None


def unknown_names(source: str, known: Iterable[str]) -> list[str]:
    """The variables ``source`` reads that are neither in ``known`` nor the sandbox's globals
    (sorted; empty when ``source`` does not parse: :func:`syntax_error` says why)."""
    try:
        read = meta.find_undeclared_variables(_ENV.parse(source))
    except TemplateError:
        return []
    return sorted(read - set(known) - set(_ENV.globals))


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """``source`` compiled once: compiling costs some 30 ms a template, rendering 0.1 ms, and
    the prompt templates of model teammates render twice a call. (A source that does not
    compile raises every time: ``lru_cache`` keeps no exceptions.)"""
    return _ENV.from_string(source)


def render(source: str, context: Mapping[str, Any], where: str) -> str:
    """Render ``source``; any failure is a :class:`~teamsim.model.errors.ValidationError` naming
    ``where``, and so is output longer than :data:`MAX_RENDERED_CHARS`."""
    pieces: list[str] = []
    size = 0
    token = _STEPS_LEFT.set([MAX_LOOP_STEPS])
    chars = _CHARS_LEFT.set([MAX_PRINTED_CHARS])
    try:
        for piece in _compiled(source).generate(context):
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
