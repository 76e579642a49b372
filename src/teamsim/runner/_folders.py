"""Run and sweep folders: what a run directory holds, writing it, reading its ``run.json``.

A run directory (see :mod:`teamsim.runner`) holds :data:`RUN_FILES`, ``previews.json``,
``cassette.json`` when a teammate is model-backed and, unless the run went to another database,
``store.db``. :data:`RUN_FOLDER` tells the staging code (:mod:`teamsim.runner._staging`) which
files are teamsim's and how to recognise a run folder teamsim wrote (a sweep folder's kind is in
:mod:`teamsim.runner._rows`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import pydantic

from teamsim.model import TeamsimError, format_errors
from teamsim.reports import preview_world_rules
from teamsim.runner import _staging
from teamsim.scenario import ExpectationResult
from teamsim.sim import World
from teamsim.store import Store

__all__ = [
    "RUN_FILES",
    "RUN_FOLDER",
    "RunInfo",
    "RunModel",
    "json_text",
    "read_run_info",
    "rule_previews",
    "teamsim_version",
    "write_run",
]

RUN_FILES = ("events.jsonl", "metrics.json", "digest.txt", "run.json")
"""What every run directory holds (``store.db`` too, unless the run went to another database)."""


class RunModel(pydantic.BaseModel):
    """A model-backed teammate of a run, as ``run.json`` records it (secrets masked)."""

    model_config = pydantic.ConfigDict(extra="forbid")
    model_id: str
    spec: str
    drafts: bool
    reviews: bool


class RunInfo(pydantic.BaseModel):
    """``run.json``: what identifies a run directory.

    ``models`` names each model-backed teammate's model and ``cassette_mode`` the mode of the
    run's recorded replies (``cassette.json``); both are empty without models. ``db`` names
    the database a ``--db`` run was recorded in and ``run_id`` its id there (``teamsim runs
    list``); a run recorded by an older teamsim has no ``run_id`` (its rows are the
    database's own tables). A run stopped part way (see :mod:`teamsim.runner._resume`)
    has ``status`` ``stopped``, the minute it stopped at, its scenario's hash and its
    journal's line count and last chain; its ``digest`` and ``events`` are those of the
    events so far.
    """

    model_config = pydantic.ConfigDict(extra="forbid")
    scenario: str
    source: str | None
    seed: int
    until_days: float
    start: datetime
    end: datetime
    digest: str
    events: int
    teamsim_version: str
    db: str | None
    run_id: int | None = None
    models: dict[str, RunModel] = pydantic.Field(default_factory=dict)
    cassette_mode: Literal["record", "replay", "auto"] | None = None
    status: Literal["finished", "stopped"] = "finished"
    stopped_at: int | None = None
    scenario_hash: str | None = None
    journal_lines: int | None = None
    journal_head: str | None = None


def teamsim_version() -> str:
    """The installed teamsim's version (``unknown`` in a bare checkout)."""
    try:
        return metadata.version("teamsim")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _validates(model: type[pydantic.BaseModel]) -> Callable[[Path], bool]:
    """A check that a file holds JSON ``model`` accepts (a folder's marker file)."""

    def valid(path: Path) -> bool:
        try:
            model.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return True

    return valid


RUN_FOLDER = _staging.FolderKind(
    what="run", marker="run.json", is_valid=_validates(RunInfo),
    files=frozenset({*RUN_FILES, "previews.json", "cassette.json", "journal.jsonl", "store.db",
                     "store.db-wal", "store.db-shm", "store.db-journal"}))


def json_text(data: Any) -> str:
    """``data`` as the folders' JSON: sorted keys, indent 2, a final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rule_previews(store: Store, world: World) -> dict[str, Any]:
    """Each rule's preview over the whole run, as counts (``previews.json``)."""
    return {
        name: {"enabled": p.rule.enabled, "reached_gate": p.reached_gate,
               "matched": p.matched, "would_approve": p.would_approve, "capped": p.capped,
               "waiting": len(p.waiting), "total_left": p.total_left,
               "per_day": {day.isoformat(): n for day, n in sorted(p.per_day.items())}}
        for name, p in preview_world_rules(store, world).items()
    }


def write_run(
    folder: Path, info: RunInfo, lines: Iterable[str], metrics: Mapping[str, Any],
    expectations: Iterable[ExpectationResult], violations: Iterable[str],
    previews: Mapping[str, Any],
) -> None:
    """Write a run's files (all but ``store.db``) into ``folder``."""
    with (folder / "events.jsonl").open("w", encoding="utf-8", newline="\n") as stream:
        for line in lines:
            stream.write(line + "\n")
    body = {**metrics,
            "expectations": [{"metric": e.metric, "expected": e.expected, "actual": e.actual,
                              "passed": e.passed} for e in expectations],
            "violations": list(violations)}
    (folder / "metrics.json").write_text(json_text(body), encoding="utf-8")
    (folder / "digest.txt").write_text(info.digest + "\n", encoding="utf-8")
    (folder / "previews.json").write_text(json_text(previews), encoding="utf-8")
    (folder / "run.json").write_text(json_text(info.model_dump(mode="json")), encoding="utf-8")


def read_run_info(run_dir: str | Path) -> RunInfo:
    """Read a run directory's ``run.json``.

    Raises:
        TeamsimError: ``run_dir`` is not a run directory, or its run.json is damaged.
    """
    path = Path(run_dir) / "run.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise TeamsimError(f"{run_dir}: not a teamsim run directory (no run.json); run "
                           "`teamsim run` first") from None
    try:
        return RunInfo.model_validate_json(text)
    except pydantic.ValidationError as err:
        raise TeamsimError(format_errors(err, str(path)) + "\n" +
                           f"{path}: damaged; run `teamsim run` again") from None

