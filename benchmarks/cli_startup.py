"""How long the ``teamsim`` command line takes to start, against a bare Python.

Each command runs ``--runs`` times in a fresh subprocess (as a user's shell runs it), in
interleaved rounds so that a busy machine slows every command alike:

- ``python -c pass``: the floor, the interpreter alone;
- ``python -m teamsim --help``: the app, its commands and Typer's help, nothing of the simulator;
- ``python -m teamsim seq list --db FILE``: the workspace and the store (SQLAlchemy, pydantic),
  still no LangGraph, SimPy or SciPy.

For each it prints the median and range of wall time and of CPU time (user + system of the
child, from ``resource.getrusage(RUSAGE_CHILDREN)``), and the ratio of the medians to the bare
interpreter's. CPU time is the steadier figure on a shared machine.

Run: ``python benchmarks/cli_startup.py [--runs 15]``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(kw_only=True, slots=True)
class Timings:
    """Wall and CPU seconds of each run of one command."""

    name: str
    argv: list[str]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def run_once(self) -> None:
        """Run the command once in a subprocess; record its wall and CPU time."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(self.argv, capture_output=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{self.name}: exit {done.returncode}: {done.stderr.decode()}")
        self.wall.append(wall)
        self.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


def _span(values: list[float]) -> str:
    return (f"{statistics.median(values) * 1000:7.0f} ms "
            f"({min(values) * 1000:.0f}-{max(values) * 1000:.0f})")


def main() -> None:
    """Time the commands and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "bench.db")
        commands = [
            Timings(name="python -c pass", argv=[sys.executable, "-c", "pass"]),
            Timings(name="teamsim --help", argv=[sys.executable, "-m", "teamsim", "--help"]),
            Timings(name="teamsim seq list",
                    argv=[sys.executable, "-m", "teamsim", "seq", "list", "--db", db]),
        ]
        commands[2].run_once()  # creates the database, so every timed run only reads it
        commands[2].wall.clear()
        commands[2].cpu.clear()
        for _ in range(args.runs):
            for command in commands:
                command.run_once()
    floor = commands[0]
    print(f"{args.runs} runs each, median (min-max); ratio of medians to `python -c pass`")
    print(f"{'command':<18} {'wall':>22} {'cpu':>22} {'wall x':>7} {'cpu x':>6}")
    for command in commands:
        wall_ratio = statistics.median(command.wall) / statistics.median(floor.wall)
        cpu_ratio = statistics.median(command.cpu) / statistics.median(floor.cpu)
        print(f"{command.name:<18} {_span(command.wall):>22} {_span(command.cpu):>22} "
              f"{wall_ratio:>7.1f} {cpu_ratio:>6.1f}")


if __name__ == "__main__":
    main()
