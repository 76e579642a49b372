"""How a run folder names its database: a SQLite file by its absolute path, passwords masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from teamsim.cli import app
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


@pytest.mark.parametrize("db", ["~nosuchuser-teamsim/f.db", "sqlite:///~nosuchuser-teamsim/f.db"])
def test_a_home_folder_of_no_user_is_one_error_line(db: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["runs", "list", "--db", db])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: --db: not a database path: {db} (no user 'nosuchuser-teamsim' has a home "
        "folder for its ~); give the path without it or with your own ~/\n")
    assert list(tmp_path.iterdir()) == []


def test_a_run_folder_whose_name_starts_with_a_tilde_is_that_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    small = Path(__file__).parent / "data" / "run_small.yaml"
    ran = CliRunner().invoke(app, ["run", str(small), "--until", "0.1", "--out",
                                   "~nosuchuser-teamsim"])
    assert ran.exit_code == 0, ran.output
    assert (tmp_path / "~nosuchuser-teamsim" / "store.db").is_file()
    read = CliRunner().invoke(app, ["inbox", "~nosuchuser-teamsim"])
    assert read.exit_code == 0, read.output
