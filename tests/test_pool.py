"""Sweep workers start from a fork server that has imported teamsim once (where there is one)."""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing import forkserver

import pytest

from teamsim.runner import _pool

FORKSERVER = "forkserver" in multiprocessing.get_all_start_methods()


@pytest.mark.skipif(not FORKSERVER, reason="no fork server on this platform")
def test_workers_are_forked_from_a_server_that_preloads_the_simulation_stack() -> None:
    context = _pool._context()
    assert context.get_start_method() == "forkserver"
    assert _pool.__name__ in forkserver._forkserver._preload_modules  # type: ignore[attr-defined]


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
