"""Whole campaigns on the simulator: due steps per second, peak memory, and the cost per due
step against a bare LangGraph interrupt-and-resume cycle measured in the same run.

Each campaign size runs in a fresh child process (so its peak resident memory is its own):
the child first times the bare cycle (``benchmarks/pipeline.py``'s no-op graph of the
pipeline's shape, invoked, interrupted, resumed and deleted), then simulates a campaign of N
contacts on a three-message sequence (email, wait 2 days, email, wait 2 days, email) with
the template drafter, the rule reviewer, an in-memory SQLite store, and a human who approves
every draft in the next check-in (so every due step goes through one interrupt and one
resume). It prints one JSON line; the parent prints a table.

The ratio is CPU time per due step over CPU time per bare cycle, median and range over
``--repeat`` children. Run: ``python benchmarks/campaign.py [--sizes 1000,10000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SEQUENCE = "Three touches"


def world(contacts: int) -> dict[str, Any]:
    """The benchmark's world: ``contacts`` people on a three-message sequence."""
    return {
        "name": f"campaign-{contacts}",
        "days": 12,
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
        "populations": [{"count": contacts, "enroll_in": [SEQUENCE], "enroll_over_days": 2}],
        "approver": {"workdays": [0, 1, 2, 3, 4, 5, 6],
                     "sessions": [f"{h:02d}:00" for h in range(0, 24, 3)],
                     "minutes_per_item": 0, "minutes_per_reply": 0,
                     "max_items_per_session": 1_000_000,
                     "approve": 1.0, "edit": 0.0, "reject": 0.0},
    }


def _simulate(contacts: int) -> Any:
    """Run the campaign through whatever public entry point this checkout has."""
    from teamsim.sim import World

    try:
        from teamsim.assembly import simulation
    except ImportError:  # a checkout from before team assembly left the simulator
        from teamsim.sim import Simulation as simulation  # type: ignore[assignment]

    return simulation(World.model_validate(world(contacts))).run()


def child(contacts: int, bare_runs: int) -> dict[str, Any]:
    """Run one campaign size in this process and return its figures.

    CPU time (``time.process_time``: every thread of this process, LangGraph's background
    savers included) is the headline; wall time is printed beside it for reference.
    """
    sys.path.insert(0, str(Path(__file__).parent))
    from pipeline import time_bare  # the same bare graph as the pipeline benchmark

    cpu = time.process_time
    time_bare(200, "exit", 0)  # warm up
    bare = min(time_bare(bare_runs, "exit", 10_000 * (i + 1), cpu) for i in range(3)) / bare_runs
    began, began_cpu = time.perf_counter(), cpu()
    result = _simulate(contacts)
    elapsed, elapsed_cpu = time.perf_counter() - began, cpu() - began_cpu
    steps = int(result.metrics["steps_due"])
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "contacts": contacts, "due_steps": steps, "sent": result.metrics["sent"],
        "seconds": round(elapsed, 2), "cpu_seconds": round(elapsed_cpu, 2),
        "cpu_us_per_due_step": round(elapsed_cpu / steps * 1e6, 1),
        "bare_cycle_cpu_us": round(bare * 1e6, 1),
        "ratio": round(elapsed_cpu / steps / bare, 3), "peak_mib": round(peak_kib / 1024, 1),
        "events": len(result.events), "violations": len(result.violations),
    }


def main() -> None:
    """Run each size ``--repeat`` times, each in a fresh child process; print median and range."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated contact counts")
    parser.add_argument("--bare-runs", type=int, default=2000, help="bare cycles per block")
    parser.add_argument("--repeat", type=int, default=5, help="child runs per size")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.bare_runs)))
        return
    header = ("contacts", "runs", "due_steps", "cpu_us_per_due_step", "bare_cycle_cpu_us",
              "ratio (median)", "ratio (range)", "seconds (median)", "peak_mib", "violations")
    print(" | ".join(header))
    for size in (int(s) for s in args.sizes.split(",")):
        rows = []
        for _ in range(args.repeat):
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(size),
                 "--bare-runs", str(args.bare_runs)],
                check=True, capture_output=True, text=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        ratios = [r["ratio"] for r in rows]
        print(" | ".join(str(v) for v in (
            size, len(rows), rows[0]["due_steps"],
            statistics.median(r["cpu_us_per_due_step"] for r in rows),
            statistics.median(r["bare_cycle_cpu_us"] for r in rows),
            round(statistics.median(ratios), 2), f"{min(ratios):.2f}-{max(ratios):.2f}",
            statistics.median(r["seconds"] for r in rows),
            max(r["peak_mib"] for r in rows), sum(r["violations"] for r in rows))))


if __name__ == "__main__":
    main()
