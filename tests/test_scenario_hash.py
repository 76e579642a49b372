"""The one scenario hash (teamsim.scenario.scenario_hash), used by resume, sweep rows, the
decisions journal and the runs table: the same in every process, and it changes with the
scenario."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from teamsim.scenario import load_scenario, scenario_hash, with_values

SHIPPED = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))

_PRINT = """
import sys
from teamsim.scenario import load_scenario, scenario_hash
for path in sys.argv[1:]:
    print(scenario_hash(load_scenario(path)))
"""


def _hashes(seed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-c", _PRINT, *map(str, SHIPPED)], env=env,
                          capture_output=True, text=True, check=True, timeout=300)
    return done.stdout.split()


def test_every_shipped_scenario_hashes_the_same_under_any_string_hash_seed() -> None:
    here = [scenario_hash(load_scenario(path)) for path in SHIPPED]
    assert len(set(here)) == len(SHIPPED)  # and no two scenarios share one
    assert _hashes("1") == here
    assert _hashes("2") == here


def test_a_changed_value_changes_the_hash() -> None:
    world = load_scenario(SHIPPED[0])
    changed = with_values(world, {"days": world.days + 1})
    assert scenario_hash(changed) != scenario_hash(world)
