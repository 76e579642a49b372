"""The decisions journal: every input a person made while playing the human, replayable.

A journal is JSON Lines, appended to and never rewritten. The first line is the header::

    {"format": "teamsim-decisions/1", "scenario": "...", "scenario_sha256": "...", "seed": 7}

and each further line is one :class:`Decision`: its number, the simulated minute and moment it
was made at, the action, the Needs attention item (or sequence) it answers, and for an edit
the text that was sent. Each line is written whole with one ``write`` on a file opened for
appending and fsynced before the decision is applied, so a crash leaves at most a line that
was never applied (a torn last line is reported, not guessed at). ``teamsim run SCENARIO
--decisions JOURNAL`` replays it: :class:`DecisionJournal` is a
:class:`~teamsim.sim.DecisionSource`, and the run gives the digest the served run gave.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from teamsim.model import TeamsimError
from teamsim.scenario import scenario_hash
from teamsim.sim import DecisionSource, HumanAction, HumanInput, ListDecisions, World

__all__ = ["JOURNAL_FORMAT", "Decision", "DecisionJournal", "JournalHeader", "RecordedDecisions",
           "recorded_decisions", "replayed_decisions"]

JOURNAL_FORMAT = "teamsim-decisions/1"
"""The format marker of a decisions journal's header line."""

_MAX_LINE = 1 << 20  # one decision (an edited body) is far below a MiB


class JournalHeader(BaseModel):
    """The first line of a journal: what run it belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["teamsim-decisions/1"] = Field(description="The format marker.")
    scenario: str = Field(description="The scenario's name (for people).")
    scenario_sha256: str = Field(description="SHA-256 of the scenario's canonical JSON.")
    seed: int = Field(description="The run's seed.")


class Decision(BaseModel):
    """One journaled input of the person playing the human."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    n: int = Field(ge=1, description="Its number in the journal, from 1.")
    minute: int = Field(ge=0, description="The simulated minute it was made at.")
    at: datetime = Field(description="The simulated moment (UTC) it was made at.")
    action: HumanAction
    item: int | None = Field(default=None, description="The Needs attention item answered.")
    sequence: str | None = Field(default=None, description="The sequence paused or activated.")
    subject: str | None = Field(default=None, description="An edit's subject.")
    body: str | None = Field(default=None, description="An edit's body: what is sent.")
    note: str = Field(default="", description="A rejection's note.")

    def to_input(self) -> HumanInput:
        """The simulator's input this decision records.

        Raises:
            ValueError: the fields do not make an input (an edit without a body...).
        """
        return HumanInput(minute=self.minute, action=self.action, item_id=self.item,
                          sequence=self.sequence, subject=self.subject, body=self.body,
                          note=self.note)


class DecisionJournal:
    """An open journal: read it (it is a :class:`~teamsim.sim.DecisionSource`), append to it.

    Use :meth:`create` for a new one and :meth:`read` for one on disk.
    """

    def __init__(self, path: Path, header: JournalHeader, decisions: list[Decision]) -> None:
        self.path = path
        self.header = header
        self.decisions = decisions

    @classmethod
    def create(cls, path: str | Path, world: World, seed: int) -> DecisionJournal:
        """Start a new journal at ``path`` (its header only), written atomically.

        Raises:
            TeamsimError: something is at ``path`` already, or it cannot be written.
        """
        target = Path(path)
        header = JournalHeader(format=JOURNAL_FORMAT, scenario=world.name,
                               scenario_sha256=scenario_hash(world), seed=seed)
        temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with open(temp, "x", encoding="utf-8") as f:
                f.write(header.model_dump_json() + "\n")
                f.flush()
                os.fsync(f.fileno())
            # link(): fails if the target appeared meanwhile, never overwrites.
            os.link(temp, target)
        except FileExistsError:
            raise TeamsimError(
                f"{target}: a file is there already; name a new journal with --journal "
                "(teamsim never overwrites a file)") from None
        except OSError as exc:
            raise TeamsimError(f"{target}: cannot write the journal: "
                               f"{exc.strerror or exc}") from None
        finally:
            temp.unlink(missing_ok=True)
        return cls(target, header, [])

    @classmethod
    def read(cls, path: str | Path, world: World | None = None,
             seed: int | None = None) -> DecisionJournal:
        """Read the journal at ``path``; with ``world`` and ``seed``, check it was made on
        them.

        Raises:
            TeamsimError: it cannot be read, is not a journal, a line is invalid, or it was
                made on another scenario or seed (the message names the file and line).
        """
        source = Path(path)
        try:
            if source.stat().st_size > 256 * _MAX_LINE:
                raise TeamsimError(f"{source}: larger than 256 MiB; not a decisions journal")
            lines = source.read_text(encoding="utf-8").split("\n")
        except UnicodeDecodeError:
            raise TeamsimError(f"{source}: not UTF-8 text; not a decisions journal") from None
        except OSError as exc:
            raise TeamsimError(f"{source}: cannot read the journal: "
                               f"{exc.strerror or exc}") from None
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            raise TeamsimError(f"{source}: empty; a decisions journal starts with its header")
        try:
            header = JournalHeader.model_validate_json(lines[0])
        except pydantic.ValidationError:
            raise TeamsimError(f"{source}: line 1: not a teamsim decisions journal header "
                               f"(format {JOURNAL_FORMAT!r})") from None
        decisions: list[Decision] = []
        for number, line in enumerate(lines[1:], start=2):
            try:
                decision = Decision.model_validate_json(line)
                decision.to_input()
            except pydantic.ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "line"
                raise TeamsimError(f"{source}: line {number}: {where}: {first['msg']}; the "
                                   "journal was changed by hand or cut short") from None
            except ValueError as exc:
                raise TeamsimError(f"{source}: line {number}: {exc}") from None
            if decision.n != len(decisions) + 1:
                raise TeamsimError(f"{source}: line {number}: decision number {decision.n}, "
                                   f"expected {len(decisions) + 1}")
            if decisions and decision.minute < decisions[-1].minute:
                raise TeamsimError(f"{source}: line {number}: minute {decision.minute} is "
                                   f"earlier than the decision before it")
            decisions.append(decision)
        if world is not None and header.scenario_sha256 != scenario_hash(world):
            raise TeamsimError(f"{source}: made on another version of the scenario "
                               f"({header.scenario!r}); replay it on the scenario it was "
                               "made on")
        if seed is not None and header.seed != seed:
            raise TeamsimError(f"{source}: made with seed {header.seed}, not {seed}; "
                               f"pass --seed {header.seed}")
        return cls(source, header, decisions)

    def inputs(self) -> Iterator[HumanInput]:
        """The journaled inputs, in order (the :class:`~teamsim.sim.DecisionSource` port)."""
        return (d.to_input() for d in self.decisions)

    def append(self, given: HumanInput, start: datetime) -> Decision:
        """Journal ``given`` (made at its minute of a run that started at ``start``, UTC):
        one line, written whole and fsynced before this returns.

        Raises:
            TeamsimError: the journal cannot be written (nothing should then be applied).
        """
        decision = Decision(n=len(self.decisions) + 1, minute=given.minute,
                            at=start + timedelta(minutes=given.minute), action=given.action,
                            item=given.item_id, sequence=given.sequence,
                            subject=given.subject, body=given.body, note=given.note)
        line = (decision.model_dump_json() + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(f"wrote {written} of {len(line)} bytes")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise TeamsimError(f"{self.path}: cannot append the decision: "
                               f"{getattr(exc, 'strerror', None) or exc}") from None
        self.decisions.append(decision)
        return decision


class RecordedDecisions(ListDecisions):
    """The inputs of a replayed run, read once, with what a stopped run's journal keeps of
    them (its ``decision`` lines), so that the run can be stopped and resumed.

    Attributes:
        path: where they came from (named in error messages).
        records: each input as a :class:`Decision`'s JSON data.
    """

    def __init__(self, inputs: tuple[HumanInput, ...], records: tuple[pydantic.JsonValue, ...],
                 path: str) -> None:
        super().__init__(inputs)
        self.path = path
        self.records = records


def recorded_decisions(source: DecisionSource, start: datetime) -> RecordedDecisions:
    """``source``'s inputs (read once) with their records for the run's journal; ``start``:
    the run's start (UTC), which dates each record."""
    inputs = tuple(source.inputs())
    records = tuple(
        Decision(n=n, minute=given.minute, at=start + timedelta(minutes=given.minute),
                 action=given.action, item=given.item_id, sequence=given.sequence,
                 subject=given.subject, body=given.body,
                 note=given.note).model_dump(mode="json")
        for n, given in enumerate(inputs, start=1))
    return RecordedDecisions(inputs, records, str(getattr(source, "path", "decisions")))


def replayed_decisions(records: tuple[pydantic.JsonValue, ...], place: str) -> RecordedDecisions:
    """The decisions a stopped run's journal carries (``place`` names it), to resume it.

    Raises:
        TeamsimError: a record is not a decision (the message names it and ``place``).
    """
    inputs: list[HumanInput] = []
    for n, data in enumerate(records, start=1):
        try:
            inputs.append(Decision.model_validate(data).to_input())
        except (pydantic.ValidationError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0]
            raise TeamsimError(f"{place}: decision {n}: {reason}; it was changed after "
                               "teamsim wrote it, so the run cannot be resumed from it") from None
    return RecordedDecisions(tuple(inputs), records, place)
