"""Sweep variants and seeds as the command line writes them: ``--seeds`` and ``--set``."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence as SequenceOf
from typing import Any

import yaml

from teamsim.model import ValidationError

__all__ = ["MAX_SWEEP_RUNS", "parse_seeds", "parse_sets"]


MAX_SWEEP_RUNS = 100_000
"""The most runs (seeds x variants) one sweep takes; more is refused before anything runs."""


def _too_many(what: str, count: int) -> ValidationError:
    return ValidationError(
        f"{what}: {count:,} runs; a sweep takes at most {MAX_SWEEP_RUNS:,} (seeds x variants), "
        "so split it into several sweeps")


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds written as ``A:B`` (half-open, ``0:100`` is 0..99) or ``1,5,9``.

    A range is measured before it is expanded: more than :data:`MAX_SWEEP_RUNS` seeds are
    refused without building them.

    Raises:
        ValidationError: the text is neither, or holds more than :data:`MAX_SWEEP_RUNS` seeds.
    """
    text = text.strip()
    shown = repr(text) if len(text) <= 40 else repr(text[:40]) + "..."
    malformed = ValidationError(
        f"--seeds {shown}: write a range A:B (0:100 is seeds 0 to 99) or a list 1,5,9")
    if ":" in text:
        first, _, last = text.partition(":")
        try:
            low, high = int(first), int(last)
        except ValueError:
            raise malformed from None
        if high - low > MAX_SWEEP_RUNS:
            raise _too_many(f"--seeds {shown}", high - low)
        seeds = tuple(range(low, high))
    else:
        parts = [part for part in text.split(",") if part.strip()]
        if len(parts) > MAX_SWEEP_RUNS:
            raise _too_many(f"--seeds {shown}", len(parts))
        try:
            seeds = tuple(int(part) for part in parts)
        except ValueError:
            raise malformed from None
    if not seeds:
        raise ValidationError(f"--seeds {shown}: no seeds in it; 0:20 runs seeds 0 to 19")
    if len(set(seeds)) != len(seeds):
        raise ValidationError(f"--seeds {shown}: a seed is written twice")
    return seeds


def parse_sets(items: SequenceOf[str]) -> dict[str, dict[str, Any]]:
    """The variants of ``--set path=v1,v2`` options: the cartesian product of their values.

    Values are read as YAML scalars (``0.8``, ``true``, ``email``). A variant is named by its
    settings, like ``approver.approve=0.8 sequences.0.steps.2.days=3``. No options: one
    variant, ``base``, that changes nothing. The number of variants is computed before the
    product is built: more than :data:`MAX_SWEEP_RUNS` are refused.

    Raises:
        ValidationError: an option is not ``path=value[,value...]``, or the options make more
            than :data:`MAX_SWEEP_RUNS` variants.
    """
    split: list[tuple[str, str, list[str]]] = []
    for item in items:
        path, sep, values = item.partition("=")
        path = path.strip()
        texts = [v.strip() for v in values.split(",")]
        if not sep or not path or not all(texts):
            raise ValidationError(
                f"--set {item[:80]!r}: write it as path=value[,value...], like "
                "approver.approve=0.8,0.9")
        split.append((item, path, texts))
    count = math.prod(len(texts) for _, _, texts in split)
    if count > MAX_SWEEP_RUNS:
        raise _too_many("--set", count)
    axes: list[list[tuple[str, str, Any]]] = []
    for _, path, texts in split:
        axis = []
        for text in texts:
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError:
                value = text
            axis.append((path, text, value))
        axes.append(axis)
    if not axes:
        return {"base": {}}
    variants: dict[str, dict[str, Any]] = {}
    for combo in itertools.product(*axes):
        name = " ".join(f"{path}={text}" for path, text, _ in combo)
        variants[name] = {path: value for path, _, value in combo}
    return variants
