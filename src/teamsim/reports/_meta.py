"""What a run recorded about itself, read off its store: its meta and the end of its log."""

from __future__ import annotations

from datetime import datetime

from teamsim.model import EventKind, RunMeta
from teamsim.store import UnitOfWork

__all__ = ["human_timezone", "run_ended", "run_meta"]


def run_meta(uow: UnitOfWork) -> RunMeta | None:
    """The run's :class:`~teamsim.model.RunMeta`, or ``None`` when the store records no run
    (a workspace's database). Every report reads the run's meta through this one function.

    Reports read what they can: a key the store lacks reads as empty (``world`` and ``start``
    ``""``, ``seed`` and ``tick_minutes`` 0, ``human_timezone`` ``"UTC"``), so a store with
    only part of a run's meta still answers what does not need the rest.

    Raises:
        ValueError: ``run.seed`` or ``run.tick_minutes`` is not a whole number.
    """
    stored = uow.meta.run_values()
    if all(value is None for value in stored.values()):
        return None
    return RunMeta(
        world=stored["world"] or "",
        seed=_whole(stored["seed"], "run.seed"),
        start=stored["start"] or "",
        tick_minutes=_whole(stored["tick_minutes"], "run.tick_minutes"),
        human_timezone=stored["human_timezone"] or "UTC",
    )


def _whole(stored: str | None, key: str) -> int:
    if stored is None:
        return 0
    try:
        return int(stored)
    except ValueError:
        raise ValueError(f"meta {key} is {stored!r}, not a whole number") from None


def run_ended(uow: UnitOfWork) -> datetime | None:
    """When the run recorded in the store ended (its ``run.ended`` event), if it did."""
    for event in uow.events.iter(type=EventKind.RUN_ENDED):
        return event.at
    return None


def human_timezone(uow: UnitOfWork) -> str:
    """The human's time zone as the run recorded it (``UTC`` if it did not)."""
    meta = run_meta(uow)
    return "UTC" if meta is None else meta.human_timezone
