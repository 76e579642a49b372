"""Simulate what the toolbar built: a stored sequence as a scenario.

:func:`stored_scenario` reads a sequence from a database (as ``teamsim seq`` left it) and
makes a validated scenario of it: the sequence as it stands, its enrolled people as contacts
(or the people of a contacts CSV, :func:`read_contacts_csv`), and defaults for the rest.
:func:`export_scenario` writes the same scenario as YAML with comments saying what to fill in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import yaml

from teamsim.model import ScenarioError, Sequence, TeamsimError, format_errors
from teamsim.scenario import Scenario
from teamsim.sim import ContactSpec
from teamsim.store import Store

__all__ = ["CONTACT_COLUMNS", "export_scenario", "read_contacts_csv", "stored_scenario"]

CONTACT_COLUMNS = ("name", "email", "company", "timezone", "persona", "enroll_at")
"""The columns a contacts CSV may have (``name`` and ``email`` are required); any other
column becomes an attribute of the contact (a whole number, a decimal, or text), which branch
conditions can test."""

_LIMIT = 1_000_000  # contacts: the size check of the run refuses more than 100,000 anyway


def _sequence_and_people(store: Store, name: str) -> tuple[Sequence, list[ContactSpec]]:
    with store.unit_of_work() as uow:
        key: str | int = int(name) if name.isascii() and name.isdigit() else name
        seq = uow.sequences.get(key)
        people = [uow.contacts.get(e.contact_id)
                  for e in uow.enrollments.list(sequence_id=seq.id)]
    contacts = [ContactSpec(**c.model_dump(exclude={"id"}), enroll_in=[seq.name])
                for c in people]
    return seq, contacts


def _scenario_data(seq: Sequence, contacts: list[ContactSpec]) -> dict[str, Any]:
    teammates = [{"name": "Riley"}, {"name": "Sam"}]
    if seq.teammate is not None and seq.teammate not in {"Riley", "Sam"}:
        teammates = [{"name": seq.teammate}, {"name": "Sam"}]
    sequence = seq.model_dump(mode="json", exclude={"id", "version", "last_step_number"},
                              exclude_none=True)
    sequence["name"] = seq.name
    return {
        "name": seq.name,
        "description": f"The stored sequence {seq.name!r} (version {seq.version}), simulated.",
        "start": "2026-03-02T08:00:00",
        "timezone": "UTC",
        "days": 14,
        "seed": 0,
        "teammates": teammates,
        "sequences": [sequence],
        "personas": [{"name": "default"}],
        "contacts": [c.model_dump(mode="json", exclude_defaults=True) | {"enroll_in": [seq.name]}
                     for c in contacts],
        "approver": {"sessions": ["09:00", "13:00", "16:30"]},
    }


def stored_scenario(store: Store, sequence: str,
                    contacts: list[ContactSpec] | None = None) -> Scenario:
    """The stored sequence ``sequence`` (a name or id) as a validated scenario.

    Args:
        store: the database ``teamsim seq`` built it in.
        sequence: its name or id.
        contacts: the people to enroll (default: the people enrolled in it in the database);
            each is enrolled in the sequence.

    Raises:
        TeamsimError: no such sequence (the message names the database).
        ScenarioError: the scenario does not validate (a sequence with no steps...).
    """
    seq, enrolled = _sequence_and_people(store, sequence)
    people = enrolled if contacts is None else [
        c.model_copy(update={"enroll_in": [seq.name]}) for c in contacts]
    data = _scenario_data(seq, people)
    try:
        return Scenario.model_validate(data)
    except pydantic.ValidationError as err:
        raise ScenarioError(format_errors(err, f"sequence {seq.name!r}", data=data,
                                          model=Scenario)) from None


_COMMENTS = {
    "name": "The scenario: exported from the database by `teamsim seq export`. Fill in what\n"
            "the comments ask, then `teamsim validate` and `teamsim run` this file.",
    "start": "When the simulated campaign starts (local time in `timezone`), and for how\n"
             "many days it runs.",
    "seed": "The seed of the random draws: the same seed gives the same run.",
    "teammates": "The AI teammates: who drafts (the sequence's `teammate`, else the first)\n"
                 "and who reviews. Add `model:` to back one by a chat model.",
    "sequences": "The sequence as it stands in the database. A `draft` or `paused` sequence\n"
                 "sends nothing: set `status: active` to see it run.",
    "personas": "How contacts behave: chances to open, click and reply, and their delays.\n"
                "Add personas and name them on the contacts below.",
    "contacts": "The people enrolled in the sequence in the database. Add more, set their\n"
                "`persona`, or generate many with `populations:`.",
    "approver": "The human: when they check Needs attention, and how they decide\n"
                "(approve/edit/reject chances). Add `expect:` to check the metrics.",
}


def export_scenario(store: Store, sequence: str) -> str:
    """The stored sequence ``sequence`` as scenario YAML, with comments saying what to fill in
    (it validates as it is).

    Raises:
        TeamsimError: no such sequence.
        ScenarioError: the sequence cannot be simulated as it is (the message says why).
    """
    scenario = stored_scenario(store, sequence)
    seq, people = _sequence_and_people(store, sequence)
    data = _scenario_data(seq, people)
    data["seed"] = scenario.seed
    parts: list[str] = []
    for key, value in data.items():
        comment = _COMMENTS.get(key)
        if comment is not None:
            parts.append("".join(f"# {line}\n" for line in comment.splitlines()))
        text = yaml.safe_dump({key: value}, sort_keys=False, allow_unicode=True, width=96)
        if key == "contacts" and not value:
            text = ("contacts: []  # nobody is enrolled yet: add people here, or enroll them "
                    "with `teamsim seq enroll`\n")
        parts.append(text)
    return "".join(parts)


def read_contacts_csv(path: str | Path) -> list[ContactSpec]:
    """Read the people of a contacts CSV (UTF-8, a header row; see :data:`CONTACT_COLUMNS`).

    Raises:
        TeamsimError: one line naming the file, the row and the column of the first problem.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TeamsimError(f"{path}: cannot read the contacts: {exc}; give a UTF-8 CSV file "
                           "with a header row (name,email,...)") from None
    rows = _csv_rows(path, text)
    header = next(rows, None)
    if header is None:
        raise TeamsimError(f"{path}: empty; give a header row (name,email,...) and a row "
                           "per person")
    header = [h.strip() for h in header]
    missing = [c for c in ("name", "email") if c not in header]
    if missing:
        raise TeamsimError(f"{path}: row 1: no {' and no '.join(repr(m) for m in missing)} "
                           "column; the header must name at least name,email")
    if len(set(header)) != len(header) or "" in header:
        raise TeamsimError(f"{path}: row 1: a column name is empty or given twice; name each "
                           "column once")
    people: list[ContactSpec] = []
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise TeamsimError(f"{path}: row {number}: {len(row)} cells for {len(header)} "
                               "columns; give one cell per column")
        if len(people) >= _LIMIT:
            raise TeamsimError(f"{path}: more than {_LIMIT:,} people; split the file")
        fields: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        for column, cell in zip(header, row, strict=True):
            value = cell.strip()
            if column in CONTACT_COLUMNS:
                if value or column in ("name", "email"):
                    fields[column] = value
            elif value:
                attributes[column] = _attribute(value)
        try:
            people.append(ContactSpec(**fields, attributes=attributes))
        except pydantic.ValidationError as err:
            first = err.errors()[0]
            column = str(first["loc"][0]) if first["loc"] else "?"
            message = first["msg"].removeprefix("Value error, ")
            raise TeamsimError(f"{path}: row {number}, column {column!r}: {message}") from None
    emails = [p.email for p in people]
    if len(set(emails)) != len(emails):
        twice = next(e for e in emails if emails.count(e) > 1)
        raise TeamsimError(f"{path}: {twice} is given twice; give each person once")
    return people


def _attribute(value: str) -> int | float | str:
    for kind in (int, float):
        try:
            number = kind(value)
        except ValueError:
            continue
        if kind is float and not (abs(number) <= 1e15):
            return value
        if kind is int and abs(number) >= 2**63:
            return value
        return number
    return value


def _csv_rows(path: str | Path, text: str) -> Iterator[list[str]]:
    """The CSV's rows; a row the csv module cannot read (a cell over its 128 KiB limit, a
    stray quote at the end) is one error line naming it."""
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TeamsimError(f"{path}: row {reader.line_num}: {exc}; fix the row (a cell "
                               "may hold at most 128 KiB)") from None
        yield row
