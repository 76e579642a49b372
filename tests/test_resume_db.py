"""Stopping a ``--db`` run and resuming it by its id (``teamsim run --resume ID --db URL``), on
SQLite and PostgreSQL: a stopped run is a ``stopped`` runs row with what resuming needs, and
its resume replaces it by the finished run (same id) with the uninterrupted digest; a tampered
stored journal, a missing id and an id without ``--db`` are one ``error:`` line. Also
``teamsim report --db URL --run ID``."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

import teamsim
from teamsim import load_scenario, runner
from teamsim.assembly import simulation
from teamsim.cli import app
from teamsim.store import RunStatus

from .databases import Databases

ROOT = Path(__file__).resolve().parent.parent
WELCOME = ROOT / "scenarios" / "welcome-renovation-leads.yaml"
MODEL = ROOT / "scenarios" / "model-vs-template.yaml"
REPLIED = ROOT / "scenarios" / "troubleshoot-person-replied.yaml"
TEAMSIM = Path(sys.executable).with_name("teamsim")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with copies of the scenarios (and the model's cassette)."""
    for name in (WELCOME.name, MODEL.name, REPLIED.name, "model-vs-template.cassette.json"):
        shutil.copy(ROOT / "scenarios" / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def db(databases: Databases, work: Path) -> str:
    """A new empty database of the module's backend (a schema of its own on PostgreSQL)."""
    return databases.new(work)


@pytest.fixture(scope="module")
def welcome_digest() -> str:
    """The uninterrupted run's digest of the welcome scenario."""
    return simulation(load_scenario(WELCOME)).run().digest


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def _one(url: str, sql: str) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def _execute(url: str, sql: str, **values: object) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql), values)
    finally:
        engine.dispose()


def test_stopped_twice_then_resumed_by_id_gives_the_uninterrupted_digest(
    db: str, welcome_digest: str
) -> None:
    runner.run(REPLIED.name, db=db).close()  # run 1: the stopped run is not the only one
    stopped = cli("run", WELCOME.name, "--db", db, "--stop-at", "1.5", "--out", "w")
    assert stopped.exit_code == 0, stopped.output
    assert stopped.stdout.startswith("stopped at simulated minute 2160 (1.5 days)")
    assert "teamsim run --resume 2 --db URL" in stopped.stdout
    [first, second] = teamsim.runs(db)
    assert (first.status, second.status) == (RunStatus.FINISHED, RunStatus.STOPPED)
    assert (second.sim_end - second.sim_start).total_seconds() == 2160 * 60
    assert second.events > 0
    listed = cli("runs", "list", "--db", db)
    assert listed.exit_code == 0
    assert re.search(r"^\s*2\b.*stopped", listed.stdout, re.MULTILINE), listed.stdout
    # The stopped run's rows so far are readable, as the readers already decide.
    assert _one(db, "SELECT count(*) FROM run_events WHERE run_id = 2") == second.events

    again = cli("run", "--resume", "2", "--db", db, "--stop-at", "6")
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("stopped at simulated minute 8640 (6 days)")
    record = teamsim.runs(db)[1]
    assert (record.id, record.status) == (2, RunStatus.STOPPED)
    assert record.events > second.events
    assert _one(db, "SELECT count(*) FROM run_stops") == 1

    done = cli("run", "--resume", "2", "--db", db)
    assert done.exit_code == 0, done.output
    assert f"digest {welcome_digest[:12]}" in done.stdout
    assert [(r.id, r.status, r.digest) for r in teamsim.runs(db)][1] == (
        2, RunStatus.FINISHED, welcome_digest)
    assert _one(db, "SELECT count(*) FROM run_stops") == 0
    assert _one(db, "SELECT count(*) FROM runs") == 2
    # The finished run is whole: the same rows as the run made in one go.
    runner.run(WELCOME.name, db=db).close()
    assert _one(db, "SELECT count(*) FROM run_events WHERE run_id = 2") == _one(
        db, "SELECT count(*) FROM run_events WHERE run_id = 3")
    assert runner.run_metrics(db, 2) == runner.run_metrics(db, 3)
    assert cli("runs", "show", "2", "--db", db).exit_code == 0
    finished = cli("run", "--resume", "2", "--db", db)
    assert finished.exit_code == 2
    assert finished.stderr.startswith("error: run 2 in ")
    assert "is finished" in finished.stderr
    assert finished.stderr.count("\n") == 1


def test_the_folder_of_a_stopped_db_run_resumes_into_its_row(
    db: str, welcome_digest: str
) -> None:
    stopped = cli("run", WELCOME.name, "--db", db, "--out", "w", "--stop-at", "2")
    assert stopped.exit_code == 0, stopped.output
    assert ("teamsim run --resume w --db URL or teamsim run --resume 1 --db URL"
            in stopped.stdout)
    alone = cli("run", "--resume", "w")  # without its database: refused, the row kept stopped
    assert (alone.exit_code, alone.stderr.count("\n")) == (2, 1)
    assert "the run is recorded in " in alone.stderr
    assert teamsim.runs(db)[0].status == RunStatus.STOPPED
    done = cli("run", "--resume", "w", "--db", db)
    assert done.exit_code == 0, done.output
    assert [(r.id, r.status, r.digest) for r in teamsim.runs(db)] == [
        (1, RunStatus.FINISHED, welcome_digest)]
    assert (Path("w") / "digest.txt").read_text().strip() == welcome_digest


def test_a_relative_sqlite_path_resumed_from_another_folder_replaces_its_row(
    work: Path, welcome_digest: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # run.json records the file's absolute path, so "../exp.db" from a sub-folder names the
    # same database as "exp.db" did: the stopped row is replaced, not joined by a new run.
    stopped = cli("run", WELCOME.name, "--db", "exp.db", "--out", "w", "--stop-at", "2")
    assert stopped.exit_code == 0, stopped.output
    assert f"sqlite:///{work / 'exp.db'}" in (work / "w" / "run.json").read_text()
    (work / "elsewhere").mkdir()
    monkeypatch.chdir(work / "elsewhere")
    done = cli("run", "--resume", "../w", "--db", "../exp.db")
    assert done.exit_code == 0, done.output
    assert [(r.id, r.status, r.digest) for r in teamsim.runs(str(work / "exp.db"))] == [
        (1, RunStatus.FINISHED, welcome_digest)]


def test_a_tampered_stored_journal_line_is_found_by_id(db: str) -> None:
    with pytest.raises(runner.RunStopped) as stopped:
        runner.run(MODEL.name, db=db, stop_at=2)
    assert (stopped.value.run_id, stopped.value.out_dir) == (1, None)
    journal = str(_one(db, "SELECT journal FROM run_stops WHERE run_id = 1"))
    lines = journal.splitlines(keepends=True)
    assert len(lines) >= 3, "the model's replies are journaled"
    lines[2] = lines[2].replace('"content":"', '"content":"Buy now! ', 1)
    assert "".join(lines) != journal
    _execute(db, "UPDATE run_stops SET journal = :journal WHERE run_id = 1",
             journal="".join(lines))
    result = cli("run", "--resume", "1", "--db", db)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: run 1 in ")
    assert ": journal: line 3: its chain does not match" in result.stderr
    assert result.stderr.count("\n") == 1
    assert teamsim.runs(db)[0].status == RunStatus.STOPPED  # left as it was


def test_a_removed_stored_journal_line_is_found_by_id(db: str) -> None:
    with pytest.raises(runner.RunStopped):
        runner.run(MODEL.name, db=db, stop_at=2)
    journal = str(_one(db, "SELECT journal FROM run_stops WHERE run_id = 1"))
    _execute(db, "UPDATE run_stops SET journal = :journal WHERE run_id = 1",
             journal="".join(journal.splitlines(keepends=True)[:-1]))
    result = cli("run", "--resume", "1", "--db", db)
    assert (result.exit_code, result.stderr.count("\n")) == (2, 1)
    assert "changed after teamsim wrote it" in result.stderr


def test_a_missing_id_and_an_id_without_db_are_one_error_line(db: str) -> None:
    runner.run(REPLIED.name, db=db).close()
    missing = cli("run", "--resume", "99", "--db", db)
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: no run 99 in ")
    assert missing.stderr.count("\n") == 1
    bare = cli("run", "--resume", "3")
    assert bare.exit_code == 2
    assert bare.stderr.startswith("error: --resume 3: ")
    assert "--db URL" in bare.stderr
    assert bare.stderr.count("\n") == 1
    assert [r.status for r in teamsim.runs(db)] == [RunStatus.FINISHED]


def test_ctrl_c_of_a_db_run_then_resume_by_id(work: Path, welcome_digest: str) -> None:
    db = f"sqlite:///{work / 'ctrl-c.db'}"
    child = subprocess.Popen([str(TEAMSIM), "run", WELCOME.name, "--db", db, "--out", "run"],
                             cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not any(work.glob(".run.*.tmp/journal.jsonl")):
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=120)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == 130
    assert b"teamsim run --resume 1 --db URL" in out
    [record] = teamsim.runs(db)
    assert record.status == RunStatus.STOPPED
    minute = round((record.sim_end - record.sim_start).total_seconds() / 60)
    assert minute % 60 == 0
    shutil.rmtree(work / "run")  # the id alone resumes it
    result = cli("run", "--resume", "1", "--db", db)
    assert result.exit_code == 0, result.output
    assert f"digest {welcome_digest[:12]}" in result.stdout
    assert [(r.id, r.status, r.digest) for r in teamsim.runs(db)] == [
        (1, RunStatus.FINISHED, welcome_digest)]


def test_report_by_id_shows_the_metrics_of_the_folder_report(work: Path) -> None:
    pytest.importorskip("pandas", reason="the report needs the notebook extra")
    db = f"sqlite:///{work / 'report.db'}"
    runner.run(REPLIED.name, db=db).close()
    runner.run(WELCOME.name, db=db, out="w").close()
    from_folder = cli("report", "w", "--db", db, "--out", "folder.html")
    assert from_folder.exit_code == 0, from_folder.output
    by_id = cli("report", "--db", db, "--run", "2", "--out", "id.html")
    assert by_id.exit_code == 0, by_id.output
    assert "report of run 2 in " in by_id.stdout
    from teamsim.notebook import load_run, metrics_frame

    with load_run("w", db=db) as folder, load_run(db=db, run=2) as stored:
        assert folder.digest == stored.digest
        expected = metrics_frame(folder)
        got = metrics_frame(stored)
        assert len(expected) > 5
        assert expected["metric"].tolist() == got["metric"].tolist()
        assert expected["value"].tolist() == pytest.approx(got["value"].tolist(), nan_ok=True)
    folder_page = (work / "folder.html").read_text()
    id_page = (work / "id.html").read_text()
    rows = re.compile(r"<tr>\s*<td>([a-z_]+)</td>\s*<td[^>]*>([^<]*)</td>")
    assert rows.findall(folder_page)
    assert rows.findall(id_page) == rows.findall(folder_page)
    missing = cli("report", "--db", db, "--run", "9")
    assert (missing.exit_code, missing.stderr.count("\n")) == (2, 1)
    assert cli("report", "--run", "2").exit_code == 2


def test_resume_of_a_non_ascii_digit_is_a_folder_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "--resume", "\u00b2", "--db", "t.db"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: \u00b2: not a stopped teamsim run")
    assert list(tmp_path.iterdir()) == []
