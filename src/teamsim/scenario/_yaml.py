"""Reading a scenario file's YAML within fixed limits, so no file can crash or hang the loader.

A scenario file is read and parsed only within these limits (the README's "Scenario files"
section documents them); each refusal is one ``FILE[:LINE:COLUMN]: message`` line:

- :data:`MAX_FILE_BYTES`: the file's size, checked before reading (a regular file's size) and
  while reading (a pipe), so ``/dev/zero``-like input is never read whole. PyYAML's pure-Python
  parser needs about 2.5 s for the slowest megabyte, so this also bounds the time.
- :data:`MAX_NODES`: values in the document *after* alias expansion (each use of ``*a``
  counts every value under ``&a``), refused while composing, before anything is expanded.
  This stops "billion laughs" alias bombs.
- :data:`MAX_DEPTH`: nesting, also counted through aliases; an alias inside the value it names
  (a loop) is refused. Nothing later recurses deeper than this.
- :data:`MAX_NUMBER_CHARS`: the length of a number as written (Python refuses to convert
  integers of more than 4,300 digits; no field needs a tenth of that).

The text must be UTF-8 without control characters (YAML's own rule), and the loaded strings may
not hold the characters that escapes can still produce: NUL, other control characters (except
tab and line breaks) and lone surrogates (``"\\ud800"``), which no file, terminal or database
can store. Those are reported at their path in the document (``sequences[0].steps[1].label``).
"""

from __future__ import annotations

import os
import re
import select
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from teamsim.model import ScenarioError, shorten

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "MAX_NUMBER_CHARS",
    "load_yaml",
    "read_text",
]

MAX_FILE_BYTES = 1024 * 1024
"""The largest scenario file read, in bytes (1 MiB)."""

MAX_NODES = 100_000
"""The most values (mappings, lists, keys and scalars) in a document after alias expansion."""

MAX_DEPTH = 50
"""The deepest nesting: the top-level mapping is level 1, each value inside it one more."""

MAX_NUMBER_CHARS = 100
"""The longest number, in characters as written."""

MAX_SHOWN = 20
"""Problems of one kind reported one per line; the rest are counted in one more line."""

# YAML 1.1 allows only these characters in a stream (PyYAML's reader checks the same set, but
# its message spans two lines and gives an offset, not a line and column).
_NOT_YAML = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Characters an escape can put into a string that no output can carry: NUL and the other C0
# and C1 controls except tab and line breaks, DEL, and lone surrogates.
_BAD_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


class _LimitError(yaml.MarkedYAMLError):
    """A limit of this module was passed at a place in the file (not a YAML syntax error)."""


def read_text(path: str | Path, source: str) -> str:
    """The text of the scenario file at ``path``, refused if it is too large or not UTF-8.

    A regular file's size is checked before it is read; a pipe (``<(command)``, a named pipe,
    which waits for its writer) is read up to one byte past the limit. Devices, sockets and
    directories are refused.

    Raises:
        ScenarioError: one ``source: ...`` line saying what is wrong with the file.
    """
    try:
        # Non-blocking, so opening a FIFO without a writer does not wait forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ScenarioError(f"{source}: no such file; check the path") from None
    except IsADirectoryError:
        raise ScenarioError(f"{source}: is a directory; give a .yaml file") from None
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read the file: {exc.strerror or exc}") from None
    except ValueError:  # a NUL in the name: no file can be called that
        raise ScenarioError(f"{source}: not a file name (it holds a NUL character); check the "
                            "path") from None
    try:
        data = _read_bounded(fd, source)
    finally:
        os.close(fd)
    return _decode(data, source)


def _read_bounded(fd: int, source: str) -> bytes:
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        raise ScenarioError(f"{source}: is a directory; give a .yaml file")
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
        raise ScenarioError(f"{source}: not a regular file (a device or socket); give a .yaml file")
    if info.st_size > MAX_FILE_BYTES:
        raise ScenarioError(_too_large(source, info.st_size))
    if stat.S_ISFIFO(info.st_mode):
        # Wait for a writer, as `cat` does; only the open was kept from blocking.
        waiting = select.poll()
        waiting.register(fd, select.POLLIN)
        waiting.poll()
    os.set_blocking(fd, True)
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read the file: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise ScenarioError(_too_large(source, None))
    return b"".join(chunks)


def _too_large(source: str, size: int | None) -> str:
    what = f"{size / 1024 / 1024:.1f} MiB" if size is not None else "larger than that"
    return (f"{source}: the file is {what}; a scenario file may be at most "
            f"{MAX_FILE_BYTES // 1024 // 1024} MiB (generate contacts with `populations:`)")


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start:exc.start].decode("utf-8", errors="replace")) + 1
        raise ScenarioError(
            f"{source}:{line}:{column}: not UTF-8 text (byte 0x{data[exc.start]:02X}); "
            "save the file as UTF-8"
        ) from None


def load_yaml(text: str, source: str) -> Any:
    """The YAML document in ``text``, composed within this module's limits.

    Keys written twice in one mapping are refused too: plain ``safe_load`` keeps the last value
    silently, which hides a whole block of settings.

    Raises:
        ScenarioError: one ``source[:LINE:COLUMN]: message`` line per problem.
    """
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError(_too_large(source, len(text.encode("utf-8", "surrogatepass"))))
    _check_characters(text, source)
    try:
        data = yaml.load(text, Loader=_Loader)
    except _LimitError as exc:
        raise ScenarioError(_mark_message(exc, source, exc.problem or "")) from None
    except yaml.MarkedYAMLError as exc:
        raise ScenarioError(_yaml_message(exc, source)) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: invalid YAML: {_one_line(str(exc))}") from None
    problems = [f"{source}: {path}: {message}" for path, message in _bad_strings(data)]
    if problems:
        raise ScenarioError("\n".join(_capped(problems, source)))
    return data


def _check_characters(text: str, source: str) -> None:
    problems: list[str] = []
    for found in _NOT_YAML.finditer(text):
        if len(problems) > MAX_SHOWN:
            break
        at = found.start()
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        problems.append(f"{source}:{line}:{column}: character {_codepoint(found.group())} is not "
                        "allowed in YAML (a control character); remove it")
    if problems:
        total = len(_NOT_YAML.findall(text))
        raise ScenarioError("\n".join(_capped(problems, source, total)))


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def _capped(problems: list[str], source: str, total: int | None = None) -> list[str]:
    total = len(problems) if total is None else total
    if total <= MAX_SHOWN:
        return problems
    return [*problems[:MAX_SHOWN],
            f"{source}: {total - MAX_SHOWN} more problems like these; fix the ones above first"]


def _bad_strings(data: Any) -> Iterator[tuple[str, str]]:
    """``(path, message)`` for each string in ``data`` holding a character no output can carry.

    Iterative, so it cannot recurse too deeply; the loader has bounded the number of values.
    """
    stack: list[tuple[str, Any, Any]] = [("", data, None)]  # path, value, key leading to it
    while stack:
        path, value, key = stack.pop()
        if isinstance(key, str) and _BAD_IN_TEXT.search(key):
            yield path, f"the key {_text_problem(key)}"
        if isinstance(value, dict):
            stack.extend((_join(path, k), item, k) for k, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item, None)
                         for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, str) and _BAD_IN_TEXT.search(value):
            yield path or "(top level)", _text_problem(value)


def _text_problem(text: str) -> str:
    found = _BAD_IN_TEXT.search(text)
    assert found is not None
    char = found.group()
    if char == "\x00":
        kind = "a NUL character"
    elif "\ud800" <= char <= "\udfff":
        kind = "a lone surrogate (half of a UTF-16 pair)"
    else:
        kind = "a control character"
    return (f"has {_codepoint(char)}, {kind}, at character {found.start() + 1}, which cannot "
            "be stored or shown; remove it (write a tab or line break as itself)")


def _join(path: str, key: Any) -> str:
    if isinstance(key, str) and _IDENTIFIER.fullmatch(key) and len(key) <= 60:
        return f"{path}.{key}" if path else key
    return f"{path}[{shorten(key, 60)}]"


def _one_line(text: str) -> str:
    return shorten(" ".join(text.split()), 300, as_repr=False)


def _mark_message(exc: yaml.MarkedYAMLError, source: str, message: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return f"{source}: {_one_line(message)}"
    return f"{source}:{mark.line + 1}:{mark.column + 1}: {_one_line(message)}"


def _yaml_message(exc: yaml.MarkedYAMLError, source: str) -> str:
    """``FILE:LINE:COLUMN: invalid YAML: problem (context at line L, column C)``, one line."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or str(exc)
    context = ""
    if exc.context and exc.problem:
        start = exc.context_mark
        at = (f" at line {start.line + 1}, column {start.column + 1}"
              if start is not None and mark is not None and start.line != mark.line else "")
        context = f" ({exc.context}{at})"
    return _mark_message(exc, source, f"invalid YAML: {problem}{context}")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader within this module's limits, refusing a key written twice.

    The composer counts every value as it is composed, an alias with all the values of the
    node it names, and tracks the nesting an alias brings with it; it refuses an alias to a node
    still being composed (a loop). The document is refused before anything is expanded.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._values = 0
        self._depth = 0
        self._deepest = 0
        self._open: set[str] = set()
        self._extent: dict[yaml.Node, tuple[int, int]] = {}  # values under a node, its height

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        mark: Any = event.start_mark  # PyYAML's stubs type the marks of its C and Python parsers
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                raise _LimitError(
                    None, None, f"the alias *{shorten(event.anchor, 40, as_repr=False)} is "
                    "inside the value it names (a loop); write the value out instead", mark)
            node = super().compose_node(parent, index)
            assert node is not None
            values, height = self._extent[node]
            self._count(values, mark)
            reach = self._depth + height
            if reach > MAX_DEPTH:
                raise self._too_deep(mark, " through this alias")
            self._deepest = max(self._deepest, reach)
            return node
        self._count(1, mark)
        outer_deepest = self._deepest
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._too_deep(mark, "")
        self._deepest = self._depth
        before = self._values
        if event.anchor is not None:
            self._open.add(event.anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._open.discard(event.anchor or "")
        assert node is not None
        self._extent[node] = (self._values - before + 1, self._deepest - self._depth + 1)
        self._depth -= 1
        self._deepest = max(outer_deepest, self._deepest)
        return node

    def _count(self, values: int, mark: Any) -> None:
        self._values += values
        if self._values > MAX_NODES:
            raise _LimitError(
                None, None, f"the document holds more than {MAX_NODES:,} values (counting "
                "each alias with everything it names); a scenario file may hold at most that",
                mark)

    def _too_deep(self, mark: Any, how: str) -> _LimitError:
        return _LimitError(None, None, f"nested more than {MAX_DEPTH} levels deep{how}; "
                           "a scenario file may nest at most that", mark)


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    # Only keys written in this mapping count: a key it writes over a merged one (`<<: *base`)
    # is YAML's way of overriding, not a duplicate.
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool):
            continue  # an unhashable key; construct_mapping reports it
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {shorten(key, 60)} is written twice in this mapping; keep one",
                key_node.start_mark)
        seen[key] = key_node
    loader.flatten_mapping(node)
    return loader.construct_mapping(node, deep=deep)


def _scalar(name: str, tag: str) -> Any:
    """Wrap SafeConstructor's ``construct_yaml_<name>``: bounded length, errors with a place."""
    construct = getattr(yaml.SafeLoader, f"construct_yaml_{name}")

    def checked(loader: _Loader, node: yaml.ScalarNode) -> Any:
        written = str(node.value)
        if name in {"int", "float"} and len(written) > MAX_NUMBER_CHARS:
            raise _LimitError(
                None, None, f"a number of {len(written):,} characters; numbers may have at "
                f"most {MAX_NUMBER_CHARS} (quote it if it is text)", node.start_mark)
        try:
            return construct(loader, node)
        except (ValueError, OverflowError, TypeError, AttributeError) as exc:
            # Python's own reason helps for a date ("day is out of range for month"); PyYAML's
            # AttributeError or TypeError on text that is no date at all does not.
            useful = isinstance(exc, ValueError | OverflowError) and str(exc)
            detail = f" ({_one_line(str(exc))})" if useful else ""
            raise _LimitError(
                None, None, f"{shorten(written, 60)} is not a valid {tag}{detail}; "
                f"{_FIXES[name]}", node.start_mark) from None

    return checked


_FIXES = {
    "int": "write a whole number",
    "float": "write a number",
}

def _timestamp_as_text(loader: _Loader, node: yaml.ScalarNode) -> str:
    """Dates and times stay text for pydantic to parse: it names the field of an impossible
    one (2026-02-30, 25:00, +99:00) and checks its range."""
    return str(loader.construct_scalar(node))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
for _name, _tag in (("int", "whole number"), ("float", "number")):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_name}", _scalar(_name, _tag))
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
