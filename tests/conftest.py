"""Shared fixtures (every store test runs on SQLite and on PostgreSQL) and Hypothesis profiles.

Hypothesis profiles, chosen by ``TEAMSIM_HYPOTHESIS_PROFILE`` (``dev`` when unset, ``ci`` when
Hypothesis detects a CI environment); pytest's ``--hypothesis-profile NAME`` overrides both:

- ``dev``: few examples, random, failures kept in ``.hypothesis/`` and replayed first;
- ``ci``: the numbers CI runs, derandomized (the same examples every run), no example database;
- ``soak``: 10,000 random worlds for the invariant property test (thousands of examples for the
  others), no deadline; run it now and then, see the README's test section.

Tests whose examples cost more than a world take their own numbers per profile from
:func:`tests.strategies.examples`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from teamsim.store import Store

POSTGRES_URL = os.environ.get(
    "TEAMSIM_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
_schemas = itertools.count()

PROFILE_VARIABLE = "TEAMSIM_HYPOTHESIS_PROFILE"
"""The environment variable that names the Hypothesis profile of a test run."""

# Every profile: a simulated world takes 50-500 ms, so no per-example deadline (tests that
# bound time say so themselves), and the slow-generation health check is off.
_SLOW_IS_FINE = [HealthCheck.too_slow]
settings.register_profile(
    "dev", max_examples=30, deadline=None, suppress_health_check=_SLOW_IS_FINE
)
settings.register_profile(
    "ci", settings.get_profile("ci"), max_examples=200, derandomize=True, deadline=None,
    database=None, print_blob=True, suppress_health_check=_SLOW_IS_FINE,
)
settings.register_profile(
    "soak", max_examples=10_000, derandomize=False, deadline=None, print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.load_profile(
    os.environ.get(PROFILE_VARIABLE) or ("ci" if settings.get_current_profile_name() == "ci"
                                          else "dev")
)


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
