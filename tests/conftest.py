"""Shared fixtures: every store test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from teamsim.store import Store

POSTGRES_URL = os.environ.get(
    "TEAMSIM_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
_schemas = itertools.count()


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as a plain libpq URL for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database, on each backend; PostgreSQL tests get a schema of their own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'teamsim.db'}"
        return
    try:
        admin = psycopg.connect(_libpq(POSTGRES_URL), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as err:
        pytest.skip(
            f"PostgreSQL does not answer at {make_url(POSTGRES_URL).render_as_string()} "
            f"({str(err).strip().splitlines()[0]}); set TEAMSIM_TEST_POSTGRES_URL to run these"
        )
    schema = f"teamsim_test_{os.getpid()}_{next(_schemas)}"
    with admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.execute(f'CREATE SCHEMA "{schema}"')
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open store on an empty database (both backends)."""
    with Store.open(store_url) as opened:
        yield opened


@pytest.fixture
def runner() -> CliRunner:
    """Typer's test runner; ``result.stdout`` and ``result.stderr`` stay apart."""
    return CliRunner()
