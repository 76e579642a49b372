"""Sweeps: every variant x seed of a scenario, streamed to ``sweep.csv`` and summarised.

:func:`sweep` runs the jobs in worker processes (:mod:`teamsim.runner._pool`), writes one CSV
row per finished run, then reads the file back for the per-variant means with 95% confidence
intervals and, for each variant against the first, the paired difference over common seeds
(common random numbers) beside the unpaired (Welch) one (:mod:`teamsim.runner._stats`).
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Sequence as SequenceOf
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from teamsim.llm import ModelSpec
from teamsim.model import TeamsimError, ValidationError
from teamsim.runner import _staging
from teamsim.runner._folders import SWEEP_FOLDER, json_text, teamsim_version
from teamsim.runner._models import prepare
from teamsim.runner._pool import execute
from teamsim.runner._run import ScenarioInput, load
from teamsim.runner._stats import CONFIDENCE, Comparison, Estimate, summarize
from teamsim.runner._variants import parse_seeds, parse_sets
from teamsim.scenario import EXPECTABLE, Scenario, check_size, with_values

__all__ = ["DEFAULT_SWEEP_METRICS", "SweepInterrupted", "SweepResult", "sweep"]

DEFAULT_SWEEP_METRICS: tuple[str, ...] = (
    "sent", "replies", "reply_rate", "approvals_human", "human_minutes",
    "approval_latency_hours_p50",
)
"""The metrics a sweep reports when none are chosen."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    """What a sweep found.

    Attributes:
        variants: each variant's name and the values it sets, the baseline first.
        seeds: the seeds every variant ran with.
        metrics: the metrics summarised.
        summary: ``summary[variant][metric]``: the mean and its interval.
        comparisons: every non-baseline variant against the baseline, per metric.
        runs: how many runs finished.
        csv_path: the streamed results (``sweep.csv``), or ``None`` when ``out`` was not given.
    """

    variants: dict[str, dict[str, Any]]
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]
    summary: dict[str, dict[str, Estimate]]
    comparisons: tuple[Comparison, ...]
    runs: int
    csv_path: Path | None

    def comparison(self, variant: str, metric: str) -> Comparison:
        """The comparison of ``variant`` with the baseline on ``metric``."""
        for item in self.comparisons:
            if item.variant == variant and item.metric == metric:
                return item
        raise KeyError(f"no comparison of {variant!r} on {metric!r}")


def _check_metrics(metrics: SequenceOf[str]) -> tuple[str, ...]:
    unknown = [m for m in metrics if m not in EXPECTABLE]
    if unknown:
        raise ValidationError(f"--metrics: no metric {', '.join(map(repr, unknown))}; use "
                              f"some of {', '.join(sorted(EXPECTABLE))}")
    if not metrics:
        raise ValidationError("--metrics: choose at least one metric")
    return tuple(dict.fromkeys(metrics))


def sweep(
    scenario: ScenarioInput,
    seeds: Iterable[int] | str,
    *,
    variants: Mapping[str, Mapping[str, Any]] | None = None,
    sets: SequenceOf[str] | None = None,
    metrics: SequenceOf[str] | None = None,
    workers: int | None = None,
    out: str | Path | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    allow_large: bool = False,
    models: Mapping[str, ModelSpec | str | None] | None = None,
    allow_imports: bool = False,
    cassette: str | Path | None = None,
    cassette_mode: str | None = None,
    max_concurrency: int | None = None,
) -> SweepResult:
    """Run every variant x seed in worker processes and summarise the chosen metrics.

    Rows are streamed to ``sweep.csv`` as runs finish (never all held in memory), then the
    file is read back for the estimates. With the same seed, variants share their random
    numbers (teamsim's draws are keyed by identity), so the paired difference is usually much
    tighter than the unpaired one.

    Args:
        scenario: a validated world or the path of a scenario file.
        seeds: the seeds, or their text (``0:20`` or ``1,5,9``).
        variants: variant name -> {dotted path: value}; the first is the baseline.
        sets: ``path=v1,v2`` texts, as ``--set`` takes them (their cartesian product);
            give ``variants`` or ``sets``, not both. Neither: the scenario as it is.
        metrics: the metrics to summarise (default :data:`DEFAULT_SWEEP_METRICS`).
        workers: worker processes (default ``min(2, cpu count)``); 1 runs in this process.
        out: write ``sweep.csv`` and ``summary.json`` into this directory (put in place only
            when the sweep is complete); ``None`` keeps nothing on disk. A folder that is
            there already is replaced only if it is an earlier teamsim sweep folder and
            ``force``.
        force: replace an earlier sweep folder at ``out``.
        progress: called with (finished runs, total runs) as each run finishes.
        allow_large: run a world of more than 100,000 contacts (refused otherwise).
        models: chat models by teammate, as specs (a :class:`~teamsim.llm.ModelSpec` or its
            text, ``package.module:factory,key=value``) that the worker processes import; a
            chat model object cannot be sent to them.
        allow_imports: import the model factories the scenario file names.
        cassette: recorded model replies (default: the scenario's ``llm.cassette``); a sweep
            reads it and never writes it.
        cassette_mode: ``record``, ``replay`` or ``auto`` (default: the scenario's).
        max_concurrency: model calls made at once in each run (default: the scenario's).

    Raises:
        ScenarioError: the scenario or a variant of it is invalid.
        ValidationError: bad seeds, sets or metrics.
        TeamsimError: ``out`` cannot be used or written.
        SweepInterrupted: Ctrl-C (a ``KeyboardInterrupt``); the workers are stopped and
            nothing is kept.
    """
    world, source = load(scenario)
    check_size(world, allow_large, source)
    if isinstance(seeds, str):
        seed_list = parse_seeds(seeds)
    else:
        seed_list = tuple(seeds)
        if not seed_list:
            raise ValidationError("seeds: give at least one seed")
    if variants is not None and sets:
        raise ValueError("give variants or sets, not both")
    chosen = (dict(parse_sets(sets or [])) if variants is None
              else {name: dict(values) for name, values in variants.items()})
    if not chosen:
        raise ValidationError("variants: give at least one variant")
    names = _check_metrics(list(metrics) if metrics is not None else DEFAULT_SWEEP_METRICS)
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
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
    target = None if out is None else Path(out)
    if target is not None:
        _staging.check_target(target, SWEEP_FOLDER, force=force)
        folder = _staging.make_staging(target, SWEEP_FOLDER)
    else:
        folder = Path(tempfile.mkdtemp(prefix="teamsim-sweep-"))
    leftover: Path | None = folder
    jobs = [(name, seed) for name in worlds for seed in seed_list]
    done = 0
    try:
        csv_path = folder / "sweep.csv"
        count = workers or min(2, os.cpu_count() or 1)
        with csv_path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=["variant", "seed", "digest", *names])
            writer.writeheader()
            stream.flush()
            for row in execute(worlds, jobs, names, count,
                               (setup.resolver.allow_imports, setup.resolver.consented)):
                writer.writerow(row)
                stream.flush()
                done += 1
                if progress is not None:
                    progress(done, len(jobs))
        summary, comparisons, rows = summarize(csv_path, list(worlds), names)
        if target is not None:
            (folder / "summary.json").write_text(json_text(_summary_document(
                world, source, chosen, seed_list, summary, comparisons)), encoding="utf-8")
            _staging.put_in_place(folder, target, SWEEP_FOLDER, force=force)
            leftover = None
    except KeyboardInterrupt:
        raise SweepInterrupted(done, len(jobs)) from None
    except OSError as exc:
        where = target if target is not None else folder
        raise TeamsimError(f"{where}: cannot write the sweep: {exc.strerror or exc}") from None
    finally:
        if leftover is not None:
            shutil.rmtree(leftover, ignore_errors=True)
    return SweepResult(variants=chosen, seeds=seed_list, metrics=names, summary=summary,
                       comparisons=comparisons, runs=rows,
                       csv_path=None if target is None else target / "sweep.csv")


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C (``KeyboardInterrupt``); nothing of it was kept on disk.

    Attributes:
        finished: runs that had finished.
        total: runs the sweep had.
    """

    def __init__(self, finished: int, total: int) -> None:
        """Record how far the sweep got."""
        super().__init__(finished, total)
        self.finished = finished
        self.total = total

    def __str__(self) -> str:
        """``interrupted: N of M runs finished``."""
        return f"interrupted: {self.finished} of {self.total} runs finished"



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
