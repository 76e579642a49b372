"""One executor seam, three backends (issue 13): teamsim's process pool, Dask distributed (a
``LocalCluster``) and Ray (``ray.init(num_cpus=2)``) give the same rows (digests and every
metric) for the same seeds. Each cluster is started once for this module; the sweeps are tiny.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from teamsim import runner
from teamsim.cli import app
from teamsim.model import ValidationError
from teamsim.runner._rows import MEASURED_COLUMNS

DATA = Path(__file__).parent / "data"
SMALL = DATA / "run_small.yaml"
VARIANTS = {"quick": {"approver.minutes_per_item": 1}, "slow": {"approver.minutes_per_item": 3}}
SEEDS = (0, 1)


def _same(rows: tuple[runner.SweepRow, ...]) -> list[dict[str, Any]]:
    """The rows without the columns that measure the machine (wall time, peak memory)."""
    measured = set(MEASURED_COLUMNS)
    return [{name: getattr(row, name) for name in row.__slots__ if name not in measured}
            for row in rows]


@pytest.fixture(scope="module")
def local_pool() -> runner.SweepResult:
    return runner.sweep(SMALL, SEEDS, variants=VARIANTS, workers=2)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        # Closing a cluster on a loaded machine can outlast its default timeouts: its
        # workers are ended either way, and the closing is not what these tests check.
        with contextlib.suppress(TimeoutError, OSError):
            client.close(timeout=60)
            cluster.close(timeout=60)


@pytest.fixture(scope="module")
def ray_runtime() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_the_local_pool_gives_the_rows_of_runs_in_this_process(
    local_pool: runner.SweepResult,
) -> None:
    here = runner.sweep(SMALL, SEEDS, variants=VARIANTS, workers=1)
    assert _same(here.rows) == _same(local_pool.rows)
    assert all(row.ok for row in local_pool.rows)


def test_dask_gives_the_same_rows_as_the_local_pool(
    local_pool: runner.SweepResult, dask_client: Any,
) -> None:
    result = runner.sweep(SMALL, SEEDS, variants=VARIANTS, executor=dask_client.get_executor())
    assert _same(result.rows) == _same(local_pool.rows)


def test_ray_gives_the_same_rows_as_the_local_pool(
    local_pool: runner.SweepResult, ray_runtime: Any,
) -> None:
    # backend="ray" uses the runtime this process is connected to (and leaves it running).
    result = runner.sweep(SMALL, SEEDS, variants=VARIANTS, backend="ray")
    assert _same(result.rows) == _same(local_pool.rows)
    assert ray_runtime.is_initialized()


def test_any_executor_will_do(local_pool: runner.SweepResult) -> None:
    with ThreadPoolExecutor(max_workers=2) as executor:
        result = runner.sweep(SMALL, SEEDS, variants=VARIANTS, executor=executor)
    assert _same(result.rows) == _same(local_pool.rows)


class _Failing(ThreadPoolExecutor):
    """An executor whose job for seed 1 fails on the executor's side (a lost worker)."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        if args and getattr(args[0], "seed", None) == 1:
            future: Future[Any] = Future()
            future.set_exception(ConnectionError("worker tcp://10.0.0.7:4000 lost"))
            return future
        return super().submit(fn, *args, **kwargs)


def test_a_job_lost_by_the_executor_is_a_failed_row_and_the_rest_complete() -> None:
    with _Failing(max_workers=1) as executor:
        result = runner.sweep(SMALL, "0:3", executor=executor)
    assert [(r.seed, r.status) for r in result.rows] == [(0, "ok"), (1, "failed"), (2, "ok")]
    assert result.failed[0].error == "ConnectionError: worker tcp://10.0.0.7:4000 lost"


def test_a_backend_that_is_not_installed_names_its_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ValidationError, match=r"--backend dask: Dask distributed is not "
                                              r"installed; pip install 'teamsim\[dask\]'"):
        runner.sweep(SMALL, "0:1", backend="dask")


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_a_ray_address_where_nothing_answers_is_refused_at_once(
    address: str, tmp_path: Path,
) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed")
    with pytest.raises(ValidationError, match=rf"--address {address}: nothing answers there"):
        runner.sweep(SMALL, "0:1", backend="ray", address=address, out=tmp_path / "s")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("address", ["127.0.0.1:1", "tcp://127.0.0.1:1", ":1", "tcp://:1"])
def test_a_dask_address_where_nothing_answers_is_refused_at_once(
    address: str, tmp_path: Path,
) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    started = time.monotonic()
    with pytest.raises(ValidationError, match=rf"--address {address}: (nothing answers there|"
                                              "no host before the port)"):
        runner.sweep(SMALL, "0:1", backend="dask", address=address, out=tmp_path / "s")
    assert time.monotonic() - started < 10  # Dask's own client waits out its 20 s timeout
    assert not (tmp_path / "s").exists()


def test_a_dask_tls_address_without_tls_settings_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    with pytest.raises(ValidationError, match=r"--address tls://127.0.0.1:1: cannot reach a "
                                              r"Dask scheduler there \(TLS expects"):
        runner.sweep(SMALL, "0:1", backend="dask", address="tls://127.0.0.1:1",
                     out=tmp_path / "s")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("backend", ["dask", "ray"])
@pytest.mark.parametrize("port", ["0", "65536", "99999999999999999999999"])
def test_an_address_with_an_impossible_port_is_refused(
    backend: str, port: str, tmp_path: Path,
) -> None:
    pytest.importorskip("distributed" if backend == "dask" else "ray",
                        reason=f"the {backend} extra is not installed")
    with pytest.raises(ValidationError, match=rf"--address 127.0.0.1:{port}: {port} is not a "
                                              r"port \(1 to 65535\)"):
        runner.sweep(SMALL, "0:1", backend=backend, address=f"127.0.0.1:{port}",
                     out=tmp_path / "s")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--backend", "spark"], "error: --backend spark: use one of process, dask, ray\n"),
    (["--address", "tcp://h:8786"],
     "error: --address: only with --backend dask or ray (a cluster's address); the process "
     "backend runs on this machine\n"),
    (["--resume", "--force"], "error: --resume and --force: choose one (resume keeps the "
     "finished rows, force starts over)\n"),
])
def test_bad_backend_options_are_one_error_line(
    args: list[str], message: str, tmp_path: Path,
) -> None:
    cli: typer.Typer = app
    result = CliRunner().invoke(cli, ["sweep", str(SMALL), "--seeds", "0:1", "--out",
                                      str(tmp_path / "s"), *args])
    assert result.exit_code == 2
    assert result.stderr == message
    assert not (tmp_path / "s").exists()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="pinning needs Linux's sched_setaffinity and 2 CPUs")
def test_the_local_dask_cluster_gives_its_workers_one_cpu_each() -> None:
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    from teamsim.runner._backends import remote_executor

    with remote_executor("dask", None, 2):
        client = distributed.get_client()
        cpus = client.run(os.sched_getaffinity, 0)
    assert len(cpus) == 2
    first, second = (frozenset(mine) for mine in cpus.values())
    assert len(first) == len(second) == 1
    assert first != second
