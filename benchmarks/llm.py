"""Model calls made concurrently: wall time of a campaign whose chat model sleeps per call.

The campaign: ``--contacts`` people (200) enrolled at the same minute in a one-email sequence,
so every first draft falls due at once; both teammates (capacity 1,000) are backed by
``teamsim.agents.demo:demo_model`` with ``latency_seconds`` (0.1 s a call): each drafts with
its model and reviews the other's drafts with it. The run goes through ``teamsim.run`` as a
user's would (spec, in-memory cassette in auto mode, run metrics), one simulated day.

Reported:

- the wall time with ``max_concurrency`` 1, 4 and 16 (``--limits``), the model calls made,
  the speedup over 1, and the speedup as a fraction of the limit (issue 11's target: at least
  0.7 x 16, i.e. 11x, at 16); the digest of every run must be the same, whatever the limit;
- the framework overhead per model call: the same campaign with a latency of 0, minus the run
  with the template drafter and rule reviewer (no model), divided by the calls (best of
  ``--repeats``): what a model call costs on top of the model itself (prompt rendering, reply
  parsing, the cassette, the prefetch threads).

Run: ``python benchmarks/llm.py [--contacts 200] [--latency 0.1] [--limits 1,4,16]``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import teamsim
from teamsim.scenario import Scenario

DEMO = "teamsim.agents.demo:demo_model"


def campaign(contacts: int) -> Scenario:
    """Everyone due at the same minute: one email step, two teammates of large capacity."""
    return Scenario.model_validate({
        "name": "LLM benchmark", "start": "2026-03-02T08:00:00", "days": 1, "seed": 3,
        "teammates": [{"name": "Riley", "capacity": 1000}, {"name": "Sam", "capacity": 1000}],
        "sequences": [{"name": "Intro", "status": "active", "steps": [
            {"id": "s1", "kind": "message", "label": "Say hello",
             "brief": "Introduce the team and offer a short call."}]}],
        "populations": [{"count": contacts, "enroll_in": ["Intro"]}],
        "approver": {"sessions": ["17:00"]},
    })


def timed(world: Scenario, latency: float | None, limit: int) -> tuple[float, dict[str, Any],
                                                                       str]:
    """One run: wall seconds, metrics, digest (``latency`` None: the template team)."""
    models = None if latency is None else {
        name: f"{DEMO},latency_seconds={latency}" for name in ("Riley", "Sam")}
    started = time.perf_counter()
    result = teamsim.run(world, models=models, max_concurrency=limit)
    elapsed = time.perf_counter() - started
    result.close()
    return elapsed, result.metrics, result.digest


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--limits", default="1,4,16")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    world = campaign(args.contacts)
    limits = [int(part) for part in args.limits.split(",")]
    timed(campaign(4), 0.0, 1)  # warm up: imports, template compiles

    print(f"{args.contacts} contacts due at once, {args.latency * 1000:g} ms per model call")
    print(f"{'max_concurrency':>15} {'wall s':>8} {'calls':>6} {'speedup':>8} "
          f"{'of limit':>8}  digest")
    base: float | None = None
    digests = set()
    for limit in limits:
        wall, metrics, digest = timed(world, args.latency, limit)
        digests.add(digest)
        base = wall if base is None else base
        speedup = base / wall
        print(f"{limit:>15} {wall:>8.2f} {metrics['model_calls']:>6} {speedup:>7.1f}x "
              f"{speedup / limit:>8.2f}  {digest[:12]}")
    print("same digest at every limit:", "yes" if len(digests) == 1 else "NO")

    bare = min(timed(world, None, 1)[0] for _ in range(args.repeats))
    runs = [timed(world, 0.0, max(limits)) for _ in range(args.repeats)]
    fast = min(wall for wall, _, _ in runs)
    calls = runs[0][1]["model_calls"]
    serial = min(timed(world, 0.0, 1)[0] for _ in range(args.repeats))
    print(f"template team: {bare:.2f} s; model team at 0 ms: {fast:.2f} s at "
          f"max_concurrency {max(limits)}, {serial:.2f} s at 1; {calls} calls")
    print(f"framework overhead per model call: {(fast - bare) / calls * 1000:.2f} ms at "
          f"max_concurrency {max(limits)}, {(serial - bare) / calls * 1000:.2f} ms at 1")


if __name__ == "__main__":
    main()
