"""Test databases on both backends: a SQLite file, or a PostgreSQL schema of its own on the
server named by ``TEAMSIM_TEST_POSTGRES_URL`` (tests skip, saying so, where none answers).
The fixtures are in ``conftest.py``; the test modules import :class:`Databases` for types."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get(
    "TEAMSIM_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
_schemas = itertools.count()


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as a plain libpq URL for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
"""Every store test runs on both backends."""


def postgres_admin() -> psycopg.Connection:
    """A connection to the test server, or the test skipped saying where none answered."""
    try:
        return psycopg.connect(_libpq(POSTGRES_URL), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as err:
        pytest.skip(
            f"PostgreSQL does not answer at {make_url(POSTGRES_URL).render_as_string()} "
            f"({str(err).strip().splitlines()[0]}); set TEAMSIM_TEST_POSTGRES_URL to run these"
        )


def new_schema(admin: psycopg.Connection, prefix: str) -> tuple[str, str]:
    """A new empty schema (its name) and the URL of the test database with it first on the
    search path."""
    schema = f"{prefix}_{os.getpid()}_{next(_schemas)}"
    admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return schema, url.render_as_string(hide_password=False)


@dataclass(slots=True)
class Databases:
    """Empty databases of one backend for a module's tests (see :func:`databases`).

    Attributes:
        backend: ``sqlite`` or ``postgresql``.
        admin: the connection that makes and drops the schemas (PostgreSQL).
        made: the schemas made so far, dropped when the module ends.
    """

    backend: str
    admin: psycopg.Connection | None = None
    made: list[str] = field(default_factory=list)

    def new(self, folder: Path) -> str:
        """The URL of a new empty database: a file in ``folder``, or a schema of its own."""
        if self.admin is None:
            return f"sqlite:///{folder / f'runs{next(_schemas)}.db'}"
        schema, url = new_schema(self.admin, "teamsim_runs")
        self.made.append(schema)
        return url
