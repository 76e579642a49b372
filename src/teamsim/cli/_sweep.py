"""``teamsim sweep``: every variant x seed on teamsim's process pool, Dask or Ray, its rows
kept as runs finish, ``--resume``, and the summary tables.

The runner is imported inside the command (``teamsim --help`` must not pay for it); before
that, the fork server of the process pool is started so that its import of the simulation stack
overlaps this process's. Every user-supplied string is printed through
:mod:`teamsim.cli._text`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from teamsim.cli._common import err, fail, out
from teamsim.cli._models import (
    AllowImportsOption,
    CassetteModeOption,
    CassetteOption,
    MaxConcurrencyOption,
    ModelOption,
    ModelOptions,
)
from teamsim.cli._tables import AllowLarge, progress_bar, report_table
from teamsim.cli._text import clean, plain
from teamsim.model import TeamsimError

if TYPE_CHECKING:
    from rich.console import Console

    from teamsim import runner

__all__ = ["FORK_SERVER_PRELOAD", "SWEEP_METRICS_HELP", "print_sweep", "start_fork_server",
           "sweep_command"]


SWEEP_METRICS_HELP = ("sent, replies, reply_rate, approvals_human, human_minutes, "
                      "approval_latency_hours_p50")
"""``runner.DEFAULT_SWEEP_METRICS`` in words (written out: the help must not import the
runner); a test keeps the two equal."""


FORK_SERVER_PRELOAD = ("teamsim.runner._forkserver",)
"""What the sweep's fork server imports (``teamsim.runner._pool._PRELOAD``; a test keeps the
two equal): the module of the job function, and with it the simulation stack, frozen."""


def start_fork_server() -> None:
    """Start multiprocessing's fork server (where there is one) before this process imports
    the simulator: the server's import of the simulation stack then overlaps this process's
    on a machine of two or more cores, instead of coming after it when the first worker
    starts (about 1.5-2.5 s of a sweep's wall time). SIGINT is blocked meanwhile, as the pool
    does (:func:`teamsim.runner._pool._sigint_held`): the server inherits the mask, so a
    Ctrl-C during its start-up cannot kill it with a traceback."""
    import multiprocessing
    import signal
    import threading
    from multiprocessing import forkserver, resource_tracker

    if "forkserver" not in multiprocessing.get_all_start_methods() or \
            threading.current_thread() is not threading.main_thread():
        return
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(FORK_SERVER_PRELOAD))
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def sweep_command(
    scenario: Annotated[str, typer.Argument(help="The scenario file (YAML).",
                                            show_default=False)],
    seeds: Annotated[str, typer.Option(
        help="Seeds: A:B (half-open, 0:100 is 0..99) or a list 1,5,9.")] = "0:20",
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="path=v1,v2: a value inside the scenario by dotted path "
        "(approver.approve, sequences.0.steps.2.days); several make every combination.",
        show_default=False)] = None,
    metrics: Annotated[str | None, typer.Option(
        help=f"Metrics the summary shows, comma separated (default: {SWEEP_METRICS_HELP}); "
        "sweep.csv holds every metric.", show_default=False)] = None,
    backend: Annotated[str, typer.Option(
        help="Where the runs go: process (worker processes here), dask or ray (optional "
        "extras: pip install 'teamsim\\[dask]' or 'teamsim\\[ray]').")] = "process",
    address: Annotated[str | None, typer.Option(
        help="A running cluster for --backend dask (a scheduler, tcp://host:8786) or ray "
        "(host:6379 or auto; ray://host:10001 needs ray[client]); without it a local one is "
        "started.",
        show_default=False)] = None,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes here, or of the local Dask/Ray cluster (default: "
        "min(2, CPUs)).", min=1, show_default=False)] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Output directory for sweep.csv and summary.json "
        "(default: runs/<file stem>-sweep).", show_default=False)] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Finish the interrupted sweep at --out: run only the (variant, "
        "seed) pairs it lacks (same scenario and teamsim version).")] = False,
    allow_large: AllowLarge = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier sweep folder at --out.")] = False,
    model: ModelOption = None,
    allow_imports: AllowImportsOption = False,
    cassette: CassetteOption = None,
    cassette_mode: CassetteModeOption = None,
    max_concurrency: MaxConcurrencyOption = None,
) -> None:
    """Run every variant x seed in parallel; means with 95% intervals and paired differences."""
    if backend == "process" and workers != 1:
        start_fork_server()
    from teamsim import runner  # the simulator: start-up

    options = ModelOptions.parse(model, allow_imports, cassette, cassette_mode, max_concurrency)
    chosen = None if metrics is None else [m.strip() for m in metrics.split(",") if m.strip()]
    target = out_dir if out_dir is not None else Path("runs") / f"{Path(scenario).stem}-sweep"
    if backend not in runner.SWEEP_BACKENDS:
        raise fail(f"--backend {clean(backend)}: use one of {', '.join(runner.SWEEP_BACKENDS)}")
    try:
        seed_list = runner.parse_seeds(seeds)
        variants = runner.parse_sets(set_ or [])
        if len(seed_list) * len(variants) > runner.MAX_SWEEP_RUNS:
            raise fail(f"--seeds x --set: {len(seed_list):,} seeds x {len(variants):,} "
                        f"variants make {len(seed_list) * len(variants):,} runs; a sweep takes "
                        f"at most {runner.MAX_SWEEP_RUNS:,}, so split it into several sweeps")
        with progress_bar(len(seed_list) * len(variants), "runs", eta=True) as update:
            result = runner.sweep(scenario, seed_list, variants=variants, metrics=chosen,
                                  workers=workers, backend=backend,
                                  address=address, out=target, allow_large=allow_large,
                                  force=force, resume=resume, **options.run_arguments(),
                                  progress=lambda done, _total: update(done))
    except TeamsimError as exc:
        raise fail(str(exc)) from None
    except runner.SweepInterrupted as stopped:
        err.print(clean(str(stopped)), markup=False)
        raise typer.Exit(code=130) from None
    print_sweep(out, result)
    if result.failed:
        raise typer.Exit(code=1)


def _interval(estimate: runner.Estimate) -> str:
    if math.isnan(estimate.low):
        return "—"
    return f"[{estimate.low:.4g}, {estimate.high:.4g}]"


def _half(estimate: runner.Estimate) -> str:
    return "—" if math.isnan(estimate.half_width) else f"{estimate.half_width:.4g}"


_FAILED_SHOWN = 5
"""Failed runs named after a sweep (the rest are counted; sweep.csv has them all)."""


def print_sweep(out: Console, result: runner.SweepResult) -> None:
    """Per variant the mean and 95% interval of each metric, then each variant against the
    first: the paired difference over common seeds and, for comparison, the unpaired one."""
    out.print(f"{result.runs} runs: {len(result.variants)} variant(s) x {len(result.seeds)} "
              f"seed(s) -> {result.csv_path}", markup=False)
    if result.resumed:
        out.print(f"resumed: {result.resumed} finished run(s) kept, "
                  f"{result.runs - result.resumed} run now", markup=False)
    for row in result.failed[:_FAILED_SHOWN]:
        out.print(f"failed: variant {clean(row.variant)}, seed {row.seed}: "
                  f"{clean(row.error or '')}",
                  markup=False)
    if len(result.failed) > _FAILED_SHOWN:
        out.print(f"failed: {len(result.failed) - _FAILED_SHOWN} more (status failed in "
                  "sweep.csv)", markup=False)
    baseline = next(iter(result.variants))
    for variant, by_metric in result.summary.items():
        role = " (baseline)" if variant == baseline and len(result.variants) > 1 else ""
        means = report_table("metric", "n", "mean", "95% CI", "±", title=f"{variant}{role}",
                       right=("n", "mean", "±"))
        for metric, estimate in by_metric.items():
            means.add_row(plain(metric), str(estimate.n), f"{estimate.mean:.4g}",
                          _interval(estimate), _half(estimate))
        out.print(means)
    for variant in list(result.variants)[1:]:
        diffs = report_table("metric", "difference", "paired ±", "unpaired ±",
                       title=f"{variant} minus {baseline}: 95% intervals, difference ± "
                             "half-width (paired: same seeds)",
                       right=("difference", "paired ±", "unpaired ±"))
        for c in result.comparisons:
            if c.variant == variant:
                diffs.add_row(plain(c.metric), f"{c.paired.mean:.4g}", _half(c.paired),
                              _half(c.unpaired))
        out.print(diffs)
