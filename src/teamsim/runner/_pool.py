"""A sweep's runs in worker processes: start-up, Ctrl-C and a parent that dies.

Workers start clean (no inherited threads, open database connections or Rich consoles), ignore
Ctrl-C (the parent handles it and ends them), and exit by themselves when their parent is
gone. Where the platform has it (Linux, macOS), they are forked from multiprocessing's fork
server, which imports teamsim's simulation stack once (``set_forkserver_preload``) and exits
with the sweep: a spawned worker would spend about three runs' time importing it again. One
job is one variant x seed; :func:`execute` yields each job's CSV row as it finishes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from multiprocessing import forkserver, resource_tracker
from multiprocessing.context import BaseContext
from typing import Any

from teamsim.runner._models import simulate_job
from teamsim.scenario import Scenario
from teamsim.store import Store

__all__ = ["execute"]


def _run_one(
    world_data: dict[str, Any], variant: str, seed: int, metrics: tuple[str, ...],
    trust: tuple[bool, tuple[str, ...]] = (False, ()),
) -> dict[str, Any]:
    """Run one variant x seed (in a worker process) and return its CSV row; ``trust`` is the
    parent's consent to imports: (allow_imports, the user's own specs)."""
    world = Scenario.model_validate(world_data)
    with Store.open("sqlite://") as store:
        result, measured = simulate_job(world, seed, store, allow_imports=trust[0],
                                        consented=trust[1])
    return {"variant": variant, "seed": seed, "digest": result.digest,
            **{m: measured[m] for m in metrics}}



_WATCH_SECONDS = 0.25
"""How often a sweep worker checks that its parent is still alive."""


_PRELOAD = [__name__]
"""What the fork server imports before forking workers: this module, and with it the whole
simulation stack a run needs (assembly, sim, graph, store, LangGraph, SQLAlchemy, SciPy)."""


def _context() -> BaseContext:
    """The fork server where the platform has one, with teamsim preloaded; else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Takes effect when the server starts (once per process); a server some other code
    # started without it still works, its workers just import teamsim themselves.
    context.set_forkserver_preload(_PRELOAD)
    return context


def _worker_start(parent: int) -> None:
    """Set up a sweep worker: Ctrl-C is the parent's to handle, and the worker exits by
    itself as soon as the sweep (``parent``) is gone (killed with SIGKILL, say), instead of
    waiting forever on a queue no one writes to."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    # The direct parent is the sweep (spawn) or the fork server, which exits when the sweep
    # does: either way the worker is re-parented then.
    threading.Thread(target=_watch_parent, args=(parent, os.getppid()),
                     name="teamsim-parent-watch", daemon=True).start()


def _watch_parent(parent: int, direct: int) -> None:
    # Polling os.getppid() works on every platform (PR_SET_PDEATHSIG is Linux-only and fires
    # when the *thread* that started the worker ends). The sleep is a poll interval, not
    # part of any run.
    while True:
        time.sleep(_WATCH_SECONDS)
        if os.getppid() != direct or not _alive(parent):
            os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there, but someone else's (the pid was reused)
        return False
    return True


@contextlib.contextmanager
def _sigint_held(*, start_server: bool = False) -> Iterator[None]:
    """Block SIGINT in this thread while workers start: a worker inherits the blocked-signal
    mask, so a Ctrl-C during its (second-long) start-up stays pending there instead of
    killing it with a traceback, until :func:`_worker_start` ignores it (which discards it)
    and unblocks it. Here a Ctrl-C meanwhile is handled by another thread's delivery or
    once the block ends. (Ignoring SIGINT here instead would lose a Ctrl-C delivered to
    another thread, like Rich's progress refresher.)
    """
    if not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    # Starting multiprocessing's resource tracker unblocks SIGINT in this thread: start it
    # (it would start with the first worker anyway) before blocking.
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        if start_server:
            forkserver.ensure_running()
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def execute(
    worlds: Mapping[str, dict[str, Any]], jobs: list[tuple[str, int]],
    metrics: tuple[str, ...], workers: int,
    trust: tuple[bool, tuple[str, ...]] = (False, ()),
) -> Iterator[dict[str, Any]]:
    """Each job's row, as the jobs finish.

    Args:
        worlds: each variant's scenario, as JSON data (what a worker process is sent).
        jobs: (variant, seed) pairs.
        metrics: the metrics each row holds.
        workers: worker processes; 1 runs every job in this process.
        trust: the parent's consent to imports: (allow_imports, the user's own specs as
            JSON); a worker never imports a factory the parent could not.
    """
    if workers == 1:
        for name, seed in jobs:
            yield _run_one(worlds[name], name, seed, metrics, trust)
        return
    context = _context()
    with _sigint_held(start_server=context.get_start_method() == "forkserver"):
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                   initializer=_worker_start, initargs=(os.getpid(),))
        futures: list[Future[dict[str, Any]]] = [
            pool.submit(_run_one, worlds[name], name, seed, metrics, trust) for name, seed in jobs]
    try:
        for future in as_completed(futures):
            yield future.result()
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (they ignore Ctrl-C)."""
    # The executor has no public way to end running workers before Python 3.14.
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        if process.is_alive():
            process.terminate()
    for process in workers:
        process.join(timeout=5)

