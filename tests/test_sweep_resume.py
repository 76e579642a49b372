"""Interrupted sweeps keep their rows and ``--resume`` finishes them (issue 13): a sweep
killed part way leaves no worker behind (checked by pid) and, resumed, runs only the missing
rows into a file equal to an uninterrupted sweep's; rows of another scenario or teamsim
version are refused."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from teamsim import runner
from teamsim.model import TeamsimError, ValidationError
from teamsim.runner._rows import MEASURED_COLUMNS

DATA = Path(__file__).parent / "data"
SMALL = DATA / "run_small.yaml"
TEAMSIM = Path(sys.executable).with_name("teamsim")
LINUX = sys.platform.startswith("linux")
SEEDS = "0:8"


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return [{k: v for k, v in row.items() if k not in MEASURED_COLUMNS}
                for row in csv.DictReader(stream)]


def _descendants(pid: int) -> list[int]:
    """``pid``'s live children, their children, and so on (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            except (OSError, ValueError):
                continue
            if state != "Z":
                parents.setdefault(int(parent), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _rows_written(path: Path) -> int:
    try:
        return max(0, path.read_text().count("\n") - 1)
    except OSError:
        return 0


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same sweep run in one go (in this process)."""
    out = tmp_path_factory.mktemp("whole") / "sweep"
    runner.sweep(SMALL, SEEDS, workers=1, out=out)
    return out / "sweep.csv"


@pytest.mark.skipif(not LINUX, reason="reads /proc to find the workers")
def test_a_killed_sweep_leaves_no_worker_and_resume_runs_only_the_missing_rows(
    tmp_path: Path, uninterrupted: Path,
) -> None:
    out = tmp_path / "s"
    process = subprocess.Popen(
        [str(TEAMSIM), "sweep", str(SMALL), "--seeds", SEEDS, "--workers", "2", "--out",
         str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 300
        while _rows_written(out / "sweep.csv") < 2:
            assert process.poll() is None, "the sweep ended before it was killed"
            assert time.monotonic() < deadline, "no rows were written"
            workers = _descendants(process.pid) or workers
            time.sleep(0.05)
        workers = _descendants(process.pid)
        assert len(workers) >= 2
        process.kill()
        process.wait()
        deadline = time.monotonic() + 60
        while [p for p in workers if _alive(p)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p for p in workers if _alive(p)] == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    kept = _rows_written(out / "sweep.csv")
    assert 2 <= kept < 8
    assert not (out / "summary.json").exists()
    result = runner.sweep(SMALL, SEEDS, workers=1, out=out, resume=True)
    assert result.resumed == kept
    assert result.runs == 8
    assert _csv(out / "sweep.csv") == _csv(uninterrupted)
    assert (out / "summary.json").is_file()


def test_resume_refuses_rows_of_another_scenario(tmp_path: Path, uninterrupted: Path) -> None:
    out = tmp_path / "s"
    out.mkdir()
    (out / "sweep.csv").write_text(uninterrupted.read_text())
    with pytest.raises(ValidationError, match=r"seed 0 was made from another scenario"):
        runner.sweep(SMALL, SEEDS, variants={"base": {"approver.minutes_per_item": 3}},
                     workers=1, out=out, resume=True)
    assert (out / "sweep.csv").read_text() == uninterrupted.read_text()


def test_resume_refuses_rows_of_another_teamsim_version(
    tmp_path: Path, uninterrupted: Path,
) -> None:
    out = tmp_path / "s"
    out.mkdir()
    version = runner._folders.teamsim_version()
    (out / "sweep.csv").write_text(uninterrupted.read_text().replace(f",{version},", ",0.0.1,"))
    with pytest.raises(ValidationError, match=r"was made by teamsim 0\.0\.1, this is "):
        runner.sweep(SMALL, SEEDS, workers=1, out=out, resume=True)


def test_resume_refuses_rows_of_seeds_this_sweep_does_not_have(
    tmp_path: Path, uninterrupted: Path,
) -> None:
    out = tmp_path / "s"
    out.mkdir()
    (out / "sweep.csv").write_text(uninterrupted.read_text())
    with pytest.raises(ValidationError, match=r"seed 4 is not in this sweep; resume with the "
                                              r"same --seeds"):
        runner.sweep(SMALL, "0:4", workers=1, out=out, resume=True)


def test_resume_drops_a_last_line_cut_short_and_reruns_failed_rows(
    tmp_path: Path, uninterrupted: Path,
) -> None:
    out = tmp_path / "s"
    out.mkdir()
    lines = uninterrupted.read_text().splitlines(keepends=True)
    failed = lines[3].split(",")
    failed[2:5] = ["failed", "RuntimeError: boom", ""]
    cut = [*lines[:3], ",".join(failed), lines[4][:30]]  # a kill in the middle of a write
    (out / "sweep.csv").write_text("".join(cut))
    result = runner.sweep(SMALL, SEEDS, workers=1, out=out, resume=True)
    assert result.resumed == 2
    assert result.failed == ()
    assert _csv(out / "sweep.csv") == _csv(uninterrupted)


def test_a_finished_sweep_is_not_run_again_without_resume_or_force(
    tmp_path: Path, uninterrupted: Path,
) -> None:
    out = tmp_path / "s"
    out.mkdir()
    (out / "sweep.csv").write_text(uninterrupted.read_text())
    with pytest.raises(TeamsimError, match=r"holds an earlier teamsim sweep; pass --force"):
        runner.sweep(SMALL, SEEDS, workers=1, out=out)
    with pytest.raises(ValidationError, match=r"--resume and --force: choose one"):
        runner.sweep(SMALL, SEEDS, workers=1, out=out, resume=True, force=True)
    result = runner.sweep(SMALL, SEEDS, workers=1, out=out, resume=True)
    assert (result.resumed, result.runs) == (8, 8)


def test_a_row_the_csv_module_cannot_read_is_named_not_a_crash(
    tmp_path: Path, uninterrupted: Path,
) -> None:
    out = tmp_path / "s"
    out.mkdir()
    header = uninterrupted.read_text().splitlines(keepends=True)[0]
    (out / "sweep.csv").write_text(header + "x" * 200_000 + ",1\n")  # over the 128 KiB cell limit
    with pytest.raises(TeamsimError, match=r"sweep.csv: line 2 is damaged; start over with"):
        runner.sweep(SMALL, SEEDS, workers=1, out=out, resume=True)
