"""The cost of one due step of a whole campaign, against the bare per-item LangGraph cycle.

**Per-step cost** = everything ``Simulation(world).run()`` does (construction, set-up, SimPy,
the pipeline, every store write and the final commit, the audit, the metrics, the digest, the
garbage collector) divided by the run's ``steps_due``. The world: N contacts on a
three-message sequence (email, wait 2 days, email, wait 2 days, email), the template drafter
and the rule reviewer, three teammates, an in-memory SQLite store (``--store file``: a SQLite
file in a temporary folder, as ``teamsim run`` uses), no auto-approve rules (a
suggested rule is never accepted), and a human who approves every draft, so every due step
takes one interrupt and one human decision (the child checks ``decision.made`` events ==
``steps_due`` and the table shows it). Two humans:

- ``immediate``: checks in every 3 hours, day and night, and spends no time per item; the
  contacts are enrolled over 2 days and the run lasts 12 days (the world of the earlier
  definition, so figures compare with the issue's).
- ``2min``: the same check-ins, 2 minutes per item. One human decides at most 720 items a
  day, so the enrollment is spread over enough days for them to keep up (load <= 75%) and
  the run lasts that plus 7 days; otherwise most steps would never be decided.

**Baseline**: the unchanged per-item bare cycle (``benchmarks/pipeline.py``'s no-op graph of
the pipeline's shape: invoke, ``interrupt()`` at the gate, resume, thread deleted; sync
invoke), never batched, on the pipeline's checkpointer class with the pipeline's durability
(``exit``), in the same process and under the process's GC settings, best of 3 blocks timed
**before and after** the campaign. When the simulator tunes the collector during a run (see
``teamsim.sim._gc``), the baseline is also timed under that tuning, before and after.
The ratio claimed is the **worst** (largest) of these ratios.

CPU time (``time.process_time``, which counts LangGraph's background threads) is the
headline; wall time beside it. Every run is a fresh child process (so its peak resident
memory, ``ru_maxrss``, is its own); the table gives the median and range over ``--repeat``
children. It also gives graph invokes per due step and the batch-size distribution: due
steps per batch graph thread, counted at the first invoke of each thread (the tasks in the
state it starts with), shown as size buckets (1, 2-16, 17-64, 65-255, 256) with the share of
due steps in each.

Run: ``python benchmarks/campaign.py [--sizes 100,1000,10000] [--humans immediate,2min]
[--repeat 3] [--allow-large] [--store memory|file]`` (100,000 contacts needs
``--allow-large``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SEQUENCE = "Three touches"
HUMANS = ("immediate", "2min")
LARGE = 100_000


def world(contacts: int, human: str = "immediate") -> dict[str, Any]:
    """The benchmark's world: ``contacts`` people on a three-message sequence."""
    minutes_per_item = 0 if human == "immediate" else 2
    if minutes_per_item:
        # Items the human must decide (3 per contact) at <= 75% of the day's minutes.
        over = max(2, math.ceil(contacts * 3 * minutes_per_item / (1440 * 0.75)))
        days = over + 7
    else:
        over, days = 2, 12
    return {
        "name": f"per-step-{contacts}-{human}",
        "days": days,
        "seed": 7,
        "teammates": [{"name": name, "capacity": 200} for name in ("Riley", "Sam", "Alex")],
        "sequences": [{
            "name": SEQUENCE, "status": "active",
            "steps": [
                {"kind": "message", "id": "s1", "label": "Say hello", "channel": "email",
                 "brief": "Introduce the renovation guide."},
                {"kind": "wait", "id": "s2", "days": 2},
                {"kind": "message", "id": "s3", "label": "Follow up", "channel": "email",
                 "brief": "Follow up on the guide."},
                {"kind": "wait", "id": "s4", "days": 2},
                {"kind": "message", "id": "s5", "label": "Last note", "channel": "email",
                 "brief": "A last friendly note."},
            ],
        }],
        "personas": [{"name": "default", "open": 0.5, "click": 0.1, "reply": 0.03}],
        "populations": [{"count": contacts, "enroll_in": [SEQUENCE], "enroll_over_days": over}],
        "approver": {"workdays": [0, 1, 2, 3, 4, 5, 6],
                     "sessions": [f"{h:02d}:00" for h in range(0, 24, 3)],
                     "minutes_per_item": minutes_per_item, "minutes_per_reply": 0,
                     "max_items_per_session": 1_000_000,
                     "approve": 1.0, "edit": 0.0, "reject": 0.0},
    }


# -- the baseline ------------------------------------------------------------------------


def _gc_tunings() -> dict[str, Callable[[], contextlib.AbstractContextManager[Any]]]:
    """The GC settings to time the baseline under: the process's, and the run's if it tunes."""
    tunings: dict[str, Callable[[], contextlib.AbstractContextManager[Any]]] = {
        "default": contextlib.nullcontext}
    with contextlib.suppress(ImportError):
        from teamsim.sim._gc import gc_tuned  # a checkout from before the tuning has none
        tunings["run"] = gc_tuned
    return tunings


def _saver_class() -> type:
    """The checkpointer class the pipeline uses by default."""
    from teamsim.graph import Pipeline

    return type(Pipeline().checkpointer)


def bare_per_cycle(cycles: int, start: int, tuning: Callable[[], Any]) -> tuple[float, float]:
    """CPU and wall seconds per bare cycle: the best of 3 blocks of ``cycles`` each (by CPU)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from pipeline import bare_graph, time_bare_on  # the bare graph of the pipeline benchmark

    graph = bare_graph(_saver_class()())
    best = (math.inf, math.inf)
    with tuning():
        for block in range(3):
            began = time.perf_counter()
            cpu = time_bare_on(graph, cycles, "exit", start + block * cycles, time.process_time)
            best = min(best, (cpu, time.perf_counter() - began))
    return best[0] / cycles, best[1] / cycles


# -- one child ----------------------------------------------------------------------------


@contextlib.contextmanager
def _counting_invokes() -> Iterator[tuple[list[int], list[int]]]:
    """Count every ``invoke`` of a compiled LangGraph graph while inside, and the size of
    each batch: the tasks of the state a thread's first invoke starts with (a resume is a
    ``Command``, not a state)."""
    from langgraph.pregel import Pregel

    count = [0]
    sizes: list[int] = []
    original = Pregel.invoke

    def invoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        state = args[0] if args else kwargs.get("input")
        if isinstance(state, dict) and isinstance(state.get("tasks"), list):
            sizes.append(len(state["tasks"]))
        return original(self, *args, **kwargs)

    Pregel.invoke = invoke  # type: ignore[method-assign]
    try:
        yield count, sizes
    finally:
        Pregel.invoke = original  # type: ignore[method-assign]


def _simulate(data: dict[str, Any], store: Any = None) -> Any:
    """Run the world through whatever public entry point this checkout has."""
    from teamsim.sim import World

    try:
        from teamsim.assembly import simulation
    except ImportError:  # a checkout from before team assembly left the simulator
        from teamsim.sim import Simulation as simulation  # type: ignore[assignment]

    return simulation(World.model_validate(data), store=store).run()


BUCKETS = ((1, 1), (2, 16), (17, 64), (65, 255), (256, 256))
"""Batch sizes shown together (the pipeline caps a batch at 256 due steps)."""


def _buckets(sizes: list[int]) -> dict[str, float]:
    """The share of due steps started in batches of each bucket's sizes."""
    total = sum(sizes) or 1
    return {(f"{low}" if low == high else f"{low}-{high}"):
            round(sum(s for s in sizes if low <= s <= high) / total, 3)
            for low, high in BUCKETS}


def child(contacts: int, human: str, cycles: int, store_kind: str = "memory"
          ) -> dict[str, Any]:
    """Run one campaign in this process and return its figures."""
    tunings = _gc_tunings()
    before = {name: bare_per_cycle(cycles, 1_000_000, t) for name, t in tunings.items()}
    data = world(contacts, human)
    with contextlib.ExitStack() as stack:
        store = None
        if store_kind == "file":
            from teamsim.store import Store

            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="teamsim-bench-"))
            store = Store.open(Path(folder) / "store.db")
            stack.callback(store.close)
        figures = _timed_child(contacts, human, cycles, data, store, tunings, before)
        figures["store"] = store_kind
        return figures


def _timed_child(contacts: int, human: str, cycles: int, data: dict[str, Any], store: Any,
                 tunings: dict[str, Callable[[], contextlib.AbstractContextManager[Any]]],
                 before: dict[str, tuple[float, float]]) -> dict[str, Any]:
    with _counting_invokes() as (invokes, sizes):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = _simulate(data, store)
        wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    after = {name: bare_per_cycle(cycles, 2_000_000, t) for name, t in tunings.items()}
    bare_before = {name: cpu_wall[0] for name, cpu_wall in before.items()}
    bare_after = {name: cpu_wall[0] for name, cpu_wall in after.items()}
    bare_wall = min(cpu_wall[1] for cpu_wall in (*before.values(), *after.values()))
    steps = int(result.metrics["steps_due"])
    per_step = cpu / steps
    ratios = {f"{name}/{when}": per_step / bare[name]
              for when, bare in (("before", bare_before), ("after", bare_after))
              for name in bare}
    worst = max(ratios, key=ratios.__getitem__)
    return {
        "contacts": contacts, "human": human, "days": data["days"], "due_steps": steps,
        # Every decision is a human's (no rules): approvals (edits among them) and rejections.
        "decisions": result.metrics["approvals_human"] + result.metrics["rejections"],
        "sent": result.metrics["sent"], "events": len(result.events),
        "violations": len(result.violations), "digest": result.digest,
        "cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 3),
        "cpu_us_per_step": round(per_step * 1e6, 1),
        "wall_us_per_step": round(wall / steps * 1e6, 1),
        "bare_cpu_us": {k: round(v * 1e6, 1) for k, v in (
            *((f"{n}/before", b) for n, b in bare_before.items()),
            *((f"{n}/after", b) for n, b in bare_after.items()))},
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "ratio": round(ratios[worst], 3), "ratio_from": worst,
        "bare_wall_us": round(bare_wall * 1e6, 1),
        "wall_ratio": round(wall / steps / bare_wall, 3),
        "invokes_per_step": round(invokes[0] / steps, 3),
        "batches": len(sizes), "batch_sizes": _buckets(sizes),
        "batch_median": statistics.median(sizes) if sizes else 0,
        "batch_max": max(sizes, default=0),
        "peak_mib": round(peak_kib / 1024, 1),
        "load": round(os.getloadavg()[0], 2),  # the machine's, when the run ended
    }


# -- the parent ---------------------------------------------------------------------------


def _spread(values: list[float], digits: int = 2) -> str:
    return (f"{round(statistics.median(values), digits)} "
            f"({round(min(values), digits)}-{round(max(values), digits)})")


HEADER = ("contacts", "human", "store", "runs", "due steps", "decided", "CPU us/step",
          "wall us/step", "bare CPU us", "ratio CPU (worst)", "ratio wall", "invokes/step",
          "batch sizes", "run s (CPU)", "peak MiB", "load (1 min)")


def row(rows: list[dict[str, Any]]) -> tuple[str, ...]:
    """One table row from the children of one size and human."""
    first = rows[0]
    bare = [min(r["bare_cpu_us"].values()) for r in rows]
    wall_ratio = [r["wall_ratio"] for r in rows]
    # Deterministic runs: every child of a size and human has the same batches.
    shown = (f"{first['batches']:,} threads, median {first['batch_median']}, max "
             f"{first['batch_max']}; steps in " + ", ".join(
                 f"{size}: {share:.0%}" for size, share in first["batch_sizes"].items()
                 if share))
    return (
        f"{first['contacts']:,}", first["human"], first["store"], str(len(rows)),
        f"{first['due_steps']:,}",
        f"{first['decisions'] / first['due_steps']:.0%}",
        _spread([r["cpu_us_per_step"] for r in rows], 0),
        _spread([r["wall_us_per_step"] for r in rows], 0),
        _spread(bare, 0), _spread([r["ratio"] for r in rows]), _spread(wall_ratio),
        str(statistics.median(r["invokes_per_step"] for r in rows)), shown,
        _spread([r["cpu_seconds"] for r in rows], 1), str(max(r["peak_mib"] for r in rows)),
        _spread([r["load"] for r in rows], 1),
    )


def main() -> None:
    """Run every size x human ``--repeat`` times, each in a fresh child; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated contacts")
    parser.add_argument("--humans", default=",".join(HUMANS),
                        help=f"comma-separated, of {', '.join(HUMANS)}")
    parser.add_argument("--repeat", type=int, default=3, help="child runs per size and human")
    parser.add_argument("--bare-runs", type=int, default=500,
                        help="bare cycles per block (3 blocks before and after)")
    parser.add_argument("--allow-large", action="store_true",
                        help=f"allow {LARGE:,} contacts or more (about 10 min of CPU a run on "
                        "an idle machine; use --store file to stay under 1.5 GiB)")
    parser.add_argument("--store", choices=("memory", "file"), default="memory",
                        help="the run's store: in-memory SQLite (default) or a SQLite file "
                        "in a temporary folder")
    parser.add_argument("--jsonl", type=Path, help="also append every child's figures here")
    parser.add_argument("--child", nargs=2, metavar=("CONTACTS", "HUMAN"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(int(args.child[0]), args.child[1], args.bare_runs,
                               args.store)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    humans = args.humans.split(",")
    if bad := [h for h in humans if h not in HUMANS]:
        parser.error(f"--humans: no human {bad[0]!r}; use {', '.join(HUMANS)}")
    if any(s >= LARGE for s in sizes) and not args.allow_large:
        parser.error(f"--sizes: {LARGE:,} contacts or more needs --allow-large")
    print(" | ".join(HEADER), flush=True)
    for size in sizes:
        for human in humans:
            rows = []
            for _ in range(args.repeat):
                done = subprocess.run(
                    [sys.executable, __file__, "--child", str(size), human,
                     "--bare-runs", str(args.bare_runs), "--store", args.store],
                    check=True, capture_output=True, text=True)
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                if args.jsonl is not None:
                    with args.jsonl.open("a", encoding="utf-8") as out:
                        out.write(json.dumps(rows[-1]) + "\n")
            print(" | ".join(row(rows)), flush=True)


if __name__ == "__main__":
    main()
