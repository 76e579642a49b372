"""What step mode costs: a run stopped at every check-in session against the same run whole.

``teamsim serve`` runs a simulation in steps: it stops at each of the human's check-in
sessions, reads Needs attention, and goes on. This runs the shipped welcome scenario with a
person playing the human (who decides nothing) both ways, checks the digests are equal, and
prints the CPU time of each (median and range of ``--repeat`` runs) and the ratio.
Run: ``python benchmarks/stepping.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta
from pathlib import Path

from teamsim.assembly import simulation
from teamsim.scenario import load_scenario
from teamsim.sim import ListDecisions

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "welcome-renovation-leads.yaml"


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    world = load_scenario(SCENARIO)
    whole: list[float] = []
    stepped: list[float] = []
    stops = 0
    for _ in range(repeat):
        started = time.process_time()
        digest = simulation(world, decisions=ListDecisions()).run().digest
        whole.append(time.process_time() - started)
        started = time.process_time()
        sim = simulation(world, decisions=ListDecisions())
        stops = 0
        while (session := sim.next_check_in()) is not None:
            sim.advance(world.start_utc + timedelta(minutes=session))
            sim.uow.attention.list("open")
            stops += 1
        same = sim.finish().digest == digest
        stepped.append(time.process_time() - started)
        if not same:
            raise SystemExit("the stepped run gave another digest: a bug")
    w, s = statistics.median(whole), statistics.median(stepped)
    print(f"{world.name}, {repeat} runs each, CPU seconds")
    print(f"whole run            median {w:.3f}  range {min(whole):.3f}-{max(whole):.3f}")
    print(f"stopped {stops:3d} times   median {s:.3f}  range {min(stepped):.3f}-{max(stepped):.3f}"
          f"  ratio {s / w:.2f}x")
    print("same digest: yes")


if __name__ == "__main__":
    main()
