"""A sweep as DataFrames: one row per (variant, seed) read by the CSV's header, the summary and
the comparisons as summary.json holds them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from teamsim.model import TeamsimError
from teamsim.notebook import (
    load_sweep,
    sweep_comparisons_frame,
    sweep_frame,
    sweep_summary_frame,
)
from teamsim.runner import SweepResult


def _folder(sweep: SweepResult) -> Path:
    assert sweep.csv_path is not None
    return sweep.csv_path.parent


def test_one_row_per_variant_and_seed_sorted(paired_sweep: SweepResult) -> None:
    rows = sweep_frame(_folder(paired_sweep))
    assert len(rows) == 6
    assert list(rows["variant"].cat.categories) == ["away", "at the desk"]
    assert list(zip(rows["variant"], rows["seed"], strict=True)) == [
        ("away", 0), ("away", 1), ("away", 2),
        ("at the desk", 0), ("at the desk", 1), ("at the desk", 2)]
    assert rows["seed"].dtype == "int64"
    for metric in ("sent", "human_minutes", "drafts", "replies"):
        assert rows[metric].dtype == "float64"
    assert (rows[rows["variant"] == "away"]["sent"] == 0).all()
    # the same rows from the result object
    pd.testing.assert_frame_equal(sweep_frame(paired_sweep), rows)


def test_summary_and_comparisons_match_the_result(paired_sweep: SweepResult) -> None:
    summary = sweep_summary_frame(_folder(paired_sweep))
    rows = sweep_frame(paired_sweep)
    for variant, by_metric in paired_sweep.summary.items():
        for metric, estimate in by_metric.items():
            row = summary[(summary["variant"] == variant) & (summary["metric"] == metric)]
            assert len(row) == 1
            assert row["mean"].iloc[0] == pytest.approx(estimate.mean)
            assert row["n"].iloc[0] == 3
            mean = rows[rows["variant"] == variant][metric].mean()
            assert row["mean"].iloc[0] == pytest.approx(mean)
    comparisons = sweep_comparisons_frame(_folder(paired_sweep))
    sent = comparisons[comparisons["metric"] == "sent"].iloc[0]
    expected = paired_sweep.comparison("at the desk", "sent")
    assert sent["variant"] == "at the desk"
    assert sent["baseline"] == "away"
    assert sent["paired_mean"] == pytest.approx(expected.paired.mean)
    assert sent["unpaired_high"] == pytest.approx(expected.unpaired.high)
    from_result = sweep_comparisons_frame(paired_sweep)
    pd.testing.assert_frame_equal(from_result, comparisons)


def test_the_csv_is_read_by_its_header_whatever_metrics_it_holds(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({
        "scenario": "S", "source": None, "seeds": [0, 1], "teamsim_version": "x",
        "confidence": 0.95,
        "variants": [{"name": "b", "values": {}, "metrics": {}},
                     {"name": "a", "values": {"x": 1}, "metrics": {}}],
        "comparisons": []}))
    (tmp_path / "sweep.csv").write_text(
        "variant,seed,digest,zeta,sent,reply_rate\n"
        "a,1,d1,1,10,0.5\nb,1,d2,2,11,\na,0,d3,3,12,0.25\nb,0,d4,4,13,0.1\n")
    rows = sweep_frame(tmp_path)
    assert list(rows.columns) == ["variant", "seed", "digest", "zeta", "sent", "reply_rate"]
    assert list(zip(rows["variant"], rows["seed"], strict=True)) == [
        ("b", 0), ("b", 1), ("a", 0), ("a", 1)]
    assert math.isnan(rows["reply_rate"].iloc[1])
    assert rows["digest"].dtype == "string"


def test_a_folder_that_is_not_a_sweep_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TeamsimError, match="not a teamsim sweep folder"):
        load_sweep(tmp_path)
    (tmp_path / "summary.json").write_text("{")
    with pytest.raises(TeamsimError, match=r"summary\.json: damaged"):
        sweep_frame(tmp_path)
