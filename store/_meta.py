"""The meta table (``uow.meta``): the schema version the store keeps, and what a run records
about itself (:class:`~teamsim.model.RunMeta`).

ORM: a handful of key/value rows, read and written one at a time.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.orm import Session

from teamsim.model import RunMeta, StoreError
from teamsim.store._models import MetaRow

__all__ = ["SCHEMA_KEY", "MetaRepository"]

SCHEMA_KEY: Final = "schema_version"
"""The meta key under which the store records its schema version."""

_RUN_FIELDS: Final = ("world", "seed", "start", "tick_minutes", "human_timezone")
"""The :class:`~teamsim.model.RunMeta` fields, each stored under ``run.<field>``."""


class MetaRepository:
    """Key/value facts about the database and the run recorded in it (``uow.meta``)."""

    __slots__ = ("_session", "_where")

    def __init__(self, session: Session, *, where: str) -> None:
        """Read and write the meta table through ``session``; ``where`` names the database."""
        self._session = session
        self._where = where

    def get(self, key: str) -> str | None:
        """The value stored under ``key``, or ``None``."""
        row = self._session.get(MetaRow, key)
        return None if row is None else row.value

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` (not ``schema_version``, which the store owns)."""
        if key == SCHEMA_KEY:
            raise ValueError("schema_version is managed by the store and cannot be set")
        row = self._session.get(MetaRow, key)
        if row is None:
            self._session.add(MetaRow(key=key, value=value))
        else:
            row.value = value

    def save_run(self, run: RunMeta) -> None:
        """Record what the run is (under the keys ``run.world``, ``run.seed``, ``run.start``,
        ``run.tick_minutes`` and ``run.human_timezone``)."""
        for field in _RUN_FIELDS:
            self.set(f"run.{field}", str(getattr(run, field)))

    def run_values(self) -> dict[str, str | None]:
        """The run's meta as stored, by :class:`~teamsim.model.RunMeta` field (``None``: not
        stored), for readers that take what there is (reports); :meth:`run` wants it all."""
        return {field: self.get(f"run.{field}") for field in _RUN_FIELDS}

    def run(self) -> RunMeta | None:
        """What :meth:`save_run` recorded, or ``None`` when no run was recorded here.

        Raises:
            StoreError: only some of the run's keys are stored, or a number is not one.
        """
        stored = self.run_values()
        world, seed, start, tick, timezone = stored.values()
        if all(value is None for value in stored.values()):
            return None
        if world is None or seed is None or start is None or tick is None or timezone is None:
            missing = [f"run.{field}" for field, value in stored.items() if value is None]
            raise StoreError(
                f"{self._where}: the run's meta is incomplete (no {', '.join(missing)}); "
                "it was not recorded by a teamsim run")
        try:
            return RunMeta(world=world, seed=int(seed), start=start, tick_minutes=int(tick),
                           human_timezone=timezone)
        except ValueError:
            raise StoreError(
                f"{self._where}: the run's meta holds seed {seed!r} and tick_minutes "
                f"{tick!r}; both must be whole numbers") from None
