"""The store conformance backends: every database teamsim runs on, and the in-memory fake.

``backend`` is parametrised over SQLite on a file, SQLite in memory, PostgreSQL (skipped, with
the reason shown, when no server answers at ``$TEAMSIM_TEST_POSTGRES_URL``) and
:class:`teamsim.graph.InMemoryPipelineStore`. A test asks ``backend.work()`` for a unit of
work (on the fake: the fake itself, which keeps every write at once) and may use only the
operations of :class:`teamsim.graph.PipelineStore` plus the set-up and reads the fake offers.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from teamsim.graph import InMemoryPipelineStore
from teamsim.store import Store

_POSTGRES_URL = os.environ.get(
    "TEAMSIM_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
_schemas = itertools.count()


class Backend:
    """One backend of the conformance suite: ``work()`` opens a unit of work on it."""

    def __init__(self, name: str, store: Store | None) -> None:
        self.name = name
        self.store = store
        self._memory = InMemoryPipelineStore() if store is None else None

    @contextmanager
    def work(self) -> Iterator[Any]:
        """A unit of work, committed when the block ends (the fake: itself)."""
        if self.store is None:
            yield self._memory
            return
        with self.store.unit_of_work() as uow:
            yield uow


@contextmanager
def _postgres() -> Iterator[str]:
    libpq = make_url(_POSTGRES_URL).set(drivername="postgresql").render_as_string(
        hide_password=False)
    try:
        admin = psycopg.connect(libpq, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as err:
        pytest.skip(
            f"PostgreSQL does not answer at {make_url(_POSTGRES_URL).render_as_string()} "
            f"({str(err).strip().splitlines()[0]}); set TEAMSIM_TEST_POSTGRES_URL to run these"
        )
    schema = f"teamsim_conformance_{os.getpid()}_{next(_schemas)}"
    with admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.execute(f'CREATE SCHEMA "{schema}"')
        url = make_url(_POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=[
    "sqlite-file", "sqlite-memory", pytest.param("postgresql", marks=pytest.mark.postgresql),
    "memory",
])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each backend in turn, empty."""
    name: str = request.param
    if name == "memory":
        yield Backend(name, None)
        return
    if name == "postgresql":
        with _postgres() as url, Store.open(url) as store:
            yield Backend(name, store)
        return
    url = f"sqlite:///{tmp_path / 'teamsim.db'}" if name == "sqlite-file" else "sqlite://"
    with Store.open(url) as store:
        yield Backend(name, store)
