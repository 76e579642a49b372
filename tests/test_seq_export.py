"""Simulate what the toolbar built: ``seq export``, ``run --sequence``, ``--contacts``, and the
Workspace's ``scenario()``/``export()``; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import teamsim
from teamsim.cli import app
from teamsim.store import Store
from teamsim.workspace import Workspace


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def built(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database where `teamsim seq` built and activated a sequence and enrolled two people."""
    monkeypatch.chdir(tmp_path)
    db = ["--db", store_url]
    for args in (["new", "Welcome leads"], ["add", "Welcome leads", "wait", "--days", "2"],
                 ["add", "Welcome leads", "email", "--label", "Last nudge"],
                 ["activate", "Welcome leads"],
                 ["enroll", "Welcome leads", "--email", "ada@example.com", "--name", "Ada",
                  "--attr", "tier=2"],
                 ["enroll", "Welcome leads", "--email", "bob@example.com", "--name", "Bob"]):
        code, _, err = _cli("seq", *args, *db)
        assert code == 0, err
    return store_url


def test_export_validate_run_round_trip(built: str) -> None:
    code, text, err = _cli("seq", "export", "Welcome leads", "--db", built)
    assert (code, err) == (0, "")
    assert text.startswith("# The scenario: exported from the database")
    assert "# The sequence as it stands in the database." in text
    Path("welcome.yaml").write_text(text)
    code, out, _ = _cli("validate", "welcome.yaml")
    assert code == 0
    assert out.startswith("ok welcome.yaml (1 sequence, 2 contacts")
    code, from_file, err = _cli("run", "welcome.yaml", "--out", "a")
    assert (code, err) == (0, "")
    code, from_db, err = _cli("run", "--db", built, "--sequence", "Welcome leads", "--out", "b")
    assert (code, err) == (0, "")
    digest = (Path("a") / "digest.txt").read_text()
    assert (Path("b") / "digest.txt").read_text() == digest
    assert "Last nudge" in from_file
    assert "Last nudge" in from_db
    world = teamsim.load_scenario("welcome.yaml")
    assert [c.email for c in world.contacts] == ["ada@example.com", "bob@example.com"]
    assert world.contacts[0].attributes == {"tier": "2"}


def test_the_workspace_gives_the_same_scenario(built: str) -> None:
    with Store.open(built) as store:
        ws = Workspace(store)
        world = ws.scenario("Welcome leads")
        text = ws.export("Welcome leads")
    Path("w.yaml").write_text(text)
    assert teamsim.load_scenario("w.yaml") == world
    result = teamsim.run(world)
    assert result.metrics["enrolled"] == 2
    result.close()


def test_contacts_csv_replaces_the_enrolled_people(built: str) -> None:
    Path("people.csv").write_text("name,email,company,tier\nCy,cy@example.com,Acme,3\n"
                                  "Dee,DEE@example.com,,1.5\n")
    code, out, err = _cli("run", "--db", built, "--sequence", "Welcome leads", "--contacts",
                          "people.csv", "--out", "c")
    assert (code, err) == (0, "")
    assert "events" in out
    from teamsim.runner import read_contacts_csv

    people = read_contacts_csv("people.csv")
    assert [(p.email, p.company, p.attributes) for p in people] == [
        ("cy@example.com", "Acme", {"tier": 3}), ("dee@example.com", "", {"tier": 1.5})]


@pytest.mark.parametrize(("csv", "message"), [
    ("name,email\nAda,ada@example.com\nBob,not-an-email\n",
     "people.csv: row 3, column 'email': not an email address: 'not-an-email'; write it as "
     "name@example.com"),
    ("name,company\nAda,Acme\n",
     "people.csv: row 1: no 'email' column; the header must name at least name,email"),
    ("name,email\nAda,ada@example.com,extra\n",
     "people.csv: row 2: 3 cells for 2 columns; give one cell per column"),
    ("name,email,timezone\nAda,ada@example.com,Mars/Olympus\n",
     "people.csv: row 2, column 'timezone': "),
    ("", "people.csv: empty; give a header row (name,email,...) and a row per person"),
    ("name,email\nAda,ada@example.com\n" + "a" * 200_000 + ",c@example.com\n",
     "people.csv: row 3: field larger than field limit"),
])
def test_a_bad_contacts_csv_is_one_error_line(built: str, csv: str, message: str) -> None:
    Path("people.csv").write_text(csv)
    code, _, err = _cli("run", "--db", built, "--sequence", "Welcome leads", "--contacts",
                        "people.csv", "--out", "c")
    assert code == 2
    assert err.startswith(f"error: {message}")
    assert err.count("\n") == 1
    assert not Path("c").exists()


def test_an_unknown_sequence_is_one_error_line(built: str) -> None:
    code, _, err = _cli("seq", "export", "Nope", "--db", built)
    assert code == 2
    assert err.startswith("error: no sequence named 'Nope'")
    code, _, err = _cli("run", "--db", built, "--sequence", "Nope")
    assert code == 2
    assert err.count("\n") == 1
    code, _, err = _cli("run", "--db", built, "--sequence", "\u00b2")  # a digit, not ASCII
    assert code == 2
    assert err.count("\n") == 1


@pytest.mark.parametrize("command", ["export", "show", "people", "versions"])
def test_reading_a_missing_database_creates_none(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _cli("seq", command, "Welcome", "--db", "missing.db")
    assert code == 2
    assert err.startswith("error: no sequence named 'Welcome' in sqlite:///missing.db; ")
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # the database it made for the command is gone


def test_a_sequence_run_from_a_missing_database_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _cli("run", "--db", "missing.db", "--sequence", "Welcome")
    assert code == 2
    assert err == ("error: cannot open database sqlite:///missing.db read-only: no such file; "
                   "check the path\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--sequence", "X"], "error: --sequence: name the database the sequence is in with --db"),
    (["--contacts", "c.csv"], "error: --contacts: goes with --sequence NAME"),
    (["s.yaml", "--sequence", "X", "--db", "t.db"],
     "error: --sequence: give a scenario file or --sequence, not both"),
])
def test_sequence_options_are_checked(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _cli("run", *args)
    assert code == 2
    assert err.startswith(message)
