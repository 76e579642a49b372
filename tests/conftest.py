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

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from teamsim.store import Store

from .databases import BACKENDS, Databases, new_schema, postgres_admin

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


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database, on each backend; PostgreSQL tests get a schema of their own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'teamsim.db'}"
        return
    with postgres_admin() as admin:
        schema, url = new_schema(admin, "teamsim_test")
        yield url
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="module", params=BACKENDS)
def databases(request: pytest.FixtureRequest) -> Iterator[Databases]:
    """A module's tests on each backend, every test with its own database
    (``databases.new(folder)``); module-scoped, so module fixtures can depend on it."""
    if request.param == "sqlite":
        yield Databases(backend="sqlite")
        return
    with postgres_admin() as admin:
        made = Databases(backend="postgresql", admin=admin)
        yield made
        for schema in made.made:
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
