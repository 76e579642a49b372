"""A sweep's rows (issue 13): every metric in every row, sorted, typed; failed runs recorded;
``variants=`` checked; safe to call from a script without a main guard."""

from __future__ import annotations

import csv
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from teamsim import runner
from teamsim.model import ValidationError
from teamsim.runner import _pool
from teamsim.runner._rows import MEASURED_COLUMNS, read_rows
from teamsim.scenario import EXPECTABLE

DATA = Path(__file__).parent / "data"
SMALL = DATA / "run_small.yaml"
VARIANTS = {"quick": {"approver.minutes_per_item": 1}, "slow": {"approver.minutes_per_item": 3}}


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory: pytest.TempPathFactory) -> runner.SweepResult:
    """2 variants x 3 seeds in this process, summarising one metric."""
    out = tmp_path_factory.mktemp("rows") / "sweep"
    return runner.sweep(SMALL, [2, 0, 1], variants=VARIANTS, workers=1, out=out,
                        metrics=["sent"])


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_every_row_holds_every_metric_whatever_metrics_chose(
    small_sweep: runner.SweepResult,
) -> None:
    assert small_sweep.csv_path is not None
    rows = _csv(small_sweep.csv_path)
    assert list(rows[0]) == list(runner.ROW_COLUMNS)
    assert set(EXPECTABLE) | {"model_usage"} <= set(rows[0])
    assert all(row[m] != "" for row in rows for m in EXPECTABLE)
    assert small_sweep.metrics == ("sent",)
    assert list(small_sweep.summary["quick"]) == ["sent"]


def test_rows_are_sorted_by_variant_then_seed(small_sweep: runner.SweepResult) -> None:
    assert small_sweep.csv_path is not None
    pairs = [(row["variant"], int(row["seed"])) for row in _csv(small_sweep.csv_path)]
    assert pairs == [("quick", 0), ("quick", 1), ("quick", 2),
                     ("slow", 0), ("slow", 1), ("slow", 2)]
    assert [(r.variant, r.seed) for r in small_sweep.rows] == pairs


def test_a_row_records_its_digest_settings_scenario_and_version(
    small_sweep: runner.SweepResult,
) -> None:
    row = small_sweep.rows[4]
    single = runner.run(runner.with_values(runner._run.load(SMALL)[0], VARIANTS["slow"]), seed=1)
    single.close()
    assert (row.variant, row.seed, row.status) == ("slow", 1, "ok")
    assert row.digest == single.digest
    assert row.metrics["sent"] == single.metrics["sent"]
    assert row.settings == {"approver.minutes_per_item": 3}
    assert len(row.scenario_hash) == 64
    assert row.scenario_hash != small_sweep.rows[0].scenario_hash  # another variant
    assert row.teamsim_version == runner._folders.teamsim_version()
    assert row.wall_seconds > 0
    assert row.peak_memory_mib is not None
    assert row.peak_memory_mib > 0


def test_the_file_reads_back_as_the_same_typed_rows(small_sweep: runner.SweepResult) -> None:
    assert small_sweep.csv_path is not None
    assert tuple(read_rows(small_sweep.csv_path)) == tuple(
        runner.SweepRow(**{**_fields(r), "wall_seconds": round(r.wall_seconds, 3),
                           "peak_memory_mib": round(r.peak_memory_mib or 0, 1)})
        for r in small_sweep.rows)


def _fields(row: runner.SweepRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__slots__}


def test_rows_as_a_dataframe(small_sweep: runner.SweepResult) -> None:
    pandas = pytest.importorskip("pandas", reason="pandas is not installed (the test extra has it)")
    frame = small_sweep.to_dataframe()
    assert isinstance(frame, pandas.DataFrame)
    assert len(frame) == 6
    assert list(frame["set:approver.minutes_per_item"]) == [1, 1, 1, 3, 3, 3]
    assert frame.groupby("variant")["sent"].mean()["quick"] == pytest.approx(
        small_sweep.summary["quick"]["sent"].mean)


# failed runs


def _failing_on_seed(bad: int, *, die: bool) -> Any:
    real = _pool.simulate_job

    def simulate(world: Any, seed: int, *args: Any, **kwargs: Any) -> Any:
        if seed == bad:
            if die:
                os._exit(3)  # what a segfault or the out-of-memory killer does to a worker
            raise RuntimeError(f"drafter exploded on seed {seed}")
        return real(world, seed, *args, **kwargs)

    return simulate


def test_a_run_that_raises_is_a_failed_row_and_the_rest_complete(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_pool, "simulate_job", _failing_on_seed(1, die=False))
    result = runner.sweep(SMALL, "0:3", workers=1, metrics=["sent"])
    assert [(r.seed, r.status) for r in result.rows] == [(0, "ok"), (1, "failed"), (2, "ok")]
    assert result.failed[0].error == "RuntimeError: drafter exploded on seed 1"
    assert result.failed[0].metrics == {}
    assert result.summary["base"]["sent"].n == 2


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="the crash is planted in forked workers")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_worker_that_dies_fails_only_its_row(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    # Forked workers inherit the planted crash (the fork server's would not).
    monkeypatch.setattr(_pool, "_context", lambda: multiprocessing.get_context("fork"))
    monkeypatch.setattr(_pool, "simulate_job", _failing_on_seed(2, die=True))
    result = runner.sweep(SMALL, "0:5", workers=2, metrics=["sent"], out=tmp_path / "s")
    assert [(r.seed, r.status) for r in result.rows] == [
        (0, "ok"), (1, "ok"), (2, "failed"), (3, "ok"), (4, "ok")]
    assert "worker process died" in (result.failed[0].error or "")
    statuses = [row["status"] for row in _csv(tmp_path / "s" / "sweep.csv")]
    assert statuses == ["ok", "ok", "failed", "ok", "ok"]


# variants=


@pytest.mark.parametrize(("variants", "message"), [
    ([{"approver.approve": 0.5}], r"variants: got a list; write variants as \{name: "),
    ({"fast": [("approver.minutes_per_item", 1)]},
     r"variants\['fast'\]: got a list, not a mapping of dotted paths to values"),
    ({"fast": {3: 1}}, r"variants\['fast'\]: 3 is not a dotted path"),
    ({"": {}}, r"variants: the name '' is not a non-empty text"),
    ({}, r"variants: give at least one variant"),
])
def test_variants_of_the_wrong_shape_are_refused_with_the_shape_to_write(
    variants: Any, message: str,
) -> None:
    with pytest.raises(ValidationError, match=message):
        runner.sweep(SMALL, "0:1", variants=variants, workers=1)


def test_measured_columns_are_the_only_ones_that_differ_between_sweeps(
    small_sweep: runner.SweepResult, tmp_path: Path,
) -> None:
    again = runner.sweep(SMALL, "0:3", variants=VARIANTS, workers=1, out=tmp_path / "again",
                         metrics=["sent"])
    assert small_sweep.csv_path is not None
    assert again.csv_path is not None
    strip = [{k: v for k, v in row.items() if k not in MEASURED_COLUMNS}
             for row in _csv(small_sweep.csv_path)]
    assert strip == [{k: v for k, v in row.items() if k not in MEASURED_COLUMNS}
                     for row in _csv(again.csv_path)]


def test_a_script_without_a_main_guard_can_sweep_in_worker_processes(tmp_path: Path) -> None:
    script = tmp_path / "plain.py"
    script.write_text(
        "import teamsim\n"
        f"result = teamsim.sweep({str(SMALL)!r}, '0:2', workers=2)\n"
        "print('digests', *[row.digest for row in result.rows])\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("digests") == 1  # the workers did not run the script again
    assert len(done.stdout.split()) == 3


def test_a_worker_with_another_teamsim_version_fails_its_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_pool, "_version", lambda: "9.9.9")
    result = runner.sweep(SMALL, "0:1", workers=1)
    assert result.failed[0].error == (
        f"this worker runs teamsim 9.9.9, the sweep teamsim {result.rows[0].teamsim_version}: "
        "install the same version on every worker")


def _progress_render(monkeypatch: pytest.MonkeyPatch, *, eta: bool) -> str:
    import io

    from teamsim.cli import _tables
    from teamsim.cli._text import PlainConsole

    stream = io.StringIO()
    monkeypatch.setattr(_tables, "err", PlainConsole(file=stream, force_terminal=True, width=100))
    with _tables.progress_bar(4, "runs", eta=eta) as update:
        update(1)
    return stream.getvalue()


def test_the_sweep_progress_bar_shows_the_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    times = r"\d+:\d\d:\d\d|-:--:--"
    with_eta = _progress_render(monkeypatch, eta=True)
    without = _progress_render(monkeypatch, eta=False)
    assert len(re.findall(times, with_eta)) > len(re.findall(times, without)) > 0


def test_more_workers_than_runs_start_only_as_many_as_there_are_runs(tmp_path: Path) -> None:
    result = runner.sweep(SMALL, "0:1", workers=10**11, out=tmp_path / "s")
    assert result.runs == 1
    assert [row.status for row in result.rows] == ["ok"]
