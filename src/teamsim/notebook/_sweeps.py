"""A sweep as DataFrames: one row per (variant, seed), the summary, the comparisons.

A sweep is read from its folder (``sweep.csv`` and ``summary.json``, what ``teamsim sweep
--out`` writes) or from a :class:`~teamsim.runner.SweepResult`. ``sweep.csv`` is read by its
header: ``variant``, ``seed``, ``digest`` and one column per metric, whichever metrics it
holds.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from teamsim.model import TeamsimError
from teamsim.runner import SweepResult

__all__ = ["SweepData", "SweepInput", "load_sweep", "sweep_comparisons_frame",
           "sweep_frame", "sweep_summary_frame"]

SweepInput = SweepResult | str | os.PathLike[str]
"""A sweep: a :class:`~teamsim.runner.SweepResult` or a sweep folder's path."""

_ID_COLUMNS = ("variant", "seed", "digest")


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepData:
    """What a sweep holds, however it was obtained.

    Attributes:
        scenario: the scenario's name ("" when not known).
        seeds: the seeds.
        variants: each variant's name and the values it sets, the baseline first.
        summary: one row per variant and metric (see :func:`sweep_summary_frame`).
        comparisons: one row per variant and metric against the baseline.
        csv_path: the rows' file, when kept.
    """

    scenario: str
    seeds: tuple[int, ...]
    variants: dict[str, dict[str, Any]]
    summary: pd.DataFrame
    comparisons: pd.DataFrame
    csv_path: Path | None


def _finite(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.nan


def load_sweep(sweep: SweepInput) -> SweepData:
    """Read a sweep folder or a :class:`~teamsim.runner.SweepResult`.

    Raises:
        TeamsimError: the folder is not a sweep folder or its files are damaged.
    """
    if isinstance(sweep, SweepResult):
        summary_rows = [{"variant": v, "metric": m, "mean": e.mean, "low": e.low,
                         "high": e.high, "n": e.n}
                        for v, by_metric in sweep.summary.items() for m, e in by_metric.items()]
        comparison_rows = [_comparison_row(c.variant, c.baseline, c.metric,
                                           {"mean": c.paired.mean, "low": c.paired.low,
                                            "high": c.paired.high, "n": c.paired.n},
                                           {"mean": c.unpaired.mean, "low": c.unpaired.low,
                                            "high": c.unpaired.high, "n": c.unpaired.n})
                           for c in sweep.comparisons]
        return SweepData(scenario="", seeds=sweep.seeds,
                         variants={k: dict(v) for k, v in sweep.variants.items()},
                         summary=_summary(summary_rows), comparisons=_comparisons(comparison_rows),
                         csv_path=sweep.csv_path)
    if not isinstance(sweep, str | os.PathLike):
        raise TypeError(f"expected a SweepResult or a sweep folder, got {type(sweep).__name__}")
    folder = Path(sweep)
    path = folder / "summary.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise TeamsimError(f"{folder}: not a teamsim sweep folder (no summary.json); run "
                           "`teamsim sweep --out` first") from None
    except ValueError as exc:
        raise TeamsimError(f"{path}: damaged ({exc}); run `teamsim sweep` again") from None
    try:
        variants = {str(v["name"]): dict(v.get("values") or {}) for v in doc["variants"]}
        summary_rows = [{"variant": str(v["name"]), "metric": str(m), **{
            k: _finite(e.get(k)) for k in ("mean", "low", "high")}, "n": int(e.get("n", 0))}
            for v in doc["variants"] for m, e in (v.get("metrics") or {}).items()]
        comparison_rows = [_comparison_row(str(c["variant"]), str(c["baseline"]),
                                           str(c["metric"]), c["paired"], c["unpaired"])
                           for c in doc.get("comparisons", [])]
        seeds = tuple(int(s) for s in doc.get("seeds", []))
        scenario = str(doc.get("scenario", ""))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TeamsimError(f"{path}: damaged ({type(exc).__name__}: {exc}); run `teamsim "
                           "sweep` again") from None
    return SweepData(scenario=scenario, seeds=seeds, variants=variants,
                     summary=_summary(summary_rows), comparisons=_comparisons(comparison_rows),
                     csv_path=folder / "sweep.csv")


def _comparison_row(variant: str, baseline: str, metric: str, paired: Any,
                    unpaired: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"variant": variant, "baseline": baseline, "metric": metric}
    for name, estimate in (("paired", paired), ("unpaired", unpaired)):
        for key in ("mean", "low", "high"):
            row[f"{name}_{key}"] = _finite(estimate.get(key))
        row[f"{name}_n"] = int(estimate.get("n", 0))
    return row


def _summary(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=["variant", "metric", "mean", "low",
                                                     "high", "n"])
    frame["variant"] = frame["variant"].astype("string")
    frame["metric"] = frame["metric"].astype("string")
    for column in ("mean", "low", "high"):
        frame[column] = frame[column].astype("float64")
    frame["n"] = frame["n"].astype("int64")
    frame["half_width"] = (frame["high"] - frame["low"]) / 2
    return frame


_COMPARISON_COLUMNS = ["variant", "baseline", "metric",
                       *(f"{a}_{b}" for a in ("paired", "unpaired")
                         for b in ("mean", "low", "high", "n"))]


def _comparisons(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=_COMPARISON_COLUMNS)
    for column in _COMPARISON_COLUMNS:
        if column in ("variant", "baseline", "metric"):
            frame[column] = frame[column].astype("string")
        elif column.endswith("_n"):
            frame[column] = frame[column].astype("int64")
        else:
            frame[column] = frame[column].astype("float64")
    return frame


def sweep_frame(sweep: SweepInput | SweepData) -> pd.DataFrame:
    """One row per (variant, seed) with every metric ``sweep.csv`` holds, sorted by variant
    (baseline first) and seed.

    Columns: ``variant`` (ordered categorical), ``seed`` (int), ``digest`` (string), then one
    float column per metric, in the file's order.

    Raises:
        TeamsimError: the sweep kept no rows (run with ``out=``) or ``sweep.csv`` is damaged.
    """
    data = sweep if isinstance(sweep, SweepData) else load_sweep(sweep)
    if data.csv_path is None:
        raise TeamsimError("this sweep kept no rows: run it with out=DIR (--out DIR) to keep "
                           "sweep.csv")
    try:
        frame = pd.read_csv(data.csv_path, dtype={"variant": "string", "digest": "string"},
                            keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise TeamsimError(f"{data.csv_path}: cannot read it ({exc}); run `teamsim sweep` "
                           "again") from None
    missing = [c for c in ("variant", "seed") if c not in frame.columns]
    if missing:
        raise TeamsimError(f"{data.csv_path}: damaged (no {', '.join(missing)} column); run "
                           "`teamsim sweep` again")
    order = [*data.variants, *sorted(set(frame["variant"]) - set(data.variants))]
    frame["variant"] = pd.Categorical(frame["variant"], categories=order, ordered=True)
    frame["seed"] = pd.to_numeric(frame["seed"], errors="raise").astype("int64")
    for column in frame.columns:
        if column not in _ID_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame.sort_values(["variant", "seed"], kind="stable").reset_index(drop=True)


def sweep_summary_frame(sweep: SweepInput | SweepData) -> pd.DataFrame:
    """Each variant's mean per metric with its 95% interval: ``variant``, ``metric``,
    ``mean``, ``low``, ``high``, ``n``, ``half_width``."""
    data = sweep if isinstance(sweep, SweepData) else load_sweep(sweep)
    return data.summary.copy()


def sweep_comparisons_frame(sweep: SweepInput | SweepData) -> pd.DataFrame:
    """Each variant against the baseline per metric: ``variant``, ``baseline``, ``metric``,
    and the paired (same seeds) and unpaired (Welch) differences, each as ``_mean``,
    ``_low``, ``_high`` and ``_n``."""
    data = sweep if isinstance(sweep, SweepData) else load_sweep(sweep)
    return data.comparisons.copy()
