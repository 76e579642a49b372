"""How much faster a sweep gets with more workers, and what Dask costs on top.

``teamsim sweep`` of the shipped welcome scenario over 32 seeds, run as a user's shell runs it
(a fresh subprocess each time, start-up included), in interleaved rounds so that a busy machine
slows every configuration alike:

- ``1 worker``: every run in the sweep's own process (the baseline);
- ``2 workers``: teamsim's process pool (``--workers 2``);
- ``dask 2 workers``: ``--backend dask --workers 2``, a ``LocalCluster`` of two single-threaded
  worker processes started and ended by the sweep.

For each it prints the median and range of wall time and of CPU time (user + system of the
sweep and every process under it: this process makes itself their subreaper on Linux, so
workers that outlive their parent by a moment are still counted), the speedup of the medians
against 1 worker, and the runs' own time from ``sweep.csv`` (the sum of ``wall_seconds``), so
what is not running scenarios (start-up, the fork server's imports, the parent's own work)
shows as ``overhead = wall - runs / workers``. The machine's load average is printed before
and after: on a shared machine the wall times mean little above a load of about 2.

Run: ``python benchmarks/sweep.py [--runs 3] [--seeds 32] [--no-dask]``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import ctypes
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "welcome-renovation-leads.yaml"
TEAMSIM = Path(sys.executable).with_name("teamsim")
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(kw_only=True, slots=True)
class Config:
    """One way to run the sweep, and what each of its runs measured."""

    name: str
    options: list[str]
    workers: int
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    runs: list[float] = field(default_factory=list)

    def run_once(self, seeds: int, folder: Path) -> None:
        """Run the sweep once; record wall, CPU and the runs' own time."""
        out = folder / self.name.replace(" ", "-")
        shutil.rmtree(out, ignore_errors=True)
        argv = [str(TEAMSIM), "sweep", str(SCENARIO), "--seeds", f"0:{seeds}", "--out",
                str(out), "--metrics", "sent", *self.options]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, check=False)
        wall = time.perf_counter() - start
        _reap()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{self.name}: exit {done.returncode}: {done.stderr.decode()}")
        with (out / "sweep.csv").open(newline="") as stream:
            rows = list(csv.DictReader(stream))
        if len(rows) != seeds or any(row["status"] != "ok" for row in rows):
            raise SystemExit(f"{self.name}: the sweep did not finish every run")
        self.wall.append(wall)
        self.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        self.runs.append(sum(float(row["wall_seconds"]) for row in rows))


def _subreaper() -> None:
    """Become the subreaper of every process the sweeps start (Linux), so that workers whose
    parent exited first are re-parented here and their CPU time is counted when reaped."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap(timeout: float = 10.0) -> None:
    """Wait for the sweep's leftover descendants (a fork server exits just after its parent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def _span(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} s ({min(values):.1f}-{max(values):.1f})"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} CPUs"


def main() -> None:
    """Time the configurations in interleaved rounds and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--seeds", type=int, default=32, help="seeds per sweep (default 32)")
    parser.add_argument("--no-dask", action="store_true", help="leave Dask out")
    args = parser.parse_args()
    configs = [Config(name="1 worker", options=["--workers", "1"], workers=1),
               Config(name="2 workers", options=["--workers", "2"], workers=2)]
    if not args.no_dask:
        configs.append(Config(name="dask 2 workers", workers=2,
                              options=["--backend", "dask", "--workers", "2"]))
    _subreaper()
    print(f"teamsim sweep {SCENARIO.name} --seeds 0:{args.seeds}, {args.runs} rounds; "
          f"load average before: {_load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="teamsim-bench-sweep-") as folder:
        for round_ in range(args.runs):
            for config in configs:
                config.run_once(args.seeds, Path(folder))
                print(f"  round {round_ + 1}, {config.name}: wall {config.wall[-1]:.1f} s, "
                      f"CPU {config.cpu[-1]:.1f} s, runs {config.runs[-1]:.1f} s; load "
                      f"{_load()}", flush=True)
    base = configs[0]
    print(f"{'':16} {'wall, median (range)':>24} {'speedup':>8} {'CPU, median (range)':>24} "
          f"{'CPU ratio':>9} {'runs / workers':>15} {'overhead':>9}")
    for config in configs:
        wall = statistics.median(config.wall)
        per_worker = statistics.median(config.runs) / config.workers
        print(f"{config.name:16} {_span(config.wall):>24} "
              f"{statistics.median(base.wall) / wall:7.2f}x {_span(config.cpu):>24} "
              f"{statistics.median(config.cpu) / statistics.median(base.cpu):8.2f}x "
              f"{per_worker:13.1f} s {wall - per_worker:7.1f} s")
    pairs = [b / c for b, c in zip(base.wall, configs[1].wall, strict=True)]
    print(f"2 workers against 1, per round: {', '.join(f'{p:.2f}x' for p in pairs)}")
    if len(configs) > 2:
        dask = statistics.median(configs[2].wall) / statistics.median(configs[1].wall)
        print(f"Dask against the local pool (2 workers each): {dask:.2f}x the wall time")
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
