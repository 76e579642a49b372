"""Where a sweep's runs go: teamsim's own process pool, Dask distributed, or Ray.

Dask and Ray are optional extras (``pip install 'teamsim[dask]'``, ``'teamsim[ray]'``), imported
only here and only when chosen. Each gives a :class:`concurrent.futures.Executor`:
Dask's ``Client.get_executor()``, and for Ray :class:`RayExecutor` (``ray.remote`` tasks whose
``ObjectRef.future()`` is the future). Without an address each starts a local cluster of
``workers`` single-threaded processes and ends it with the sweep; with one it connects to a
running cluster (Dask: a scheduler ``tcp://host:8786``; Ray: ``auto`` or ``ray://host:10001``),
whose workers must have the same teamsim version installed (a row run by another version is
recorded as failed).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from teamsim.model import TeamsimError, ValidationError
from teamsim.runner._pool import cpus_to_pin, main_not_inherited, pin_process

__all__ = ["SWEEP_BACKENDS", "RayExecutor", "SweepBackend", "capacity", "remote_executor"]

SweepBackend = Literal["process", "dask", "ray"]
SWEEP_BACKENDS: tuple[SweepBackend, ...] = ("process", "dask", "ray")
"""The backends ``--backend`` takes; ``process`` (teamsim's own pool) is the default."""

_T = TypeVar("_T")

_DEFAULT_WINDOW = 256
"""Jobs kept in flight on an executor whose size cannot be read."""


def capacity(executor: Executor) -> int:
    """How many jobs to keep in flight on ``executor``: twice its workers where they can be
    counted (a local pool, a Dask client, Ray), else :data:`_DEFAULT_WINDOW`."""
    if isinstance(executor, ProcessPoolExecutor | ThreadPoolExecutor):
        return 2 * max(1, int(getattr(executor, "_max_workers", 1)))
    client = getattr(executor, "_client", None)
    nthreads = getattr(client, "nthreads", None)
    if callable(nthreads):
        with contextlib.suppress(Exception):
            return 2 * max(1, int(sum(nthreads().values())))
    if isinstance(executor, RayExecutor):
        return 2 * executor.cpus()
    return _DEFAULT_WINDOW


class RayExecutor(Executor):
    """A :class:`concurrent.futures.Executor` over Ray tasks (one CPU each).

    Ray must be initialised (``ray.init(...)``) before the first submission; shutting the
    executor down leaves Ray running (it is the caller's).
    """

    def __init__(self) -> None:
        """An executor of the Ray runtime this process is connected to."""
        import ray

        self._ray = ray
        self._remotes: dict[Callable[..., Any], Any] = {}

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        """Run ``fn(*args, **kwargs)`` as a Ray task; its future."""
        remote = self._remotes.get(fn)
        if remote is None:
            remote = self._remotes[fn] = self._ray.remote(num_cpus=1, max_retries=0)(fn)
        future: Future[_T] = remote.remote(*args, **kwargs).future()
        return future

    def cpus(self) -> int:
        """The CPUs of the Ray cluster (at least 1)."""
        resources: dict[str, float] = self._ray.cluster_resources()  # type: ignore[no-untyped-call]
        return max(1, int(resources.get("CPU", 1)))


def _missing(backend: str, extra: str) -> TeamsimError:
    return ValidationError(f"--backend {backend}: {extra} is not installed; pip install "
                           f"'teamsim[{backend}]'")


@contextlib.contextmanager
def remote_executor(
    backend: SweepBackend, address: str | None, workers: int,
) -> Iterator[Executor]:
    """An executor of ``backend`` (``dask`` or ``ray``), open for the block.

    Args:
        backend: ``dask`` or ``ray``.
        address: a running cluster's address; ``None`` starts a local one of ``workers``
            processes for the block.
        workers: the local cluster's worker processes.

    Raises:
        ValidationError: the backend's package is missing, or the address cannot be reached.
    """
    if backend == "dask":
        with _dask(address, workers) as executor:
            yield executor
    elif backend == "ray":
        with _ray(address, workers) as executor:
            yield executor
    else:
        raise ValueError(f"backend must be dask or ray here, got {backend!r}")


@contextlib.contextmanager
def _dask(address: str | None, workers: int) -> Iterator[Executor]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise _missing("dask", "Dask distributed") from None
    with contextlib.ExitStack() as stack:
        if address is None:
            # Its workers are spawned: without the caller's __main__ (see _main_not_inherited).
            with main_not_inherited():
                cluster = stack.enter_context(LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=workers, threads_per_worker=1, processes=True,
                    # No dashboard; the scheduler's HTTP server (metrics) still starts, on
                    # a free port rather than 8787 (which another cluster may hold).
                    dashboard_address=":0", scheduler_kwargs={"dashboard": False},
                    silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))  # type: ignore[no-untyped-call]
            # One CPU each, as the process pool's workers (cpus_to_pin says why); only the
            # cluster started here, never one at --address.
            if cpus := cpus_to_pin(workers):
                client.wait_for_workers(workers)
                addresses = sorted(client.run(os.getpid))  # every worker's address
                for cpu, worker in zip(cpus, addresses, strict=False):
                    client.run(pin_process, cpu, workers=[worker])
        else:
            _check_reachable(address, schemes=("", "tcp"), hint=(
                "give the address of a running Dask scheduler (tcp://host:8786)"))
            try:
                client = stack.enter_context(
                    Client(address, timeout="20s"))  # type: ignore[no-untyped-call]
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                # TypeError: a tls:// address without a TLS configuration.
                raise ValidationError(
                    f"--address {address}: cannot reach a Dask scheduler there ({exc}); give "
                    "its address as tcp://host:8786") from None
        yield client.get_executor(pure=False)


@contextlib.contextmanager
def _ray(address: str | None, workers: int) -> Iterator[Executor]:
    try:
        import ray
    except ImportError:
        raise _missing("ray", "Ray") from None
    if address is not None:  # also when a runtime is up already: a dead address is a mistake
        _check_reachable(address, schemes=("", "ray"), hint=(
            "give the address of a running Ray cluster (host:6379, ray://host:10001) or auto"))
    started = not ray.is_initialized()
    if started:
        try:
            if address is None:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.ERROR)
            else:
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
            raise ValidationError(
                f"--address {address}: cannot connect to a Ray cluster there ({exc}); give "
                "auto (this machine's cluster) or ray://host:10001") from None
    try:
        yield RayExecutor()
    finally:
        if started:
            ray.shutdown()


def _check_reachable(address: str, *, schemes: tuple[str, ...], hint: str,
                     seconds: float = 5.0) -> None:
    """Refuse a cluster address whose host and port do not answer, at once: ``ray.init``
    would retry for minutes, printing its own log lines, and Dask's client for its whole
    connect timeout (20 s) even when the connection is refused. Only a ``host:port`` with
    one of ``schemes`` (``""``: none) is probed; ``auto``, ``local`` and other forms are the
    cluster library's to find or refuse.

    Raises:
        ValidationError: nothing answers at the address (``hint`` says what to give).
    """
    scheme, _, where = address.rpartition("://")
    host, _, port = where.rpartition(":")
    if scheme not in schemes or not port.isascii() or not port.isdigit():
        return
    if not host:  # Dask reads ":8786" as this machine and waits out its timeout there
        raise ValidationError(f"--address {address}: no host before the port; {hint}")
    if not 0 < int(port) <= 65535:
        raise ValidationError(f"--address {address}: {port} is not a port (1 to 65535); {hint}")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds):
            pass
    except (OSError, ValueError) as exc:
        raise ValidationError(f"--address {address}: nothing answers there ({exc}); {hint}") \
            from None
