"""Determinism: same world and seed, same event log, in this process and in fresh ones; every
random draw keyed by identity, so unrelated changes leave a contact's draws alone."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from teamsim.assembly import simulation
from teamsim.sim import KeyedRandom, SimulationResult, World

from ..strategies import world

_MIXED = {"name": "mixed", "open": 0.6, "click": 0.3, "reply": 0.3,
          "open_delay": {"dist": "lognormal", "median_hours": 3},
          "reply_delay": {"dist": "exponential", "mean_hours": 8}, "out_of_office": 0.1}


def campaign(extra_contacts: int = 0, approve: float = 0.8) -> World:
    """Twelve contacts of a random persona, plus ``extra_contacts`` more, over ten days."""
    contacts = [{"name": f"Lead{i} Test", "email": f"lead{i}@example.com", "persona": "mixed",
                 "timezone": ["UTC", "Europe/Paris", "America/New_York"][i % 3],
                 "enroll_in": ["Welcome"], "enroll_at": (i % 4) * 0.5}
                for i in range(12 + extra_contacts)]
    return world(personas=[_MIXED], contacts=contacts, days=10,
                 approver={"approve": approve, "edit": round(1 - approve, 10) / 2,
                           "reject": round(1 - approve, 10) / 2})


def run(w: World, seed: int) -> SimulationResult:
    result = simulation(w, seed=seed).run(check=False)
    # The log is read from the store: hold it before the store (in memory) goes.
    held = dataclasses.replace(result, events=tuple(result.events))
    result.store.close()
    return held


def reactions(result: SimulationResult, email: str) -> list[tuple[str, str, Any]]:
    """The contact's reactions: (kind, time, step) of opens, clicks and replies."""
    kinds = ("message.opened", "message.clicked", "reply.received")
    steps = {e.payload["message_id"]: e.payload["step_id"] for e in result.events
             if e.type == "message.sent"}
    return [(e.type, e.at.isoformat(), steps.get(e.payload["message_id"]))
            for e in result.events if e.type in kinds and _email(result, e.contact_id) == email]


def _email(result: SimulationResult, contact_id: int | None) -> str:
    """The email of a campaign contact (stored in order: lead0 has id 1)."""
    return f"lead{(contact_id or 0) - 1}@example.com"


def test_same_seed_same_digest() -> None:
    first, second = run(campaign(), 7), run(campaign(), 7)
    assert first.digest == second.digest
    assert list(first.event_lines()) == list(second.event_lines())
    assert first.metrics == second.metrics


def test_different_seeds_different_digests() -> None:
    digests = {run(campaign(), seed).digest for seed in (1, 2, 3)}
    assert len(digests) == 3


def test_world_seed_is_the_default() -> None:
    w = campaign().model_copy(update={"seed": 5})
    assert simulation(w).seed == 5
    assert run(w, 5).digest == simulation(w).run(check=False).digest


_CHILD = """
import sys
from teamsim.assembly import simulation
from teamsim.sim import World
world = World.model_validate_json(sys.stdin.read())
result = simulation(world, seed=7).run(check=False)
print(result.digest)
"""


@pytest.mark.parametrize("hashseed", ["123", "456"])
def test_digest_is_the_same_in_a_new_process(hashseed: str, tmp_path: Path) -> None:
    w = campaign()
    expected = run(w, 7).digest
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    child = subprocess.run([sys.executable, "-c", _CHILD], input=w.model_dump_json(),
                           capture_output=True, text=True, env=env, cwd=tmp_path,
                           check=True, timeout=120)
    assert child.stdout.strip() == expected


def test_adding_an_unrelated_contact_leaves_other_reactions_unchanged() -> None:
    base, bigger = run(campaign(), 11), run(campaign(extra_contacts=1), 11)
    assert base.digest != bigger.digest
    compared = 0
    for i in range(12):
        email = f"lead{i}@example.com"
        before = reactions(base, email)
        after = reactions(bigger, email)
        assert before == after, email
        compared += len(before)
    assert compared > 5


def test_changing_the_approve_probability_leaves_reaction_draws_unchanged() -> None:
    # The human's decisions change which messages go out, so compare the reactions to the
    # messages that went out at the same moment in both runs.
    base, other = run(campaign(approve=0.8), 11), run(campaign(approve=0.6), 11)
    assert base.digest != other.digest
    compared = 0
    for i in range(12):
        email = f"lead{i}@example.com"
        sent_base = _sends(base, email)
        sent_other = _sends(other, email)
        common = sent_base & sent_other
        for kind, at, step in reactions(base, email):
            if step is not None and any(s == step for s, _ in common):
                assert (kind, at, step) in reactions(other, email)
                compared += 1
    assert compared > 5


def _sends(result: SimulationResult, email: str) -> set[tuple[str, str]]:
    return {(e.payload["step_id"], e.at.isoformat()) for e in result.events
            if e.type == "message.sent" and _email(result, e.contact_id) == email}


# ---------------------------------------------------------------------------------------------
# keyed random numbers


def test_keyed_random_is_a_pure_function_of_seed_and_key() -> None:
    a, b = KeyedRandom(3), KeyedRandom(3)
    assert a.uniform("open", "ann@example.com", "Welcome", "s1") == b.uniform(
        "open", "ann@example.com", "Welcome", "s1")
    b.uniform("something", "else")  # drawing other keys changes nothing
    assert a.uniform("reply", 1) == b.uniform("reply", 1)


def test_keyed_random_differs_by_seed_key_and_index() -> None:
    r = KeyedRandom(3)
    values = {r.uniform("open", "ann"), r.uniform("open", "bob"), r.uniform("reply", "ann"),
              r.uniform("open", "ann", 1), KeyedRandom(4).uniform("open", "ann")}
    assert len(values) == 5


def test_keyed_random_joins_parts_unambiguously() -> None:
    r = KeyedRandom(0)
    assert r.uniform("ab", "c") != r.uniform("a", "bc")


def test_keyed_random_is_uniform_in_the_unit_interval() -> None:
    r = KeyedRandom(1)
    draws = [r.uniform("u", i) for i in range(4000)]
    assert all(0 <= u < 1 for u in draws)
    assert abs(sum(draws) / len(draws) - 0.5) < 0.02
    assert sum(r.chance(0.25, "c", i) for i in range(4000)) == pytest.approx(1000, rel=0.1)
    assert not any(r.chance(0.0, "c", i) for i in range(100))


def test_keyed_random_weighted_follows_the_weights_in_stable_order() -> None:
    r = KeyedRandom(2)
    picks = [r.weighted({"a": 3.0, "b": 1.0, "c": 0.0}, "w", i) for i in range(2000)]
    assert picks.count("c") == 0
    assert picks.count("a") == pytest.approx(1500, rel=0.08)
    assert picks == [KeyedRandom(2).weighted({"a": 3.0, "b": 1.0, "c": 0.0}, "w", i)
                     for i in range(2000)]



def test_the_backend_does_not_change_the_run(store_url: str) -> None:
    """The same world and seed give the same digest recorded in a SQLite file or in
    PostgreSQL as in the default in-memory store."""
    from teamsim.store import Store

    with Store.open(store_url) as store:
        on_backend = simulation(campaign(), seed=5, store=store).run(check=False)
    assert on_backend.digest == run(campaign(), 5).digest
    assert on_backend.violations == ()


def test_the_digest_is_the_sha256_of_events_jsonl(tmp_path: Path) -> None:
    """``sha256sum events.jsonl`` prints the run's digest: it hashes exactly the bytes written,
    final newline included, and digest.txt and the result agree."""
    import hashlib

    from teamsim import runner

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "run"
    result = runner.run(root / "data" / "run_small.yaml", out=out, until_days=1)
    result.close()
    data = (out / "events.jsonl").read_bytes()
    assert data.endswith(b"\n")
    assert hashlib.sha256(data).hexdigest() == result.digest
    assert (out / "digest.txt").read_text(encoding="utf-8") == result.digest + "\n"
