"""Recorded model replies (a cassette): record once, replay offline with no model calls.

A cassette maps a canonical prompt key (see :func:`teamsim.agents._client.prompt_key`) to the
replies the model gave it, in the order they were used. The file is canonical JSON::

    {
      "entries": [
        {
          "failure": null,
          "key": "<sha256 of the canonical prompt>",
          "model_id": "demo",
          "prompt": "<the first 400 characters of the last user message>",
          "purpose": "draft",
          "reply": {"content": "...", "tool_calls": [...], "usage_metadata": {...}},
          "teammate": "Riley",
          "tries": 1,
          "where": "step 's1' of sequence 'Welcome' for Ada Lovelace"
        }
      ],
      "format": "teamsim-cassette",
      "version": 1
    }

An entry holds either the reply (what the model said, its tool calls and token counts: replay
rebuilds the ``AIMessage`` and parses it exactly as a live reply) or the ``failure`` the call
ended in (``rate limited``...), with the tries it took, so a replayed run fails where the
recorded one did. Entries are kept in the order the run used them, so a deterministic run
saves the same file every time.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator
from pydantic import ValidationError as PydanticError

from teamsim.model import TeamsimError, ValidationError

__all__ = ["FORMAT", "Cassette", "CassetteMiss", "CassetteMode", "Entry", "Reply", "dumps"]

CassetteMode = Literal["record", "replay", "auto"]
"""``record``: always call the model and save the reply; ``replay``: recorded replies only (a
miss is a :class:`CassetteMiss`); ``auto``: the recording when there is one, else call and
record."""

FORMAT = "teamsim-cassette"
"""The format marker every cassette file carries (``"format"``); save() refuses to overwrite a
file without it."""

_VERSION = 1
_MODES: tuple[CassetteMode, ...] = ("record", "replay", "auto")


class CassetteMiss(TeamsimError):
    """Replay mode, and the cassette has no reply for a prompt: names the teammate, the step
    (or purpose) and an excerpt of the prompt."""


class ToolCall(BaseModel):
    """One tool call of a recorded reply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    args: dict[str, JsonValue]
    id: str | None = None


class Reply(BaseModel):
    """A recorded model reply: its content, tool calls and ``usage_metadata``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content: str | list[JsonValue]
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage_metadata: dict[str, JsonValue] | None = None


class Entry(BaseModel):
    """One use of a prompt: the reply it got, or the failure it ended in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[0-9a-f]{64}$")
    model_id: str
    teammate: str
    purpose: str
    where: str
    prompt: str
    tries: int = Field(ge=1)
    reply: Reply | None = None
    failure: str | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> Entry:
        if (self.reply is None) == (self.failure is None):
            raise ValueError("an entry holds exactly one of 'reply' and 'failure'")
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["teamsim-cassette"]
    version: Literal[1]
    entries: list[Entry]


def dumps(value: Any) -> str:
    """``value`` as canonical JSON: keys sorted, no NaN, UTF-8 text, fixed separators."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))


class Cassette:
    """Model replies keyed by the canonical prompt key; thread-safe, one per run, shared by
    all teammates.

    A key may be used several times in a run: its n-th use gets its n-th recorded reply. In
    ``record`` mode nothing recorded is used (every prompt calls the model) and the recording
    starts empty; in ``replay`` mode nothing is called; ``auto`` uses a key's recorded replies
    and calls the model for the uses beyond them.

    Attributes:
        mode: ``record``, ``replay`` or ``auto``.
    """

    def __init__(self, mode: CassetteMode = "auto") -> None:
        if mode not in _MODES:
            raise ValueError(f"cassette mode must be one of {', '.join(_MODES)}; got {mode!r}")
        self.mode: CassetteMode = mode
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self._by_key: dict[str, list[Entry]] = defaultdict(list)
        self._used: dict[str, int] = defaultdict(int)
        self._reserved: dict[str, int] = defaultdict(int)
        self._primed_live: set[tuple[str, int]] = set()
        self._primed: dict[str, int] = defaultdict(int)
        self._listener: Callable[[Entry, bool], None] | None = None

    @classmethod
    def load(cls, path: Path, mode: CassetteMode) -> Cassette:
        """Read a cassette file.

        A missing file is an empty cassette in ``record`` and ``auto`` mode; in ``replay``
        mode, and for a file that is not a teamsim cassette, a
        :class:`~teamsim.model.ValidationError` (a :class:`~teamsim.model.TeamsimError`)
        naming the file and the fix. ``record`` mode keeps none of the file's entries: saving
        writes a fresh recording.
        """
        cassette = cls(mode)
        path = Path(path)
        if not path.exists():
            if mode == "replay":
                raise ValidationError(
                    f"{path}: no cassette to replay; record one first (mode 'record' or 'auto')")
            return cassette
        data = _read(path)
        try:
            parsed = _File.model_validate(data)
        except PydanticError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(top level)"
            raise ValidationError(
                f"{path}: {where}: {first['msg']}; the cassette is damaged: record it again"
            ) from None
        if mode != "record":
            for entry in parsed.entries:
                cassette._entries.append(entry)
                cassette._by_key[entry.key].append(entry)
        return cassette

    def save(self, path: Path) -> None:
        """Write the cassette as canonical JSON (sorted keys, two-space indent), atomically: a
        temporary file beside ``path`` replaces it, so a crash leaves the old file whole.

        Refuses (:class:`~teamsim.model.ValidationError`) to overwrite a file that is not a
        teamsim cassette.
        """
        path = Path(path)
        if path.exists():
            try:
                marker = _read(path).get("format")
            except ValidationError:
                marker = None
            if marker != FORMAT:
                raise ValidationError(
                    f"{path}: not a teamsim cassette; refusing to overwrite it: "
                    "choose another path or remove the file")
        with self._lock:
            entries = [entry.model_dump(mode="json") for entry in self._entries]
        text = json.dumps({"format": FORMAT, "version": _VERSION, "entries": entries},
                          sort_keys=True, ensure_ascii=False, allow_nan=False, indent=2) + "\n"
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                        dir=path.parent or Path("."))
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def listen(self, listener: Callable[[Entry, bool], None] | None) -> None:
        """Call ``listener(entry, live)`` as each reply is used, in the order of use (under the
        cassette's lock): ``live`` when the model was called for it (or it was first a live
        call of the run being resumed). Primed replies (:meth:`prime`) are not reported: the
        journal they came from holds them already. A run's journal appends them so a killed
        run keeps the replies it paid for."""
        with self._lock:
            self._listener = listener

    def prime(self, used: Iterable[tuple[Entry, bool]]) -> None:
        """Serve ``used`` first: the replies an earlier, stopped try of the same run used, in
        its order of use, each with whether it was a live call.

        A key's primed replies are its first uses, in every mode; the file's own recording of
        the key continues after the ones the earlier try took from it. A primed live reply is
        added to the recording when used, as the live call was.
        """
        with self._lock:
            primed: dict[str, list[tuple[Entry, bool]]] = defaultdict(list)
            for entry, live in used:
                primed[entry.key].append((entry, live))
            for key, entries in primed.items():
                taken = sum(1 for _, live in entries if not live)
                rest = self._by_key.get(key, [])[taken:]
                self._by_key[key] = [entry for entry, _ in entries] + rest
                self._primed_live.update((key, i) for i, (_, live) in enumerate(entries) if live)
                self._primed[key] = len(entries)

    def _used_one(self, key: str, index: int, entry: Entry, live: bool) -> None:
        """Note the use of ``entry`` (the ``index``-th of ``key``); the lock is held."""
        if (key, index) in self._primed_live:
            self._entries.append(entry)
        if self._listener is not None and index >= self._primed[key]:
            self._listener(entry, live)

    def __len__(self) -> int:
        """The number of recorded entries."""
        with self._lock:
            return len(self._entries)

    # The model client's side: look up the next use of a key, settle a reserved use, record.

    def next_entry(self, key: str, *, reserve: bool = False) -> Entry | None:
        """The entry for the next use of ``key``, or ``None`` (in record mode, only replies
        primed from an earlier try of the run are found).

        Taking it uses it up; with ``reserve`` it is only set aside for :meth:`settle` (a
        reply made ahead of time counts as used only when a request consumes it).
        """
        # Record mode keeps nothing of the file, so only primed replies are found.
        with self._lock:
            recorded = self._by_key.get(key, ())
            index = self._used[key] + self._reserved[key]
            if index >= len(recorded):
                return None
            if reserve:
                self._reserved[key] += 1
            else:
                self._used[key] += 1
                self._used_one(key, index, recorded[index], False)
            return recorded[index]

    def peek(self, key: str) -> Entry | None:
        """The entry for the next use of ``key`` (or ``None``), without using it."""
        with self._lock:
            index = self._used[key] + self._reserved[key]
            recorded = self._by_key.get(key, ())
            return recorded[index] if index < len(recorded) else None

    def has_next(self, key: str) -> bool:
        """Whether the next use of ``key`` has a recorded entry (without using it)."""
        with self._lock:
            index = self._used[key] + self._reserved[key]
            return index < len(self._by_key.get(key, ()))

    def settle(self, key: str) -> None:
        """Count a use set aside by ``next_entry(key, reserve=True)`` as used."""
        with self._lock:
            self._reserved[key] -= 1
            index = self._used[key]
            self._used[key] += 1
            self._used_one(key, index, self._by_key[key][index], False)

    def add(self, entry: Entry) -> None:
        """Record ``entry`` as the next use of its key (it is appended to the file)."""
        if self.mode == "replay":
            raise ValueError("a replay cassette records nothing")
        with self._lock:
            self._entries.append(entry)
            self._by_key[entry.key].append(entry)
            self._used[entry.key] += 1
            if self._listener is not None:
                self._listener(entry, True)


def _read(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, or a ValidationError saying why there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValidationError(f"{path}: cannot read the cassette: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValidationError(
            f"{path}: not JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
            "it is not a teamsim cassette") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValidationError(
            f"{path}: not a teamsim cassette (no \"format\": \"{FORMAT}\"); "
            "record one with mode 'record' or 'auto'")
    return data
