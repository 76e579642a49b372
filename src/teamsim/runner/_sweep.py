"""Sweeps: every variant x seed of a scenario, written row by row, resumable, summarised.

:func:`sweep` sends one job per variant x seed to an executor (teamsim's own process pool by
default, Dask or Ray, or any :class:`concurrent.futures.Executor`), appends each row to
``sweep.csv`` as its run finishes (:mod:`teamsim.runner._rows`), and at the end rewrites the
file sorted by variant and seed and writes ``summary.json``: per-variant means with 95%
confidence intervals and, for each variant against the first, the paired difference over common
seeds (common random numbers) beside the unpaired (Welch) one (:mod:`teamsim.runner._stats`).
An interrupted sweep keeps its rows; ``resume`` runs only the missing ones.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from collections.abc import Sequence as SequenceOf
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from teamsim.llm import ModelSpec
from teamsim.model import TeamsimError, ValidationError
from teamsim.runner import _staging
from teamsim.runner._backends import SWEEP_BACKENDS, SweepBackend, capacity, remote_executor
from teamsim.runner._folders import json_text, teamsim_version
from teamsim.runner._models import prepare
from teamsim.runner._pool import Job, dispatch, execute_local
from teamsim.runner._rows import (
    SWEEP_FOLDER,
    SweepRow,
    format_row,
    header_line,
    read_rows,
    rows_frame,
    scenario_hash,
    sort_key,
)
from teamsim.runner._run import ScenarioInput, load
from teamsim.runner._stats import CONFIDENCE, Comparison, Estimate, estimate
from teamsim.runner._variants import parse_seeds, parse_sets
from teamsim.scenario import EXPECTABLE, Scenario, check_size, with_values

if TYPE_CHECKING:
    import pandas

__all__ = ["DEFAULT_SWEEP_METRICS", "SweepInterrupted", "SweepResult", "sweep"]

DEFAULT_SWEEP_METRICS: tuple[str, ...] = (
    "sent", "replies", "reply_rate", "approvals_human", "human_minutes",
    "approval_latency_hours_p50",
)
"""The metrics a sweep's summary shows when none are chosen (every row holds every metric)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    """What a sweep found.

    Attributes:
        variants: each variant's name and the values it sets, the baseline first.
        seeds: the seeds every variant ran with.
        metrics: the metrics summarised.
        summary: ``summary[variant][metric]``: the mean and its interval (finished runs).
        comparisons: every non-baseline variant against the baseline, per metric.
        runs: how many rows the sweep has (finished and failed).
        rows: every row, sorted by variant (the baseline first) and seed.
        csv_path: the rows on disk (``sweep.csv``), or ``None`` when ``out`` was not given.
        resumed: rows kept from an earlier, interrupted sweep (``resume``).
    """

    variants: dict[str, dict[str, Any]]
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]
    summary: dict[str, dict[str, Estimate]]
    comparisons: tuple[Comparison, ...]
    runs: int
    rows: tuple[SweepRow, ...] = ()
    csv_path: Path | None
    resumed: int = 0

    @property
    def failed(self) -> tuple[SweepRow, ...]:
        """The rows whose run raised or whose worker died."""
        return tuple(row for row in self.rows if not row.ok)

    def comparison(self, variant: str, metric: str) -> Comparison:
        """The comparison of ``variant`` with the baseline on ``metric``."""
        for item in self.comparisons:
            if item.variant == variant and item.metric == metric:
                return item
        raise KeyError(f"no comparison of {variant!r} on {metric!r}")

    def to_dataframe(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (pandas is imported only here: install it, or the
        ``notebook`` extra): one row per run, a column per field and metric, and a
        ``set:PATH`` column per variant setting."""
        return rows_frame(self.rows)


def _check_metrics(metrics: SequenceOf[str]) -> tuple[str, ...]:
    unknown = [m for m in metrics if m not in EXPECTABLE]
    if unknown:
        raise ValidationError(f"--metrics: no metric {', '.join(map(repr, unknown))}; use "
                              f"some of {', '.join(sorted(EXPECTABLE))}")
    if not metrics:
        raise ValidationError("--metrics: choose at least one metric")
    return tuple(dict.fromkeys(metrics))


_VARIANTS_SHAPE = ("write variants as {name: {dotted path: value}}, like "
                   "{'baseline': {}, 'slow reviewer': {'approver.minutes_per_item': 3}}")


def check_variants(variants: Any) -> dict[str, dict[str, Any]]:
    """``variants=`` checked: a mapping of variant names to ``{dotted path: value}`` mappings.

    Raises:
        ValidationError: another shape, naming what is wrong and the shape to write.
    """
    if not isinstance(variants, Mapping):
        raise ValidationError(f"variants: got a {type(variants).__name__}; {_VARIANTS_SHAPE}")
    if not variants:
        raise ValidationError(f"variants: give at least one variant; {_VARIANTS_SHAPE}")
    checked: dict[str, dict[str, Any]] = {}
    for name, values in variants.items():
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"variants: the name {name!r} is not a non-empty text; "
                                  f"{_VARIANTS_SHAPE}")
        if not isinstance(values, Mapping):
            raise ValidationError(f"variants[{name!r}]: got a {type(values).__name__}, not a "
                                  f"mapping of dotted paths to values; {_VARIANTS_SHAPE}")
        bad = [path for path in values if not isinstance(path, str) or not path]
        if bad:
            raise ValidationError(f"variants[{name!r}]: {bad[0]!r} is not a dotted path like "
                                  f"'approver.approve'; {_VARIANTS_SHAPE}")
        checked[name] = dict(values)
    return checked


def _check_options(
    backend: str, address: str | None, executor: Executor | None, workers: int | None,
    resume: bool, force: bool, out: str | Path | None,
) -> None:
    if backend not in SWEEP_BACKENDS:
        raise ValidationError(f"--backend {backend!r}: use one of {', '.join(SWEEP_BACKENDS)}")
    if executor is not None and (backend != "process" or address is not None):
        raise ValueError("give executor= or backend=/address=, not both")
    if address is not None and backend == "process":
        raise ValidationError("--address: only with --backend dask or ray (a cluster's "
                              "address); the process backend runs on this machine")
    if workers is not None and workers < 1:
        raise ValidationError(f"--workers: must be >= 1, got {workers}")
    if resume and force:
        raise ValidationError("--resume and --force: choose one (resume keeps the finished "
                              "rows, force starts over)")
    if resume and out is None:
        raise ValidationError("--resume: give --out, the folder of the sweep to finish")


def sweep(
    scenario: ScenarioInput,
    seeds: Iterable[int] | str,
    *,
    variants: Mapping[str, Mapping[str, Any]] | None = None,
    sets: SequenceOf[str] | None = None,
    metrics: SequenceOf[str] | None = None,
    workers: int | None = None,
    backend: SweepBackend = "process",
    address: str | None = None,
    executor: Executor | None = None,
    out: str | Path | None = None,
    force: bool = False,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
    allow_large: bool = False,
    models: Mapping[str, ModelSpec | str | None] | None = None,
    allow_imports: bool = False,
    cassette: str | Path | None = None,
    cassette_mode: str | None = None,
    max_concurrency: int | None = None,
) -> SweepResult:
    """Run every variant x seed and summarise the chosen metrics.

    Each finished run is appended to ``sweep.csv`` at once (every metric, the digest, the
    seed, the variant's settings, the scenario hash, the teamsim version, wall time and peak
    memory); at the end the file is rewritten sorted by variant (as given) and seed. With
    the same seed, variants share their random numbers (teamsim's draws are keyed by
    identity), so the paired difference is usually much tighter than the unpaired one. A run
    that raises (or whose worker dies) is recorded as a ``failed`` row and the rest go on.

    Safe to call from a plain script (no ``if __name__ == "__main__":`` guard is needed: the
    workers do not import the calling script) and from a notebook cell.

    Example::

        result = teamsim.sweep("welcome.yaml", range(20), variants={
            "baseline": {},
            "slow reviewer": {"approver.minutes_per_item": 3},
        }, out="runs/welcome-sweep")
        result.comparison("slow reviewer", "sent").paired

    Args:
        scenario: a validated world or the path of a scenario file.
        seeds: the seeds, or their text (``0:20`` or ``1,5,9``).
        variants: variant name -> ``{dotted path: value}`` (an empty mapping changes
            nothing); the first is the baseline. Checked: another shape is a
            :class:`~teamsim.model.ValidationError` naming the shape to write.
        sets: ``path=v1,v2`` texts, as ``--set`` takes them (their cartesian product);
            give ``variants`` or ``sets``, not both. Neither: the scenario as it is.
        metrics: the metrics the summary shows (default :data:`DEFAULT_SWEEP_METRICS`);
            every row holds every metric whatever is chosen.
        workers: local worker processes (default ``min(2, cpu count)``; 1 runs in this
            process), or the size of the local Dask or Ray cluster started without
            ``address``.
        backend: ``process`` (teamsim's pool), ``dask`` or ``ray`` (optional extras).
        address: a running cluster: a Dask scheduler (``tcp://host:8786``) or a Ray cluster
            (``auto``, ``ray://host:10001``); its workers need the same teamsim installed.
        executor: any :class:`concurrent.futures.Executor` to run the jobs on instead (a
            Dask ``client.get_executor()``, a pool of your own); left open.
        out: the sweep folder (``sweep.csv`` as runs finish, ``summary.json`` at the end);
            ``None`` keeps nothing on disk. A folder that is there already is used only if
            it is a teamsim sweep folder and ``resume`` or ``force`` is given.
        force: replace an earlier sweep folder at ``out`` (when the sweep starts).
        resume: finish the sweep at ``out``: skip the (variant, seed) pairs it has with the
            same scenario hash and teamsim version and run the rest (failed rows again).
        progress: called with (finished runs, total runs) at the start and as each run
            finishes (rows kept by ``resume`` count as finished).
        allow_large: run a world of more than 100,000 contacts (refused otherwise).
        models: chat models by teammate, as specs (a :class:`~teamsim.llm.ModelSpec` or its
            text, ``package.module:factory,key=value``) that the workers import; a chat
            model object cannot be sent to them.
        allow_imports: import the model factories the scenario file names.
        cassette: recorded model replies (default: the scenario's ``llm.cassette``); a sweep
            reads it and never writes it.
        cassette_mode: ``record``, ``replay`` or ``auto`` (default: the scenario's).
        max_concurrency: model calls made at once in each run (default: the scenario's).

    Raises:
        ScenarioError: the scenario or a variant of it is invalid.
        ValidationError: bad seeds, variants, sets, metrics or options; ``resume`` over rows
            of another scenario or teamsim version; a backend not installed or not reached.
        TeamsimError: ``out`` cannot be used or written.
        SweepInterrupted: Ctrl-C (a ``KeyboardInterrupt``); the workers are stopped, the
            finished rows are kept in ``out``.
    """
    _check_options(backend, address, executor, workers, resume, force, out)
    world, source = load(scenario)
    check_size(world, allow_large, source)
    seed_list = _seeds(seeds)
    if variants is not None and sets:
        raise ValueError("give variants or sets, not both")
    chosen = parse_sets(sets or []) if variants is None else check_variants(variants)
    names = _check_metrics(list(metrics) if metrics is not None else DEFAULT_SWEEP_METRICS)
    world, setup = prepare(world, source, models=models, allow_imports=allow_imports,
                           cassette=cassette, cassette_mode=cassette_mode,
                           max_concurrency=max_concurrency, for_sweep=True)
    variant_worlds = {name: with_values(world, values, variant=name)
                      for name, values in chosen.items()}
    for variant in variant_worlds.values():
        # Each variant's models checked (each factory loaded once) before any worker starts,
        # in the variant's own cassette mode: one that sets llm.mode may need an import.
        setup.resolver.for_mode(replay=variant.llm.mode == "replay").choices(
            variant.model_specs())
    worlds = {name: variant.model_dump(mode="json") for name, variant in variant_worlds.items()}
    plan = _Plan(worlds=worlds, settings=chosen, seeds=seed_list, version=teamsim_version(),
                 trust=(setup.resolver.allow_imports, setup.resolver.consented),
                 hashes={name: scenario_hash(v) for name, v in variant_worlds.items()})
    # No more workers than runs: a pool (or local cluster) of 10**11 cannot even be made.
    count = min(workers or min(2, os.cpu_count() or 1), max(1, len(worlds) * len(seed_list)))
    target = None if out is None else Path(out)
    with contextlib.ExitStack() as stack:
        if executor is None and backend != "process":
            executor = stack.enter_context(remote_executor(backend, address, count))
        folder, kept = _open_folder(target, plan, force=force, resume=resume)
        try:
            rows = _run(folder, plan, kept, executor, count, progress,
                        kept_at=None if target is None else target / "sweep.csv")
            summary, comparisons = _summarize(rows, list(worlds), names)
            if target is not None:
                (folder / "summary.json").write_text(json_text(_summary_document(
                    world, source, chosen, seed_list, summary, comparisons)), encoding="utf-8")
        except OSError as exc:
            raise TeamsimError(f"{target or folder}: cannot write the sweep: "
                               f"{exc.strerror or exc}") from None
        finally:
            if target is None:
                shutil.rmtree(folder, ignore_errors=True)
    return SweepResult(variants=chosen, seeds=seed_list, metrics=names, summary=summary,
                       comparisons=comparisons, runs=len(rows), rows=rows,
                       csv_path=None if target is None else target / "sweep.csv",
                       resumed=len(kept))


def _seeds(seeds: Iterable[int] | str) -> tuple[int, ...]:
    if isinstance(seeds, str):
        return parse_seeds(seeds)
    seed_list = tuple(seeds)
    if not seed_list:
        raise ValidationError("seeds: give at least one seed")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seed_list):
        raise ValidationError("seeds: give whole numbers, like range(20)")
    if len(set(seed_list)) != len(seed_list):
        raise ValidationError("seeds: a seed is given twice")
    return seed_list


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """Every job of a sweep: each variant's scenario (JSON data) and settings, the seeds."""

    worlds: dict[str, dict[str, Any]]
    settings: dict[str, dict[str, Any]]
    seeds: tuple[int, ...]
    version: str
    trust: tuple[bool, tuple[str, ...]]
    hashes: dict[str, str]

    @property
    def total(self) -> int:
        return len(self.worlds) * len(self.seeds)

    def jobs(self, skip: set[tuple[str, int]]) -> Iterator[Job]:
        hashes = self.hashes
        for name, data in self.worlds.items():
            for seed in self.seeds:
                if (name, seed) not in skip:
                    yield Job(variant=name, seed=seed, world=data, settings=self.settings[name],
                              scenario_hash=hashes[name], version=self.version,
                              trust=self.trust)


def _open_folder(
    target: Path | None, plan: _Plan, *, force: bool, resume: bool,
) -> tuple[Path, list[SweepRow]]:
    """The folder the rows go to, with ``sweep.csv`` holding the header and the rows kept
    (``resume``): a new folder at ``target`` (put in place at once, replacing an earlier
    sweep with ``force``), the earlier sweep at ``target`` (``resume``), or a temporary one."""
    if target is None:
        folder = Path(tempfile.mkdtemp(prefix="teamsim-sweep-"))
        (folder / "sweep.csv").write_text(header_line(), encoding="utf-8")
        return folder, []
    if resume and target.is_dir() and any(target.iterdir()):
        _staging.check_target(target, SWEEP_FOLDER, force=True)
        kept = _resumable(target / "sweep.csv", plan)
        _rewrite(target, kept)
        with contextlib.suppress(FileNotFoundError):
            (target / "summary.json").unlink()
        return target, kept
    _staging.check_target(target, SWEEP_FOLDER, force=force)
    staging = _staging.make_staging(target, SWEEP_FOLDER)
    try:
        (staging / "sweep.csv").write_text(header_line(), encoding="utf-8")
        _staging.put_in_place(staging, target, SWEEP_FOLDER, force=force)
    except OSError as exc:
        raise TeamsimError(f"{target}: cannot create the sweep folder: "
                           f"{exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target, []


def _resumable(path: Path, plan: _Plan) -> list[SweepRow]:
    """The finished rows of an earlier sweep that this one keeps.

    Raises:
        ValidationError: a row is of another teamsim version, another scenario (or variant
            settings), or a variant or seed this sweep does not have.
    """
    hashes = plan.hashes
    kept: dict[tuple[str, int], SweepRow] = {}
    for row in read_rows(path):
        where = f"--resume: {path}: the row of variant {row.variant!r}, seed {row.seed}"
        if row.teamsim_version != plan.version:
            raise ValidationError(
                f"{where} was made by teamsim {row.teamsim_version}, this is "
                f"{plan.version}; finish it with that version, or start over with --force")
        if row.variant not in hashes or row.seed not in plan.seeds:
            raise ValidationError(
                f"{where} is not in this sweep; resume with the same --seeds and --set "
                "(variants=), or start over with --force")
        if row.scenario_hash != hashes[row.variant]:
            raise ValidationError(
                f"{where} was made from another scenario (the file or the variant's settings "
                "changed since); resume with the same scenario, or start over with --force")
        if row.ok:
            kept[(row.variant, row.seed)] = row
    return list(kept.values())


def _rewrite(folder: Path, rows: Iterable[SweepRow]) -> None:
    """Replace ``sweep.csv`` with ``rows`` in one rename."""
    part = folder / "sweep.csv.sorting"
    with part.open("w", encoding="utf-8", newline="") as stream:
        stream.write(header_line())
        for row in rows:
            stream.write(format_row(row))
    os.replace(part, folder / "sweep.csv")


def _run(
    folder: Path, plan: _Plan, kept: list[SweepRow], executor: Executor | None, workers: int,
    progress: Callable[[int, int], None] | None, *, kept_at: Path | None,
) -> tuple[SweepRow, ...]:
    """Run the jobs not kept, appending each row as it finishes; every row, sorted."""
    rows = list(kept)
    if progress is not None:
        progress(len(rows), plan.total)
    jobs = plan.jobs({(row.variant, row.seed) for row in kept})
    finished: Generator[SweepRow, None, None] = (
        execute_local(jobs, workers) if executor is None
        else dispatch(executor, jobs, capacity(executor)))
    try:
        with (folder / "sweep.csv").open("a", encoding="utf-8", newline="") as stream:
            for row in finished:
                stream.write(format_row(row))
                stream.flush()
                rows.append(row)
                if progress is not None:
                    progress(len(rows), plan.total)
    except KeyboardInterrupt:
        raise SweepInterrupted(len(rows), plan.total, kept_at) from None
    finally:
        finished.close()  # ends the workers if the loop stopped early
    rows.sort(key=sort_key({name: i for i, name in enumerate(plan.worlds)}))
    _rewrite(folder, rows)
    return tuple(rows)


def _summarize(
    rows: Iterable[SweepRow], variants: SequenceOf[str], metrics: SequenceOf[str],
) -> tuple[dict[str, dict[str, Estimate]], tuple[Comparison, ...]]:
    values: dict[str, dict[str, dict[int, float]]] = {
        v: {m: {} for m in metrics} for v in variants}
    for row in rows:
        if row.ok:
            for metric in metrics:
                values[row.variant][metric][row.seed] = float(row.metrics[metric])
    return estimate(values, variants, metrics)


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C (``KeyboardInterrupt``); its finished rows were kept.

    Attributes:
        finished: runs that had finished (with those kept by ``resume``).
        total: runs the sweep had.
        csv_path: where the finished rows are (``None`` when the sweep had no ``out``).
    """

    def __init__(self, finished: int, total: int, csv_path: Path | None = None) -> None:
        """Record how far the sweep got."""
        super().__init__(finished, total)
        self.finished = finished
        self.total = total
        self.csv_path = csv_path

    def __str__(self) -> str:
        """``interrupted: N of M runs finished``, and how to finish the sweep."""
        done = f"interrupted: {self.finished} of {self.total} runs finished"
        if self.csv_path is None:
            return done
        return (f"{done}; their rows are kept in {self.csv_path}: run the same command with "
                "--resume (resume=True) to run only the rest")


def _estimate_document(estimate: Estimate) -> dict[str, Any]:
    return {"mean": _finite(estimate.mean), "low": _finite(estimate.low),
            "high": _finite(estimate.high), "n": estimate.n}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _summary_document(
    world: Scenario, source: str | None, variants: Mapping[str, Mapping[str, Any]],
    seeds: tuple[int, ...], summary: Mapping[str, Mapping[str, Estimate]],
    comparisons: Iterable[Comparison],
) -> dict[str, Any]:
    return {
        "scenario": world.name, "source": source, "seeds": list(seeds),
        "teamsim_version": teamsim_version(), "confidence": CONFIDENCE,
        "variants": [{"name": name, "values": dict(values),
                      "metrics": {m: _estimate_document(e) for m, e in summary[name].items()}}
                     for name, values in variants.items()],
        "comparisons": [{"variant": c.variant, "baseline": c.baseline, "metric": c.metric,
                         "paired": _estimate_document(c.paired),
                         "unpaired": _estimate_document(c.unpaired)} for c in comparisons],
    }
