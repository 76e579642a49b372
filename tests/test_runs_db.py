"""Many runs in one database (``teamsim run --db``), on SQLite and PostgreSQL: each keeps the
digest of a run on an empty database, ``teamsim runs`` lists, shows and deletes them, the
readers take ``--db URL --run ID``, a killed run leaves nothing shown as finished, and the
README's queries across runs work as written."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

import teamsim
from teamsim import runner
from teamsim.cli import app
from teamsim.store import EventRecord, NewRun, RunStatus, Store

from .databases import Databases

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
TEAMSIM = Path(sys.executable).parent / "teamsim"

CHAT = "one-off-chat.yaml"
REPLIED = "troubleshoot-person-replied.yaml"
WAITING = "troubleshoot-waiting-on-you.yaml"
WELCOME = "welcome-renovation-leads.yaml"
GOLDEN = {  # from tests/sim/test_golden_digests.py: runs on an empty database
    WAITING: "f323b2f5cc707dca40a6044c54c1a75c9206b2ce56287f09be79a8ca854707be",
    CHAT: "f6e9e7a3e9607a289c79896e0ae19067f275b96cadaa9ad939319efb923a4e37",
    REPLIED: "7290e3480937bf7281430c059c392ad443f0fb1f642425aed7eb191adbaf36ee",
    WELCOME: "124ac96f7a250754e968a312389c0974a9665c4d8db5a931b4cb2d3592603645",
}
RECORDED = (CHAT, WAITING, CHAT, WELCOME)
"""What the shared database records, in order: run ids 1 to 4."""


@pytest.fixture
def empty_db(databases: Databases, tmp_path: Path) -> str:
    """A new empty database of the module's backend."""
    return databases.new(tmp_path)


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def _build_with_seq(db: str) -> None:
    """What a user builds with the toolbar: a sequence, contacts and enrollments."""
    for args in (["new", "Toolbar sequence"], ["activate", "Toolbar sequence"],
                 ["enroll", "Toolbar sequence", "--email", "ada@example.com", "--name", "Ada"],
                 ["enroll", "Toolbar sequence", "--email", "bo@example.com", "--name", "Bo"]):
        done = cli("seq", *args, "--db", db)
        assert done.exit_code == 0, done.output


@dataclass(frozen=True)
class Kept:
    """The shared database: seq data first, then the runs of :data:`RECORDED`."""

    url: str
    results: tuple[runner.RunResult, ...]
    events: tuple[tuple[EventRecord, ...], ...]
    """Each run's event log, read before its store was closed."""


@pytest.fixture(scope="module")
def kept(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Kept:
    url = databases.new(tmp_path_factory.mktemp("kept"))
    _build_with_seq(url)
    results, events = [], []
    for name in RECORDED:
        result = runner.run(SCENARIOS / name, db=url)
        events.append(tuple(result.events))
        result.close()
        results.append(result)
    return Kept(url=url, results=tuple(results), events=tuple(events))


# ---------------------------------------------------------------------------------------------
# many runs per database


def test_every_run_keeps_the_digest_of_a_run_on_an_empty_database(kept: Kept) -> None:
    # The database held seq-built sequences, contacts and enrollments before the first run,
    # and runs before the others: neither shifts an id.
    assert [r.digest for r in kept.results] == [GOLDEN[name] for name in RECORDED]
    assert [r.run_id for r in kept.results] == [1, 2, 3, 4]
    recorded = teamsim.runs(kept.url)
    assert [(r.id, r.status, r.digest) for r in recorded] == [
        (i, RunStatus.FINISHED, GOLDEN[name]) for i, name in enumerate(RECORDED, start=1)]


def test_the_same_scenario_twice_is_two_runs_with_one_scenario_hash(kept: Kept) -> None:
    first, second = teamsim.runs(kept.url, scenario="One-off chat messages")
    assert (first.id, second.id) == (1, 3)
    assert first.scenario_hash == second.scenario_hash != teamsim.runs(kept.url)[1].scenario_hash
    assert re.fullmatch(r"[0-9a-f]{64}", first.scenario_hash)
    assert first.started_at <= first.finished_at <= second.started_at  # type: ignore[operator]
    assert first.started_at.tzinfo is UTC


def test_a_runs_rows_are_its_own_and_read_back_as_they_were(kept: Kept) -> None:
    result, logged = kept.results[3], kept.events[3]
    record, store = teamsim.open_run(kept.url, 4)
    with store, store.unit_of_work() as uow:
        events = tuple(uow.events.iter())
        assert uow.meta.run() is not None
        assert uow.meta.run().seed == result.seed  # type: ignore[union-attr]
    assert record.events == len(logged) == len(events)
    assert events == tuple(sorted(logged, key=lambda event: event.seq))


def test_run_metrics_hold_every_number_of_the_run(kept: Kept) -> None:
    result = kept.results[3]
    stored = runner.run_metrics(kept.url, 4)
    numbers = {k: float(v) for k, v in result.metrics.items()
               if isinstance(v, int | float) and not isinstance(v, bool)}
    assert {k: stored[k] for k in numbers} == pytest.approx(numbers)


def test_the_seq_data_is_left_as_it_was(kept: Kept) -> None:
    people = cli("seq", "people", "Toolbar sequence", "--db", kept.url)
    assert people.exit_code == 0, people.output
    assert "ada@example.com" in people.stdout
    assert "bo@example.com" in people.stdout
    listed = cli("seq", "list", "--db", kept.url)
    assert "Toolbar sequence" in listed.stdout
    assert "Welcome" not in listed.stdout  # the runs' sequences are theirs alone


def test_runs_list_shows_every_run(kept: Kept) -> None:
    listed = cli("runs", "list", "--db", kept.url)
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.stdout.splitlines() if re.match(r"\s*\d+ │", line)]
    assert len(rows) == 4
    for row, (number, name) in zip(rows, enumerate(RECORDED, start=1), strict=True):
        assert re.match(rf"\s*{number} │", row)
        assert "finished" in row
        assert GOLDEN[name][:12] in row


def test_runs_show_gives_the_run_and_its_metrics(kept: Kept) -> None:
    shown = cli("runs", "show", "4", "--db", kept.url)
    assert shown.exit_code == 0, shown.output
    assert GOLDEN[WELCOME] in shown.stdout
    assert "Welcome new renovation leads" in shown.stdout
    peak = kept.results[3].metrics["attention_peak"]
    assert re.search(rf"attention_peak\s+│\s+{peak}\b", shown.stdout)


# ---------------------------------------------------------------------------------------------
# the readers: --db URL --run ID


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same runs written as run folders (no database)."""
    made = {}
    for name in (WAITING, WELCOME):
        out = tmp_path_factory.mktemp("folder") / "run"
        runner.run(SCENARIOS / name, out=out).close()
        made[name] = out
    return made


@pytest.mark.parametrize(("command", "rest", "scenario", "run_id"), [
    (["inbox"], [], WAITING, "2"),
    (["diagnose"], ["--sequence", "Hardwood flooring leads"], WAITING, "2"),
    (["rules", "list"], [], WELCOME, "4"),
    (["rules", "preview"], ["1"], WELCOME, "4"),
])
def test_a_run_read_by_id_reads_as_its_folder(
    kept: Kept, folders: dict[str, Path], command: list[str], rest: list[str], scenario: str,
    run_id: str,
) -> None:
    from_folder = cli(*command, str(folders[scenario]), *rest)
    by_id = cli(*command, *rest, "--db", kept.url, "--run", run_id)
    assert from_folder.exit_code == by_id.exit_code == 0, by_id.output
    assert by_id.stdout == from_folder.stdout
    assert len(by_id.stdout.splitlines()) > 1


@pytest.mark.parametrize("command", [["inbox"], ["diagnose", "--sequence", "Intro"],
                                     ["rules", "list"], ["rules", "preview", "1"]])
def test_several_runs_and_no_run_id_is_an_error_naming_runs_list(
    kept: Kept, command: list[str]
) -> None:
    done = cli(*command, "--db", kept.url)
    assert done.exit_code == 2
    assert done.stderr.count("\n") == 1
    assert "holds 4 runs; pick one with --run ID (`teamsim runs list --db URL`" in done.stderr


@pytest.mark.parametrize("command", [["runs", "show", "99"], ["runs", "delete", "99"],
                                     ["inbox", "--run", "99"]])
def test_an_unknown_run_id_is_one_error_line(kept: Kept, command: list[str]) -> None:
    done = cli(*command, "--db", kept.url)
    assert done.exit_code == 2
    assert done.stderr.startswith("error: --db: no run 99 in ")
    assert done.stderr.endswith("`teamsim runs list --db URL` shows the runs it holds\n")
    assert len(teamsim.runs(kept.url)) == 4


def test_a_run_folder_recorded_with_db_reads_its_own_run(empty_db: str, tmp_path: Path) -> None:
    runner.run(SCENARIOS / CHAT, db=empty_db).close()
    runner.run(SCENARIOS / REPLIED, db=empty_db, out=tmp_path / "r").close()
    runner.run(SCENARIOS / CHAT, db=empty_db).close()
    from_folder = cli("inbox", str(tmp_path / "r"), "--db", empty_db)
    assert from_folder.exit_code == 0, from_folder.output
    assert from_folder.stdout == cli("inbox", "--db", empty_db, "--run", "2").stdout
    assert "Troubleshooting: the person replied" in from_folder.stdout
    without = cli("inbox", str(tmp_path / "r"))
    assert without.exit_code == 2
    assert "pass --db with that database" in without.stderr


def test_the_only_run_is_read_without_run_id(empty_db: str) -> None:
    runner.run(SCENARIOS / REPLIED, db=empty_db).close()
    assert cli("inbox", "--db", empty_db).stdout == cli("inbox", "--db", empty_db,
                                                        "--run", "1").stdout


def test_a_run_that_did_not_finish_is_listed_but_not_read(empty_db: str) -> None:
    with Store.open(empty_db) as store, store.unit_of_work() as uow:
        when = datetime(2026, 3, 2, tzinfo=UTC)
        uow.runs.record(NewRun(
            scenario="crashed", scenario_hash="0" * 64, seed=1, teamsim_version="0",
            until_days=1, sim_start=when, sim_end=when, started_at=when, finished_at=None,
            status=RunStatus.FAILED, digest=None, events=0), {}, None)
    assert "failed" in cli("runs", "list", "--db", empty_db).stdout
    done = cli("inbox", "--db", empty_db, "--run", "1")
    assert done.exit_code == 2
    assert "run 1 is failed, so its rows are incomplete" in done.stderr


# ---------------------------------------------------------------------------------------------
# delete


def _count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def test_delete_removes_that_run_and_nothing_else(empty_db: str) -> None:
    _build_with_seq(empty_db)
    engine = create_engine(empty_db)
    with engine.begin() as connection:  # a table of the user's own, beside teamsim's
        connection.execute(text("CREATE TABLE my_notes (note VARCHAR(20))"))
        connection.execute(text("INSERT INTO my_notes VALUES ('keep me')"))
    engine.dispose()
    first = runner.run(SCENARIOS / CHAT, db=empty_db)
    first.close()
    runner.run(SCENARIOS / REPLIED, db=empty_db).close()
    done = cli("runs", "delete", "1", "--db", empty_db)
    assert done.exit_code == 0, done.output
    assert done.stdout == "deleted run 1 ('One-off chat messages', seed 1, finished)\n"
    assert [r.id for r in teamsim.runs(empty_db)] == [2]
    for table in ("run_events", "run_tasks", "run_meta", "run_metrics"):
        assert _count(empty_db, f"SELECT count(*) FROM {table} WHERE run_id = 1") == 0, table
    assert _count(empty_db, "SELECT count(*) FROM run_events WHERE run_id = 2") > 0
    assert _count(empty_db, "SELECT count(*) FROM my_notes") == 1
    assert _count(empty_db, "SELECT count(*) FROM enrollments") == 2
    assert cli("inbox", "--db", empty_db).exit_code == 0  # the one run left
    again = runner.run(SCENARIOS / CHAT, db=empty_db)
    again.close()
    assert (again.run_id, again.digest) == (3, first.digest)


# ---------------------------------------------------------------------------------------------
# a killed run


_LONG = """\
name: Long enough to be killed part way
start: 2026-03-02T08:00:00
days: 30
seed: 1
sequences:
  - name: Intro
    steps:
      - {kind: message, label: Say hello}
      - {kind: wait, days: 2}
      - {kind: message, label: Follow up}
personas: [{name: default, reply: 0.1}]
populations: [{count: 600, enroll_in: [Intro], enroll_over_days: 20}]
approver: {approve: 1.0, edit: 0.0, reject: 0.0}
"""


def test_a_killed_run_leaves_nothing_shown_as_finished(empty_db: str, tmp_path: Path) -> None:
    runner.run(SCENARIOS / REPLIED, db=empty_db).close()
    scenario = tmp_path / "long.yaml"
    scenario.write_text(_LONG)
    process = subprocess.Popen(
        [str(TEAMSIM), "run", str(scenario), "--db", empty_db, "--out", "o"], cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # The staging folder appears once the database is open; then simulate for a while.
        deadline = time.monotonic() + 120
        while not any(tmp_path.glob(".o.*.tmp")):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        time.sleep(2.5)
        assert process.poll() is None, "the run finished before it could be killed"
    finally:
        process.kill()
        process.communicate()
    assert [(r.id, r.status) for r in teamsim.runs(empty_db)] == [(1, RunStatus.FINISHED)]
    listed = cli("runs", "list", "--db", empty_db)
    assert "Long enough" not in listed.stdout
    assert _count(empty_db, "SELECT count(*) FROM run_events WHERE run_id <> 1") == 0
    assert _count(empty_db, "SELECT count(*) FROM run_metrics WHERE run_id <> 1") == 0
    read = cli("inbox", "--db", empty_db)  # the only run: the killed one is not there
    assert read.exit_code == 0
    assert "Troubleshooting: the person replied" in read.stdout
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------
# the README's queries across runs


def _readme_queries() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Keeping experiments in PostgreSQL", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_shows_two_queries_across_runs() -> None:
    assert len(_readme_queries()) == 2


def test_the_readme_queries_work_as_written(kept: Kept) -> None:
    mean_reply_rate, busy = _readme_queries()
    engine = create_engine(kept.url)
    try:
        with engine.connect() as connection:
            means = connection.execute(text(mean_reply_rate)).all()
            peaks = connection.execute(text(busy)).all()
    finally:
        engine.dispose()
    by_scenario: dict[str, list[float]] = {}
    for result in kept.results:
        by_scenario.setdefault(result.world.name, []).append(result.metrics["reply_rate"])
    assert [(name, runs) for name, runs, _mean in means] == [
        (name, len(rates)) for name, rates in sorted(by_scenario.items())]
    for name, _runs, mean in means:
        assert mean == pytest.approx(sum(by_scenario[name]) / len(by_scenario[name]))
    expected = [(i, r.world.name, r.seed, float(r.metrics["attention_peak"]))
                for i, r in enumerate(kept.results, start=1) if r.metrics["attention_peak"] > 20]
    assert expected  # the welcome run's queue went over 20
    assert [tuple(row) for row in peaks] == expected


# ---------------------------------------------------------------------------------------------
# an older database


def test_a_version_1_database_is_read_as_is_and_upgraded_for_writing(empty_db: str) -> None:
    _build_with_seq(empty_db)
    engine = create_engine(empty_db)
    with engine.begin() as connection:  # what teamsim 0.1 with schema version 1 made
        for table in ("run_stops", "run_metrics", "runs", *(f"run_{name}" for name in (
                "attention_items", "reviews", "replies", "decisions", "messages", "drafts",
                "tasks", "sequence_versions", "enrollments", "teammates", "sequences", "rules",
                "meta", "events", "contacts"))):
            connection.execute(text(f"DROP TABLE {table}"))
        connection.execute(text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    engine.dispose()
    with Store.open(empty_db, read_only=True) as store:
        assert (store.schema_version, store.holds_runs) == (1, False)
    assert teamsim.runs(empty_db) == []
    result = runner.run(SCENARIOS / CHAT, db=empty_db)
    result.close()
    assert (result.run_id, result.digest) == (1, GOLDEN[CHAT])
    with Store.open(empty_db, read_only=True) as store:
        assert store.schema_version == 2
    assert "ada@example.com" in cli("seq", "people", "Toolbar sequence", "--db",
                                    empty_db).stdout


def test_teamsim_run_says_which_run_it_recorded(empty_db: str, tmp_path: Path) -> None:
    runner.run(SCENARIOS / CHAT, db=empty_db).close()
    done = cli("run", str(SCENARIOS / CHAT), "--db", empty_db, "--out", str(tmp_path / "r"))
    assert done.exit_code == 0, done.output
    assert ("recorded as run 2 in the --db database: `teamsim runs show 2 --db URL`"
            in done.stdout)


def test_two_runs_recorded_at_once_are_both_kept(empty_db: str, tmp_path: Path) -> None:
    Store.open(empty_db).close()
    processes = [subprocess.Popen(
        [str(TEAMSIM), "run", str(SCENARIOS / name), "--db", empty_db, "--out", f"r{i}"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for i, name in enumerate((CHAT, WAITING))]
    for process in processes:
        _out, errors = process.communicate(timeout=300)
        assert process.returncode == 0, errors.decode()
    kept = teamsim.runs(empty_db)
    assert sorted(r.digest or "" for r in kept) == sorted([GOLDEN[CHAT], GOLDEN[WAITING]])
    assert sorted(r.id for r in kept) == [1, 2]


def test_a_deleted_runs_id_is_never_given_again_and_its_folder_is_not_misread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'ids.db'}"
    for name, out in (("one-off-chat.yaml", "w1"), ("replies-pause-people.yaml", "w2")):
        runner.run(SCENARIOS / name, db=url, out=out).close()
    assert cli("runs", "delete", "2", "--db", url).exit_code == 0
    runner.run(SCENARIOS / "troubleshoot-person-replied.yaml", db=url, out="w3").close()
    assert [r.id for r in teamsim.runs(url)] == [1, 3]  # 2 is not handed out again
    stale = cli("inbox", "w2", "--db", url)
    assert stale.exit_code == 2
    assert "no run 2" in stale.stderr or "another run" in stale.stderr
    assert stale.stderr.count("\n") == 1
