"""What recording a run in a database (``teamsim run --db``) costs, against a run in memory.

A ``--db`` run is simulated in an in-memory store of its own, then its rows are copied into
the database's ``run_*`` tables in one transaction. Each round runs, in turn:

- ``memory``: ``teamsim.run(scenario)``, nothing recorded: the baseline;
- ``sqlite``: the same run recorded in a SQLite file that keeps every earlier round's runs;
- ``postgresql``: the same into PostgreSQL (a schema of its own, dropped at the end), when a
  server answers at ``$TEAMSIM_TEST_POSTGRES_URL``.

For each it prints the median and range of the process's CPU time (the headline: steadier on
a shared machine; PostgreSQL's own work is not in it) and of wall time, the ratio of the
medians to the baseline's, and the part of the wall time spent recording (the copy and the
commit).

Run: ``python benchmarks/runs_db.py [--rounds 5] [--scenario FILE]`` (default: the shipped
``welcome-renovation-leads.yaml``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

import teamsim
from teamsim.runner import _run

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "TEAMSIM_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")


@dataclass(kw_only=True, slots=True)
class Timings:
    """CPU, wall and recording seconds of each run of one variant."""

    name: str
    db: str | None
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    recording: list[float] = field(default_factory=list)


_recorded: list[float] = []


def _timed(record: Callable[..., int]) -> Callable[..., int]:
    def timed(*args: Any, **kwargs: Any) -> int:
        start = time.perf_counter()
        try:
            return record(*args, **kwargs)
        finally:
            _recorded.append(time.perf_counter() - start)

    return timed


def _span(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s ({min(values):.2f}-{max(values):.2f})"


def _postgres_schema() -> tuple[str, str] | None:
    libpq = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(
        hide_password=False)
    schema = f"teamsim_bench_{os.getpid()}"
    try:
        with psycopg.connect(libpq, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError:
        return None
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def _drop(schema: str) -> None:
    libpq = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(
        hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    """Time the variants in interleaved rounds and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenario", type=Path,
                        default=ROOT / "scenarios" / "welcome-renovation-leads.yaml")
    args = parser.parse_args()
    _run._record = _timed(_run._record)
    with tempfile.TemporaryDirectory() as folder:
        variants = [Timings(name="memory", db=None),
                    Timings(name="sqlite", db=f"sqlite:///{Path(folder) / 'runs.db'}")]
        postgres = _postgres_schema()
        if postgres is not None:
            variants.append(Timings(name="postgresql", db=postgres[0]))
        try:
            for _ in range(args.rounds):
                for variant in variants:
                    _recorded.clear()
                    cpu, wall = time.process_time(), time.perf_counter()
                    result = teamsim.run(args.scenario, db=variant.db)
                    variant.wall.append(time.perf_counter() - wall)
                    variant.cpu.append(time.process_time() - cpu)
                    variant.recording.append(sum(_recorded))
                    events = len(result.events)
                    result.close()
        finally:
            if postgres is not None:
                _drop(postgres[1])
    base_cpu = statistics.median(variants[0].cpu)
    base_wall = statistics.median(variants[0].wall)
    print(f"{args.scenario.name}: {events} events, {args.rounds} rounds; median (range)")
    for v in variants:
        print(f"{v.name:<11} CPU {_span(v.cpu)} x{statistics.median(v.cpu) / base_cpu:.2f}   "
              f"wall {_span(v.wall)} x{statistics.median(v.wall) / base_wall:.2f}   "
              f"recording {_span(v.recording)}")
    if postgres is None:
        print(f"postgresql: skipped, no server at {make_url(POSTGRES_URL).render_as_string()}")


if __name__ == "__main__":
    main()
