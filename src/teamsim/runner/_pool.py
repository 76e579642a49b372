"""A sweep's runs: one job function, the local worker processes, and any executor.

:func:`run_job` runs one variant x seed and returns its :class:`~teamsim.runner._rows.SweepRow`
(a run that raises gives a ``failed`` row; the sweep goes on). :func:`dispatch` keeps a bounded
number of jobs in flight on any :class:`concurrent.futures.Executor` (a Dask ``ClientExecutor``,
Ray, a pool of your own) and yields rows as they finish.

:func:`execute_local` is the default backend, teamsim's own process pool. Workers start clean
(no inherited threads, open database connections or Rich consoles), ignore Ctrl-C (the parent
handles it and ends them), and exit by themselves when their parent is gone. Where the platform
has it (Linux, macOS), they are forked from multiprocessing's fork server, which imports
teamsim's simulation stack once (``set_forkserver_preload``) and exits with the sweep: a
spawned worker would spend about three runs' time importing it again. A worker that dies (a
crash, the out-of-memory killer) breaks the pool: the jobs it held are run again one at a time
in a fresh pool, so only the job that kills its worker again is recorded as failed.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    CancelledError,
    Executor,
    Future,
    ProcessPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import forkserver, resource_tracker
from multiprocessing.context import BaseContext
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from teamsim.runner._folders import teamsim_version
from teamsim.runner._models import simulate_job
from teamsim.runner._rows import METRIC_COLUMNS, SweepRow
from teamsim.scenario import Scenario
from teamsim.store import Store

__all__ = ["Job", "cpus_to_pin", "dispatch", "execute_local", "main_not_inherited", "pin_process",
           "run_job"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One variant x seed, as sent to a worker.

    Attributes:
        variant: the variant's name.
        seed: the seed.
        world: the variant's scenario as JSON data.
        settings: the values the variant sets.
        scenario_hash: the hash of ``world``.
        version: the parent's teamsim version (recorded in the row).
        trust: the parent's consent to imports: (allow_imports, the user's own specs as
            JSON); a worker never imports a factory the parent could not.
    """

    variant: str
    seed: int
    world: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    scenario_hash: str
    version: str
    trust: tuple[bool, tuple[str, ...]] = (False, ())


def failed_row(job: Job, error: str, wall_seconds: float = 0.0) -> SweepRow:
    """The row of a job that did not finish."""
    return SweepRow(variant=job.variant, seed=job.seed, status="failed", error=error,
                    settings=job.settings, scenario_hash=job.scenario_hash,
                    teamsim_version=job.version, wall_seconds=wall_seconds)


def run_job(job: Job) -> SweepRow:
    """Run one variant x seed (in a worker) and return its row; an exception of the run is
    recorded in a ``failed`` row instead of stopping the sweep."""
    here = _version()
    if here != job.version:
        return failed_row(job, f"this worker runs teamsim {here}, the sweep teamsim "
                               f"{job.version}: install the same version on every worker")
    _reset_peak_memory()
    start = time.perf_counter()  # measures the machine, not the run: not part of any result
    try:
        world = Scenario.model_validate(job.world)
        with Store.open("sqlite://") as store:
            result, measured = simulate_job(world, job.seed, store, allow_imports=job.trust[0],
                                            consented=job.trust[1])
    except Exception as exc:
        return failed_row(job, f"{type(exc).__name__}: {exc}", time.perf_counter() - start)
    return SweepRow(variant=job.variant, seed=job.seed, status="ok", digest=result.digest,
                    settings=job.settings, scenario_hash=job.scenario_hash,
                    teamsim_version=job.version, wall_seconds=time.perf_counter() - start,
                    peak_memory_mib=_peak_memory_mib(),
                    metrics={m: measured.get(m) for m in METRIC_COLUMNS})


@functools.cache
def _version() -> str:
    return teamsim_version()


def _reset_peak_memory() -> None:
    """Reset this process's peak resident memory (Linux: ``/proc/self/clear_refs``)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_memory_mib() -> float | None:
    """This process's peak resident memory since the reset (Linux), else its peak so far."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


_WATCH_SECONDS = 0.25
"""How often a sweep worker checks that its parent is still alive."""


_PRELOAD = ["teamsim.runner._forkserver"]
"""What the fork server imports before forking workers: this module, and with it the whole
simulation stack a run needs (assembly, sim, graph, store, LangGraph, SQLAlchemy), then
freezes what the imports made (:mod:`teamsim.runner._forkserver`)."""


def _context() -> BaseContext:
    """The fork server where the platform has one, with teamsim preloaded; else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Takes effect when the server starts (once per process); a server some other code
    # started without it still works, its workers just import teamsim themselves.
    context.set_forkserver_preload(_PRELOAD)
    return context


def cpus_to_pin(workers: int) -> tuple[int, ...]:
    """The CPUs to give the workers one each, or ``()`` to leave them to the scheduler.

    Each LangGraph ``invoke`` hands its checkpoint to a fresh background thread and waits for
    it, hundreds of times a run. With every CPU busy with a worker, the woken thread was
    often placed on the other worker's CPU while its own went idle: on the 32-seed welcome
    sweep, 2 unpinned workers on 2 CPUs left about a fifth of the machine idle and each run
    took 1.3x its time alone. Pinned, a worker's threads hand over on their own CPU, and a
    run takes no longer than alone. Only where the platform can pin (Linux), with two or
    more workers, and exactly as many workers as this process may use CPUs: with CPUs to
    spare the woken threads find an idle one (and pinning would put every sweep's workers
    on the same first CPUs); with more workers than CPUs they share CPUs anyway.
    """
    if workers < 2 or not hasattr(os, "sched_setaffinity"):
        return ()
    allowed = sorted(os.sched_getaffinity(0))
    return tuple(allowed) if workers == len(allowed) else ()


def pin_process(cpu: int) -> None:
    """Keep this process (each of its threads, and the threads it starts later) on ``cpu``.

    Linux sets affinity per thread, so every thread listed in ``/proc/self/task`` is pinned
    (a Dask worker already runs several when it is told). A thread that ends meanwhile, or a
    CPU taken offline, leaves it as it was.
    """
    try:
        threads = [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    for thread in threads:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(thread, {cpu})


def _worker_start(parent: int, cpus: tuple[int, ...] = (),
                  slot: Synchronized[int] | None = None) -> None:
    """Set up a sweep worker: Ctrl-C is the parent's to handle, the worker exits by itself as
    soon as the sweep (``parent``) is gone (killed with SIGKILL, say), instead of waiting
    forever on a queue no one writes to, and, given ``cpus`` and a shared counter ``slot``,
    it takes the next of those CPUs for itself (:func:`cpus_to_pin`)."""
    if cpus and slot is not None:
        with slot.get_lock():
            index = slot.value
            slot.value += 1
        pin_process(cpus[index % len(cpus)])
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



def dispatch(
    executor: Executor, jobs: Iterator[Job], window: int, lost: list[Job] | None = None,
) -> Generator[SweepRow, None, None]:
    """Run ``jobs`` on ``executor``, at most ``window`` at a time, yielding rows as they finish.

    A job whose future raises (a Dask ``KilledWorker``, a Ray worker crash) gives a ``failed``
    row. When the executor itself breaks (``BrokenExecutor``: a local worker died), the jobs in
    flight are appended to ``lost`` (when given) and the generator returns; without ``lost``
    they are recorded as failed. On any exception (Ctrl-C) the jobs not started are cancelled.
    """
    pending: dict[Future[SweepRow], Job] = {}

    def fill() -> None:
        while len(pending) < window:
            job = next(jobs, None)
            if job is None:
                return
            pending[executor.submit(run_job, job)] = job

    broken: list[Job] = []
    try:
        fill()
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                try:
                    row = future.result()
                except BrokenProcessPool:
                    broken.append(job)
                    continue
                except CancelledError:
                    row = failed_row(job, "cancelled by the executor")
                except Exception as exc:
                    row = failed_row(job, f"{type(exc).__name__}: {exc}")
                yield row
            if broken:
                broken += pending.values()
                pending.clear()
                break
            fill()
    finally:
        for future in pending:
            future.cancel()
    if lost is not None:
        lost += broken
        return
    for job in broken:
        yield failed_row(job, "the executor broke while running it")


_DIED = ("its worker process died (a crash, or killed: out of memory?); the job was run "
         "again alone and its worker died again")


def execute_local(jobs: Iterator[Job], workers: int) -> Generator[SweepRow, None, None]:
    """Each job's row as the jobs finish, in ``workers`` local processes (1: in this one).

    When a worker dies, the jobs the pool held are run again one at a time in fresh pools;
    only one whose worker dies again is recorded as failed.
    """
    if workers == 1:
        for job in jobs:
            yield run_job(job)
        return
    suspects: deque[Job] = deque()
    finished = False
    while not finished or suspects:
        pool = _new_pool(workers)
        try:
            if suspects:
                job = suspects.popleft()
                try:
                    yield pool.submit(run_job, job).result()
                except BrokenProcessPool:
                    yield failed_row(job, _DIED)
                    pool.shutdown(wait=False)
                    continue
            else:
                lost: list[Job] = []
                yield from dispatch(pool, jobs, 2 * workers, lost)
                suspects.extend(lost)
                finished = not lost
        except BaseException:
            _stop(pool)
            raise
        pool.shutdown(wait=not suspects)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    context = _context()
    cpus = cpus_to_pin(workers)
    slot = context.Value("i", 0) if cpus else None
    with _sigint_held(start_server=context.get_start_method() == "forkserver"):
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                   initializer=_worker_start,
                                   initargs=(os.getpid(), cpus, slot))
        # The pool starts a worker per submission (until it has them all): start them now,
        # while SIGINT is held, with no-op calls.
        with main_not_inherited():
            for _ in range(workers):
                pool.submit(int)
    return pool


@contextlib.contextmanager
def main_not_inherited() -> Iterator[None]:
    """Start workers without the parent's ``__main__``: multiprocessing would import the
    calling script in each worker (as ``__mp_main__``), running its top-level code again, so
    a script calling :func:`teamsim.sweep` without an ``if __name__ == "__main__":`` guard
    would start sweeps inside its workers. A job needs nothing of it (the job function and
    its data are teamsim's), so the workers are started while ``__main__`` is an empty module.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


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
