"""A run's journal: the inputs from outside the simulation, appended as they happen.

A run is re-executed from its scenario and seed to resume it (SimPy's generators cannot be
saved), so the only things a resumed run needs besides them are what the simulation cannot
compute again: the model replies it used (paid calls), and the human decisions made
interactively. ``journal.jsonl`` holds them, one canonical JSON object a line, each line
chained to the one before by a SHA-256 (``chain``), so a line changed, removed or put in
another order after it was written is found, by its line number::

    {"chain": "...", "format": "teamsim-journal", "kind": "header", "version": 1,
     "scenario": "...", "scenario_hash": "...", "seed": 7, "source": "...", ...}
    {"chain": "...", "entry": {...a cassette entry...}, "kind": "model", "live": true}
    {"chain": "...", "data": {...}, "kind": "decision"}

``model`` lines are the cassette entries in their order of use (``live``: the model was
called for it). ``decision`` lines are the person's decisions a run replays (``teamsim run
--decisions``; their ``data`` is the decisions journal's record,
:class:`~teamsim.runner._decisions.Decision`): written when the run starts, all of them, so
that a stopped replay resumes from this journal alone.

Each line is flushed as it is written, so a killed process keeps every line it finished (a
line cut short by the kill, the last one, is dropped when read).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pydantic

from teamsim.agents import Entry
from teamsim.model import TeamsimError

__all__ = ["JOURNAL", "Journal", "JournalHeader", "JournalWriter", "parse_journal", "read_journal"]

JOURNAL = "journal.jsonl"
"""The journal's file name in a run folder."""

_FORMAT = "teamsim-journal"


class JournalHeader(pydantic.BaseModel):
    """The journal's first line: which run it belongs to."""

    model_config = pydantic.ConfigDict(extra="forbid")
    format: Literal["teamsim-journal"] = "teamsim-journal"
    version: Literal[1] = 1
    kind: Literal["header"] = "header"
    scenario: str
    scenario_hash: str = pydantic.Field(pattern=r"^[0-9a-f]{64}$")
    source: str | None
    sequence: str | None = None
    seed: int
    until_days: float
    cassette: str | None = None
    cassette_mode: Literal["record", "replay", "auto"] | None = None


class _ModelLine(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    kind: Literal["model"]
    live: bool
    entry: Entry


class _DecisionLine(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    kind: Literal["decision"]
    data: pydantic.JsonValue


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))


def _chain(previous: str, body: dict[str, Any]) -> str:
    return hashlib.sha256((previous + _dumps(body)).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Journal:
    """A journal as read back.

    Attributes:
        header: which run it belongs to.
        models: the model replies in their order of use, each with whether it was live.
        decisions: the human's interactive decisions (``data`` of each ``decision`` line).
        lines: how many whole lines it holds (the header included).
        head: the ``chain`` of its last line.
    """

    header: JournalHeader
    models: tuple[tuple[Entry, bool], ...]
    decisions: tuple[pydantic.JsonValue, ...]
    lines: int
    head: str


class JournalWriter:
    """Appends to a run's journal; thread-safe (model replies arrive from worker threads).

    Args:
        path: the journal file (created; ``None``: kept in memory only, for a ``--db`` run
            without a run folder, which records :attr:`text` when it stops).
        header: the run it belongs to.
        carry: an earlier try's journal, whose lines are written again first (a resumed run
            keeps what the stopped one paid for, also if it is stopped in turn).
    """

    def __init__(self, path: Path | None, header: JournalHeader,
                 carry: Journal | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._head = ""
        self._texts: list[str] = []
        self.lines = 0
        """How many lines are written so far."""
        self._file = None if path is None else path.open("x", encoding="utf-8", newline="\n")
        self._write(header.model_dump(mode="json"))
        if carry is not None:
            for entry, live in carry.models:
                self.model(entry, live)
            for data in carry.decisions:
                self.decision(data)

    def model(self, entry: Entry, live: bool) -> None:
        """Append a model reply as it is used."""
        self._write({"kind": "model", "live": live, "entry": entry.model_dump(mode="json")})

    def decision(self, data: pydantic.JsonValue) -> None:
        """Append a human's interactive decision (the slot the decisions journal fills)."""
        self._write({"kind": "decision", "data": data})

    @property
    def text(self) -> str:
        """Every line written so far, each ending with a newline (what the file holds)."""
        with self._lock:
            return "".join(self._texts)

    @property
    def head(self) -> str:
        """The ``chain`` of the last line written."""
        return self._head

    def _write(self, body: dict[str, Any]) -> None:
        with self._lock:
            self._head = _chain(self._head, body)
            self.lines += 1
            line = _dumps({**body, "chain": self._head}) + "\n"
            self._texts.append(line)
            if self._file is not None:
                self._file.write(line)
                self._file.flush()

    def close(self) -> None:
        """Flush the journal to disk and close it."""
        with self._lock:
            if self._file is None or self._file.closed:
                return
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def read_journal(path: Path) -> Journal:
    """Read and check a journal.

    Raises:
        TeamsimError: one line naming the file, the line and what is wrong with it (not a
            journal; a line changed, removed or moved after it was written).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TeamsimError(f"{path}: cannot read the journal: {exc}") from None
    return parse_journal(text, str(path))


def parse_journal(text: str, path: str) -> Journal:
    """Check a journal given as its text; ``path`` names it in errors (a file, or a run in a
    database).

    Raises:
        TeamsimError: as :func:`read_journal`.
    """
    raw = text.split("\n")
    if raw and raw[-1] != "":
        raw = raw[:-1]  # cut short by a kill while being written: never used by the run
    raw = [line for line in raw if line]
    if not raw:
        raise TeamsimError(f"{path}: empty; it is not a teamsim journal")
    head = ""
    header: JournalHeader | None = None
    models: list[tuple[Entry, bool]] = []
    decisions: list[pydantic.JsonValue] = []
    tampered = "it was changed after teamsim wrote it; the run cannot be resumed from it"
    for number, line in enumerate(raw, start=1):
        try:
            body = json.loads(line)
        except json.JSONDecodeError:
            raise TeamsimError(f"{path}: line {number}: not JSON; {tampered}") from None
        if not isinstance(body, dict) or not isinstance(body.get("chain"), str):
            raise TeamsimError(f"{path}: line {number}: no chain; {tampered}")
        chain = body.pop("chain")
        head = _chain(head, body)
        if chain != head:
            raise TeamsimError(f"{path}: line {number}: its chain does not match the lines "
                               f"before it; {tampered}")
        try:
            if number == 1:
                header = JournalHeader.model_validate(body)
            elif body.get("kind") == "model":
                parsed = _ModelLine.model_validate(body)
                models.append((parsed.entry, parsed.live))
            else:
                decisions.append(_DecisionLine.model_validate(body).data)
        except pydantic.ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(line)"
            what = "not a teamsim journal" if number == 1 else tampered
            raise TeamsimError(f"{path}: line {number}: {where}: {first['msg']}; "
                               f"{what}") from None
    if header is None:  # pragma: no cover - line 1 always sets it
        raise TeamsimError(f"{path}: no header; it is not a teamsim journal")
    return Journal(header=header, models=tuple(models), decisions=tuple(decisions),
                   lines=len(raw), head=head)
