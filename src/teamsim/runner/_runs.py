"""The runs a database holds (``teamsim run --db``): list them, read one, delete one.

Every function opens the database, does its work and closes it. Listing and reading open it
read-only (nothing is created, migrated or written); :func:`delete_run` writes.
"""

from __future__ import annotations

from teamsim.model import NotFoundError, TeamsimError
from teamsim.store import RunRecord, Store

__all__ = ["delete_run", "open_run", "pick_run", "run_metrics", "runs"]


def _open(db: str) -> Store:
    return Store.open(db, read_only=True)


def runs(db: str, *, scenario: str | None = None) -> list[RunRecord]:
    """The runs recorded in ``db`` (or only those of ``scenario``), oldest first.

    ``teamsim.runs("postgresql+psycopg://me@host/experiments")`` gives one
    :class:`~teamsim.store.RunRecord` per run: id, scenario and its hash, seed, teamsim
    version, wall-clock start and end, status, digest, simulated days and span, event count.
    A database made by a teamsim older than the runs table holds none.

    Raises:
        StoreError: the database cannot be opened (or is not a teamsim database).
    """
    with _open(db) as store:
        if not store.holds_runs:
            return []
        with store.unit_of_work() as uow:
            return uow.runs.list(scenario=scenario)


def run_metrics(db: str, run_id: int) -> dict[str, float | None]:
    """Run ``run_id``'s metrics in ``db``, by name (the ``run_metrics`` table).

    Raises:
        NotFoundError: no such run.
    """
    with _open(db) as store, store.unit_of_work() as uow:
        _check_runs(store)
        return uow.runs.metrics(run_id)


def _check_runs(store: Store) -> None:
    if not store.holds_runs:
        raise NotFoundError(
            f"{store.url}: made by an older teamsim (schema version {store.schema_version}), "
            "it holds no runs yet; a `teamsim run SCENARIO --db URL` into it upgrades it and "
            "records the run")


def pick_run(store: Store, run_id: int | None) -> RunRecord:
    """The run ``run_id`` of ``store`` (or its only run, when ``None``), readable.

    Raises:
        NotFoundError: no such run, no run at all, or several runs and no ``run_id``.
        TeamsimError: the run did not finish (its rows are incomplete).
    """
    _check_runs(store)
    with store.unit_of_work() as uow:
        if run_id is not None:
            found = uow.runs.get(run_id)
        else:
            every = uow.runs.list()
            if not every:
                raise NotFoundError(f"{store.url}: holds no runs; record one with "
                                    "`teamsim run SCENARIO --db URL`")
            if len(every) > 1:
                raise NotFoundError(
                    f"{store.url}: holds {len(every)} runs; pick one with --run ID "
                    "(`teamsim runs list --db URL` shows them)")
            found = every[0]
    if not found.readable:
        raise TeamsimError(
            f"{store.url}: run {found.id} is {found.status.value}, so its rows are incomplete; "
            "read a finished run (`teamsim runs list --db URL` shows them)")
    return found


def open_run(db: str, run_id: int | None = None) -> tuple[RunRecord, Store]:
    """Run ``run_id`` of ``db`` (its only run, when ``None``) and an in-memory store holding
    its rows: the store reads exactly like the run folder's ``store.db`` of that run
    (``uow.attention.list("open")``, :func:`teamsim.reports.diagnose.diagnose`...). Close
    the store when done.

    Raises:
        NotFoundError: no such run, no run at all, or several runs and no ``run_id``.
        TeamsimError: the run did not finish, or ``db`` cannot be opened.
    """
    with _open(db) as archive:
        record = pick_run(archive, run_id)
        store = Store.open("sqlite://")
        try:
            with archive.unit_of_work() as uow, store.unit_of_work() as into:
                uow.runs.restore(record.id, into)
        except BaseException:
            store.close()
            raise
    return record, store


def delete_run(db: str, run_id: int) -> RunRecord:
    """Delete run ``run_id`` from ``db``: its ``runs`` row, its metrics and its rows, and
    nothing else (sequences and contacts of ``teamsim seq``, other runs, tables teamsim did
    not make are left alone). Returns what was deleted.

    Raises:
        NotFoundError: no such run.
        StoreError: the database cannot be opened (a missing SQLite file is not created).
    """
    with _open(db) as existing:  # a missing file is an error here, not a new database
        _check_runs(existing)
    with Store.open(db) as store, store.unit_of_work() as uow:
        record = uow.runs.get(run_id)
        uow.runs.delete(run_id)
    return record
