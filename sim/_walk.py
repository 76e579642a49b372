"""Walking a sequence's step tree: what comes after a step, wherever it sits."""

from __future__ import annotations

from typing import Any

from teamsim.model import BranchStep, Sequence

__all__ = ["first_of", "next_after", "step_ids"]


def step_ids(seq: Sequence) -> set[str]:
    """The ids of every step in ``seq``."""
    return {s.id for s in seq.iter_steps()}


def first_of(steps: list[Any]) -> str | None:
    """The id of the first step of a list, or ``None`` when it is empty."""
    return steps[0].id if steps else None


def next_after(seq: Sequence, step_id: str) -> str | None:
    """The step a person moves on to after ``step_id``: its next sibling, or, at the end of a
    branch arm, the step after that branch (recursively); ``None`` at the end of the sequence.
    """
    found = _next(seq.steps, step_id)
    return found[1] if found is not None else None


def _next(steps: list[Any], step_id: str) -> tuple[bool, str | None] | None:
    """Search ``steps`` for ``step_id``: ``None`` if absent, else ``(True, next id or None)``."""
    for index, step in enumerate(steps):
        if step.id == step_id:
            return True, steps[index + 1].id if index + 1 < len(steps) else None
        if isinstance(step, BranchStep):
            for arm in (step.then_steps, step.else_steps):
                found = _next(arm, step_id)
                if found is not None:
                    if found[1] is not None:
                        return found
                    return True, steps[index + 1].id if index + 1 < len(steps) else None
    return None
