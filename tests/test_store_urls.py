"""How a run folder names its database: a SQLite file by its absolute path, passwords masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from teamsim.store import absolute_url


def test_a_relative_sqlite_file_is_named_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = f"sqlite:///{tmp_path / 'exp.db'}"
    assert absolute_url("exp.db") == expected
    assert absolute_url("sqlite:///exp.db") == expected
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert absolute_url("../exp.db") == expected


def test_databases_without_a_file_path_come_back_as_given_and_masked() -> None:
    assert absolute_url("sqlite://") == "sqlite://"
    assert make_url(absolute_url("sqlite:///:memory:")).database == ":memory:"
    assert absolute_url("postgresql+psycopg://me:secret@db.example:5432/runs") == (
        "postgresql+psycopg://me:***@db.example:5432/runs")
    assert "secret" not in absolute_url("postgresql://me:secret@db:notaport/runs")
