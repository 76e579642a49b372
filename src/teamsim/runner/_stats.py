"""A sweep's statistics: means with Student t intervals, paired and Welch differences."""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Mapping
from collections.abc import Sequence as SequenceOf
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CONFIDENCE", "Comparison", "Estimate", "estimate", "mean_interval", "summarize",
           "welch_interval"]

CONFIDENCE = 0.95
"""The confidence level of every interval."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """A mean with its 95% confidence interval (Student t); the interval is NaN below 2 runs.

    Attributes:
        mean: the mean (of a metric, or of a difference).
        low: the interval's lower end.
        high: the interval's upper end.
        n: how many runs (or seed pairs) it rests on.
    """

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width."""
        return (self.high - self.low) / 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """A variant against the baseline on one metric.

    Attributes:
        variant: the variant.
        baseline: the first variant.
        metric: the metric.
        paired: the mean of per-seed differences (variant - baseline) over common seeds.
        unpaired: the difference of means with Welch's interval, ignoring the pairing.
    """

    variant: str
    baseline: str
    metric: str
    paired: Estimate
    unpaired: Estimate


def _t(df: float) -> float:
    # Student t's quantile (scipy.stats.t.ppf calls this same function). Imported here:
    # a sweep's workers import this package and never need it, and scipy.special takes
    # about 0.2 s to import (scipy.stats 0.5 s) at the end of the sweep, when the summary
    # is made.
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.5 + CONFIDENCE / 2))


def mean_interval(values: SequenceOf[float]) -> Estimate:
    """The mean of ``values`` with its Student t interval."""
    n = len(values)
    if n == 0:
        return Estimate(mean=math.nan, low=math.nan, high=math.nan, n=0)
    mean = statistics.fmean(values)
    if n < 2:
        return Estimate(mean=mean, low=math.nan, high=math.nan, n=n)
    half = _t(n - 1) * statistics.stdev(values) / math.sqrt(n)
    return Estimate(mean=mean, low=mean - half, high=mean + half, n=n)


def welch_interval(a: SequenceOf[float], b: SequenceOf[float]) -> Estimate:
    """mean(a) - mean(b) with Welch's interval (unequal variances, no pairing)."""
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        diff = statistics.fmean(a) - statistics.fmean(b) if na and nb else math.nan
        return Estimate(mean=diff, low=math.nan, high=math.nan, n=min(na, nb))
    diff = statistics.fmean(a) - statistics.fmean(b)
    va, vb = statistics.variance(a) / na, statistics.variance(b) / nb
    se = math.sqrt(va + vb)
    if se == 0:
        return Estimate(mean=diff, low=diff, high=diff, n=min(na, nb))
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    half = _t(df) * se
    return Estimate(mean=diff, low=diff - half, high=diff + half, n=min(na, nb))


def summarize(
    csv_path: Path, variants: SequenceOf[str], metrics: SequenceOf[str]
) -> tuple[dict[str, dict[str, Estimate]], tuple[Comparison, ...], int]:
    """Read a sweep's CSV back: estimates per variant, comparisons with the first, and the
    number of rows; ``failed`` rows (no metrics) are counted but not summarised."""
    values: dict[str, dict[str, dict[int, float]]] = {
        v: {m: {} for m in metrics} for v in variants}
    rows = 0
    with csv_path.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            rows += 1
            if row.get("status", "ok") != "ok":
                continue
            seed = int(row["seed"])
            for metric in metrics:
                values[row["variant"]][metric][seed] = float(row[metric])
    summary, comparisons = estimate(values, variants, metrics)
    return summary, comparisons, rows


def estimate(
    values: Mapping[str, Mapping[str, Mapping[int, float]]], variants: SequenceOf[str],
    metrics: SequenceOf[str],
) -> tuple[dict[str, dict[str, Estimate]], tuple[Comparison, ...]]:
    """Estimates per variant and comparisons with the first, from
    ``values[variant][metric][seed]`` (a seed missing for a variant, a failed run, is left out;
    the paired difference uses the seeds both variants have)."""
    summary = {v: {m: mean_interval(list(values[v][m].values())) for m in metrics}
               for v in variants}
    comparisons = []
    baseline = variants[0]
    for variant in variants[1:]:
        for metric in metrics:
            ours, base = values[variant][metric], values[baseline][metric]
            common = sorted(set(ours) & set(base))
            comparisons.append(Comparison(
                variant=variant, baseline=baseline, metric=metric,
                paired=mean_interval([ours[s] - base[s] for s in common]),
                unpaired=welch_interval(list(ours.values()), list(base.values()))))
    return summary, tuple(comparisons)
