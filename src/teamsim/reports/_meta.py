"""What a run recorded about itself, read off its store: its meta and the end of its log."""

from __future__ import annotations

from datetime import datetime

from teamsim.model import EventKind, RunMeta
from teamsim.store import UnitOfWork

__all__ = ["human_timezone", "run_ended", "run_meta"]

def run_meta(uow: UnitOfWork) -> RunMeta | None:
    """The run's :class:`~teamsim.model.RunMeta`, or ``None`` when the store records no run
    (a workspace's database). Every report reads the run's meta through this one function.

    Raises:
        StoreError: the store holds only part of a run's meta, or a number that is not one.
    """
    return uow.meta.run()


def run_ended(uow: UnitOfWork) -> datetime | None:
    """When the run recorded in the store ended (its ``run.ended`` event), if it did."""
    for event in uow.events.iter(type=EventKind.RUN_ENDED):
        return event.at
    return None


def human_timezone(uow: UnitOfWork) -> str:
    """The human's time zone as the run recorded it (``UTC`` if it did not)."""
    meta = run_meta(uow)
    return "UTC" if meta is None else meta.human_timezone
