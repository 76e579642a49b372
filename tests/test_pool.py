"""Sweep workers start from a fork server that has imported teamsim once (where there is one)."""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing import forkserver

import pytest

from teamsim.runner import _pool

FORKSERVER = "forkserver" in multiprocessing.get_all_start_methods()


@pytest.mark.skipif(not FORKSERVER, reason="no fork server on this platform")
def test_workers_are_forked_from_a_server_that_preloads_the_simulation_stack() -> None:
    context = _pool._context()
    assert context.get_start_method() == "forkserver"
    assert "teamsim.runner._forkserver" in \
        forkserver._forkserver._preload_modules  # type: ignore[attr-defined]


@pytest.mark.skipif(FORKSERVER, reason="this platform has a fork server")
def test_without_a_fork_server_workers_are_spawned() -> None:
    assert _pool._context().get_start_method() == "spawn"


def test_a_worker_notices_that_the_sweep_is_gone() -> None:
    assert _pool._alive(os.getpid())
    child = multiprocessing.get_context("spawn").Process(target=int)
    child.start()
    child.join()
    assert not _pool._alive(child.pid or 0)


def test_the_command_line_starts_the_fork_server_with_the_pools_preload() -> None:
    from teamsim.cli import _sweep

    assert list(_sweep.FORK_SERVER_PRELOAD) == _pool._PRELOAD


PINNABLE = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


@pytest.mark.skipif(not PINNABLE, reason="pinning needs Linux's sched_setaffinity and 2 CPUs")
def test_two_workers_get_one_cpu_each() -> None:
    pool = _pool._new_pool(2)
    try:
        for future in [pool.submit(int) for _ in range(4)]:
            future.result(timeout=60)
        pids = list(pool._processes)  # type: ignore[attr-defined]
        assert len(pids) == 2
        deadline = time.monotonic() + 30  # each pins itself as it starts
        while True:
            cpus = [frozenset(os.sched_getaffinity(pid)) for pid in pids]
            if all(len(mine) == 1 for mine in cpus) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        pool.shutdown()
    assert all(len(mine) == 1 for mine in cpus), cpus
    assert cpus[0] != cpus[1]
    assert cpus[0] | cpus[1] <= os.sched_getaffinity(0)


def test_workers_are_left_to_the_scheduler_when_pinning_cannot_help() -> None:
    assert _pool.cpus_to_pin(1) == ()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    assert _pool.cpus_to_pin(cpus + 1) == ()
    if cpus > 2:  # CPUs to spare: the scheduler finds idle ones
        assert _pool.cpus_to_pin(cpus - 1) == ()
