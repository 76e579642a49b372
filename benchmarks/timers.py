"""What a simulator timer costs: a timeout with a callback against a process per timer.

The simulator starts a timer for every wait step, open, click, reply and branch window
(:meth:`teamsim.sim._context.RunContext.later`). This measures both ways of doing it in the
same process, N timers over a spread of minutes, and prints microseconds per timer (best of
``--repeat``). Run: ``python benchmarks/timers.py [--timers 100000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Generator
from typing import Any

import simpy


def _callbacks(n: int) -> None:
    env = simpy.Environment()
    fired = [0]

    def action() -> None:
        fired[0] += 1

    for i in range(n):
        env.timeout(i % 1440).callbacks.append(lambda _: action())
    env.run()


def _processes(n: int) -> None:
    env = simpy.Environment()
    fired = [0]

    def timer(minutes: int) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(minutes)
        fired[0] += 1

    for i in range(n):
        env.process(timer(i % 1440))
    env.run()


def _best(run: Callable[[int], None], n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.process_time()
        run(n)
        best = min(best, time.process_time() - began)
    return best / n * 1e6


def main() -> None:
    """Print microseconds per timer for both mechanisms."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    callback = _best(_callbacks, args.timers, args.repeat)
    process = _best(_processes, args.timers, args.repeat)
    print(f"timeout + callback: {callback:.2f} us/timer")
    print(f"process per timer:  {process:.2f} us/timer (+{process - callback:.2f} us)")


if __name__ == "__main__":
    main()
