"""A sweep's rows: one finished (or failed) variant x seed, as a typed value and as a CSV line.

``sweep.csv`` has the columns of :data:`ROW_COLUMNS`: the variant, the seed, whether the run
finished (``status`` ``ok`` or ``failed``, with the ``error``), its digest, the variant's
settings (JSON), the hash of the variant's scenario and the teamsim version that ran it, the
run's wall time and peak memory, then every metric (``model_usage`` as JSON). Rows are appended
as runs finish; a sweep killed mid-write may leave a last line without its newline, which
:func:`read_rows` drops. The folder is recognised by the header of its ``sweep.csv``
(:data:`SWEEP_FOLDER`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from teamsim.model import TeamsimError
from teamsim.runner import _staging
from teamsim.scenario import EXPECTABLE, scenario_hash

if TYPE_CHECKING:
    import pandas

__all__ = ["METRIC_COLUMNS", "ROW_COLUMNS", "SWEEP_FOLDER", "SweepRow", "format_row",
           "header_line", "read_rows", "rows_frame", "scenario_hash"]

METRIC_COLUMNS: tuple[str, ...] = (*EXPECTABLE, "model_usage")
"""Every metric a run reports, in ``sweep.csv``'s order (``model_usage`` is JSON)."""

ROW_COLUMNS: tuple[str, ...] = (
    "variant", "seed", "status", "error", "digest", "settings", "scenario_hash",
    "teamsim_version", "wall_seconds", "peak_memory_mib", *METRIC_COLUMNS,
)
"""The columns of ``sweep.csv``, in order."""

MEASURED_COLUMNS: tuple[str, ...] = ("wall_seconds", "peak_memory_mib")
"""The columns that measure the machine, not the run: they differ between two sweeps."""

Status = Literal["ok", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepRow:
    """One variant x seed of a sweep.

    Attributes:
        variant: the variant's name.
        seed: the seed.
        status: ``ok``, or ``failed`` when the run raised or its worker died.
        error: what went wrong (one line), ``None`` when ``ok``.
        digest: the SHA-256 of the run's events (``None`` when failed): the same seed and
            variant give the same digest on every backend.
        settings: the values the variant sets, by dotted path.
        scenario_hash: the SHA-256 of the variant's scenario (see :func:`scenario_hash`).
        teamsim_version: the teamsim that ran it.
        wall_seconds: the run's wall time in its worker.
        peak_memory_mib: the worker's peak resident memory during the run, in MiB (on Linux
            the peak is reset before each run; elsewhere it is the process's peak so far);
            ``None`` where it cannot be read.
        metrics: every metric of the run (empty when failed).
    """

    variant: str
    seed: int
    status: Status
    error: str | None = None
    digest: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    scenario_hash: str
    teamsim_version: str
    wall_seconds: float
    peak_memory_mib: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the run finished."""
        return self.status == "ok"


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _compact(value)
    if isinstance(value, float):
        return repr(value)  # round-trips exactly; nan and inf as Python writes them
    return str(value)


def format_row(row: SweepRow) -> str:
    """``row`` as one CSV line (with its newline); text cells are single lines."""
    cells: dict[str, Any] = {
        "variant": row.variant, "seed": row.seed, "status": row.status,
        "error": None if row.error is None else " ".join(row.error.split()),
        "digest": row.digest, "settings": row.settings, "scenario_hash": row.scenario_hash,
        "teamsim_version": row.teamsim_version,
        "wall_seconds": round(row.wall_seconds, 3),
        "peak_memory_mib": None if row.peak_memory_mib is None else round(row.peak_memory_mib, 1),
        **{m: row.metrics.get(m) for m in METRIC_COLUMNS}}
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_cell(cells[c]) for c in ROW_COLUMNS])
    return buffer.getvalue()


def header_line() -> str:
    """The header of ``sweep.csv`` (with its newline)."""
    return ",".join(ROW_COLUMNS) + "\n"


def _number(text: str) -> int | float | None:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def _parse(cells: dict[str, str], where: str) -> SweepRow:
    status: Status
    if cells["status"] == "ok":
        status = "ok"
    elif cells["status"] == "failed":
        status = "failed"
    else:
        raise ValueError(f"{where}: status {cells['status']!r}")
    metrics: dict[str, Any] = {}
    if status == "ok":
        for name in METRIC_COLUMNS:
            text = cells[name]
            metrics[name] = json.loads(text) if name == "model_usage" else _number(text)
    memory = _number(cells["peak_memory_mib"])
    return SweepRow(
        variant=cells["variant"], seed=int(cells["seed"]), status=status,
        error=cells["error"] or None, digest=cells["digest"] or None,
        settings=json.loads(cells["settings"]), scenario_hash=cells["scenario_hash"],
        teamsim_version=cells["teamsim_version"], wall_seconds=float(cells["wall_seconds"]),
        peak_memory_mib=None if memory is None else float(memory), metrics=metrics)


def read_rows(path: Path) -> list[SweepRow]:
    """The rows of a ``sweep.csv`` this teamsim wrote, in file order; a last line cut short
    by a kill (no newline) is dropped.

    Raises:
        TeamsimError: the file's header is not this teamsim's, or a row is damaged.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TeamsimError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    whole = text[:text.rfind("\n") + 1]
    lines = whole.splitlines(keepends=True)
    if not lines or lines[0] != header_line():
        raise TeamsimError(
            f"{path}: not a sweep.csv of this teamsim version (its columns differ); start "
            "over with --force or choose another --out")
    rows: list[SweepRow] = []
    reader, number = csv.DictReader(lines), 1
    try:
        for number, cells in enumerate(reader, start=2):
            try:
                rows.append(_parse(cells, f"{path}:{number}"))
            except (ValueError, KeyError, TypeError):
                raise TeamsimError(f"{path}: line {number} is damaged; start over with --force "
                                   "or choose another --out") from None
    except csv.Error:  # a cell over the csv module's limit, a broken quote
        raise TeamsimError(f"{path}: line {number + 1} is damaged; start over with --force "
                           "or choose another --out") from None
    return rows


def _is_sweep_csv(path: Path) -> bool:
    """Whether ``path`` starts with the header of a teamsim ``sweep.csv`` (this version's, or
    an earlier one's: ``variant,seed,digest,...``)."""
    try:
        with path.open(encoding="utf-8") as stream:
            first = stream.readline(65536)
    except (OSError, UnicodeDecodeError):
        return False
    columns = first.rstrip("\n").split(",")
    return first == header_line() or (
        columns[:3] == ["variant", "seed", "digest"]
        and all(c in EXPECTABLE for c in columns[3:]))


SWEEP_FOLDER = _staging.FolderKind(
    what="sweep", marker="sweep.csv", is_valid=_is_sweep_csv,
    files=frozenset({"sweep.csv", "summary.json", "sweep.csv.sorting"}))
"""A sweep folder: ``sweep.csv`` (its header is teamsim's), ``summary.json`` once complete."""


def sort_key(order: Mapping[str, int]) -> Any:
    """The final order of rows: by variant (the baseline first, as given), then by seed."""
    return lambda row: (order.get(row.variant, len(order)), row.seed)


def rows_frame(rows: Iterable[SweepRow]) -> pandas.DataFrame:
    """``rows`` as a pandas DataFrame: one row per run, one column per field and metric, and
    a ``set:PATH`` column per variant setting.

    Raises:
        ImportError: pandas is not installed (``pip install 'teamsim[notebook]'``).
    """
    try:
        import pandas
    except ImportError:
        raise ImportError("SweepResult.to_dataframe() needs pandas: pip install pandas "
                          "(or 'teamsim[notebook]')") from None
    records = []
    for row in rows:
        record: dict[str, Any] = {
            "variant": row.variant, "seed": row.seed, "status": row.status,
            "error": row.error, "digest": row.digest, "scenario_hash": row.scenario_hash,
            "teamsim_version": row.teamsim_version, "wall_seconds": row.wall_seconds,
            "peak_memory_mib": row.peak_memory_mib}
        record.update({f"set:{path}": value for path, value in row.settings.items()})
        record.update({m: row.metrics.get(m, math.nan) if m != "model_usage"
                       else row.metrics.get(m) for m in METRIC_COLUMNS})
        records.append(record)
    return pandas.DataFrame.from_records(records)

