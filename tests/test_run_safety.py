"""Data safety of run folders, run databases and sweep workers (issue 9).

Each test names the defect it pins: ``--out`` replacing folders teamsim did not write,
``--db`` runs leaving rows behind, staging folders left by a kill, orphaned or noisy sweep
workers, read commands that write, secrets in output, and a full disk hidden behind a
``TypeError``.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from teamsim import runner
from teamsim.cli import app
from teamsim.model import DatabaseError, TeamsimError
from teamsim.runner import _staging as runfolder
from teamsim.store import Store, UnitOfWork

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
SMALL = DATA / "run_small.yaml"
TEAMSIM = Path(sys.executable).with_name("teamsim")
LINUX = sys.platform.startswith("linux")


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    """The ``teamsim`` app."""
    return app


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _count(url: str, table: str) -> int:
    engine = create_engine(url if "://" in url else f"sqlite:///{url}")
    try:
        with engine.connect() as connection:
            tables = set(connection.dialect.get_table_names(connection))
            if table not in tables:
                return 0
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------
# 1. --out replaces only what teamsim provably wrote, and only with --force


def test_out_refuses_a_folder_with_a_fake_run_json_and_keeps_its_files(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    (project / "run.json").write_text("{}")
    (project / "src" / "thesis.tex").write_text("x")
    with pytest.raises(TeamsimError, match=r"proj: exists and is not a teamsim run directory "
                                           r"\(it holds src, which teamsim does not write"):
        runner.run(SMALL, out=project, until_days=1, force=True)
    assert (project / "src" / "thesis.tex").read_text() == "x"
    assert _names(tmp_path) == ["proj"]


def test_out_refuses_a_run_json_that_is_not_teamsims(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "run.json").write_text('{"scenario": "mine"}')
    with pytest.raises(TeamsimError, match=r"its run.json is not one teamsim wrote"):
        runner.run(SMALL, out=folder, until_days=1, force=True)
    assert _names(folder) == ["run.json"]


def test_out_refuses_a_real_run_folder_with_a_foreign_file(tmp_path: Path) -> None:
    out = tmp_path / "r"
    runner.run(SMALL, out=out, until_days=1).close()
    (out / "notes.md").write_text("mine")
    with pytest.raises(TeamsimError, match=r"it holds notes.md"):
        runner.run(SMALL, out=out, until_days=1, force=True)
    assert (out / "notes.md").read_text() == "mine"


def test_an_earlier_run_is_replaced_only_with_force(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(cli, ["run", str(SMALL), "--out", "r", "--until", "1"])
    assert first.exit_code == 0, first.output
    before = (tmp_path / "r" / "run.json").read_text()
    again = CliRunner().invoke(cli, ["run", str(SMALL), "--out", "r", "--seed", "8"])
    assert again.exit_code == 2
    assert again.stderr == ("error: r: holds an earlier teamsim run; pass --force (force=True "
                            "in Python) to replace it, or choose another --out\n")
    assert (tmp_path / "r" / "run.json").read_text() == before
    forced = CliRunner().invoke(cli, ["run", str(SMALL), "--out", "r", "--seed", "8",
                                      "--until", "1", "--force"])
    assert forced.exit_code == 0, forced.output
    assert runner.read_run_info(tmp_path / "r").seed == 8
    assert _names(tmp_path) == ["r"]


def test_sweep_refuses_a_folder_with_sweep_csv_that_is_not_a_sweep(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "sweep.csv").write_text("a,b\n")
    (folder / "data.xlsx").write_text("mine")
    with pytest.raises(TeamsimError, match=r"not a teamsim sweep directory"):
        runner.sweep(SMALL, "0:1", workers=1, out=folder, force=True)
    assert _names(folder) == ["data.xlsx", "sweep.csv"]


def test_an_earlier_sweep_is_replaced_only_with_force(tmp_path: Path) -> None:
    out = tmp_path / "s"
    runner.sweep(SMALL, "0:1", workers=1, out=out)
    with pytest.raises(TeamsimError, match=r"holds an earlier teamsim sweep; pass --force"):
        runner.sweep(SMALL, "0:2", workers=1, out=out)
    result = runner.sweep(SMALL, "0:2", workers=1, out=out, force=True)
    assert result.runs == 2
    assert _names(out) == ["summary.json", "sweep.csv"]
    assert _names(tmp_path) == ["s"]


# ---------------------------------------------------------------------------------------------
# 3. staging folders: stale ones cleaned, a failed rename leaves nothing


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _staging(parent: Path, name: str, pid: int | None, *files: str) -> Path:
    folder = parent / name
    folder.mkdir()
    if pid is not None:
        (folder / runfolder.MARKER).write_text(json.dumps(
            {"teamsim_staging": 1, "pid": pid, "host": os.uname().nodename}))
    for file in files:
        (folder / file).write_text("x")
    return folder


def test_stale_staging_folders_of_a_dead_process_are_removed_others_kept(
    tmp_path: Path
) -> None:
    dead = _dead_pid()
    stale_tmp = _staging(tmp_path, ".r.aaaa1111.tmp", dead, "events.jsonl", "store.db")
    stale_old = _staging(tmp_path, ".r.bbbb2222.old", dead)
    (stale_old / "run").mkdir()
    live = _staging(tmp_path, ".r.cccc3333.tmp", os.getppid(), "events.jsonl")
    unmarked = _staging(tmp_path, ".r.dddd4444.tmp", None, "events.jsonl")
    foreign = _staging(tmp_path, ".r.eeee5555.tmp", dead, "events.jsonl", "thesis.tex")
    other_target = _staging(tmp_path, ".rr.ffff6666.tmp", dead, "events.jsonl")
    runner.run(SMALL, out=tmp_path / "r", until_days=1).close()
    assert not stale_tmp.exists()
    assert not stale_old.exists()
    for kept in (live, unmarked, foreign, other_target):
        assert kept.is_dir(), kept
    assert (foreign / "thesis.tex").exists()


def test_a_killed_runs_staging_folder_is_cleaned_by_the_next_run(tmp_path: Path) -> None:
    process = _start_run(tmp_path, ["--out", "o"])
    try:
        _wait_for(lambda: any(tmp_path.glob(f".o.*.tmp/{runfolder.MARKER}")), process)
        time.sleep(1)
    finally:
        process.kill()
        process.communicate()
    assert [p.name for p in tmp_path.glob(".o.*.tmp")]
    runner.run(SMALL, out=tmp_path / "o", until_days=1).close()
    assert _names(tmp_path) == ["o"]


def test_a_failed_rename_of_the_old_run_leaves_no_debris_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r"
    runner.run(SMALL, out=out, until_days=1).close()
    before = (out / "run.json").read_text()
    real_replace = os.replace

    def busy(source: Any, destination: Any) -> None:
        if Path(source) == out:
            raise OSError(errno.EBUSY, "Device or resource busy")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", busy)
    with pytest.raises(TeamsimError, match=r"r: cannot put the run in place: Device or resource "
                                           r"busy; is it a mount point\?"):
        runner.run(SMALL, out=out, until_days=1, seed=3, force=True)
    assert _names(tmp_path) == ["r"]
    assert (out / "run.json").read_text() == before


def test_a_mount_point_is_refused_before_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "mnt"
    out.mkdir()
    (out / "lost+found").mkdir()
    monkeypatch.setattr(os.path, "ismount", lambda path: Path(path) == out)
    with pytest.raises(TeamsimError, match=r"mnt: is a mount point.*like --out .*mnt/run"):
        runner.run(SMALL, out=out, until_days=1, force=True)
    assert _names(tmp_path) == ["mnt"]


# ---------------------------------------------------------------------------------------------
# 2. --db: a run that fails or is killed leaves the database as it was

_BAD_LATER = """\
name: Fails on day two
start: 2026-03-02T08:00:00
days: 3
seed: 1
sequences:
  - name: Intro
    steps:
      - {kind: message, label: Say hello}
      - {kind: wait, days: 1}
      - {kind: message, label: Broken, subject_template: "{{ 1/0 }}"}
personas: [{name: default, reply: 0.0}]
populations: [{count: 3, enroll_in: [Intro]}]
approver: {approve: 1.0, edit: 0.0, reject: 0.0}
"""


def test_a_run_failing_at_run_time_leaves_the_database_as_it_was(
    store_url: str, tmp_path: Path
) -> None:
    Store.open(store_url).close()
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(_BAD_LATER)
    with pytest.raises(Exception, match=r"(?i)division|zero|template"):
        runner.run(scenario, out=tmp_path / "r", db=store_url)
    for table in ("runs", "run_metrics", "run_events", "run_teammates", "events", "teammates",
                  "sequences", "contacts", "tasks"):
        assert _count(store_url, table) == 0, table
    assert _names(tmp_path) == ["bad.yaml"] + (["teamsim.db"] if "sqlite" in store_url else [])


def test_a_second_run_into_the_same_database_is_kept_beside_the_first(
    store_url: str, tmp_path: Path
) -> None:
    # It used to be refused ("a teammate named 'Riley' already exists"): runs are kept apart.
    first = runner.run(SMALL, db=store_url, until_days=1)
    first.close()
    again = runner.run(SMALL, db=store_url, until_days=1, out=tmp_path / "again")
    again.close()
    assert (first.run_id, again.run_id) == (1, 2)
    assert again.digest == first.digest
    assert _count(store_url, "run_events") == 2 * len(first.events)
    assert json.loads((tmp_path / "again" / "run.json").read_text())["run_id"] == 2


def test_a_failed_run_removes_the_sqlite_file_it_created(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(_BAD_LATER)
    with pytest.raises(Exception, match=r"(?i)division|zero|template"):
        runner.run(scenario, db=str(tmp_path / "new.db"))
    assert _names(tmp_path) == ["bad.yaml"]


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
      - {kind: wait, days: 2}
      - {kind: message, label: Last one}
personas: [{name: default, reply: 0.1}]
populations: [{count: 600, enroll_in: [Intro], enroll_over_days: 20}]
approver: {approve: 1.0, edit: 0.0, reject: 0.0}
"""


def _start_run(folder: Path, extra: list[str]) -> subprocess.Popen[bytes]:
    scenario = folder.parent / f"{folder.name}-long.yaml"
    scenario.write_text(_LONG)
    return subprocess.Popen([str(TEAMSIM), "run", str(scenario), *extra], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(ready: Any, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the process never got there"
        time.sleep(0.05)


def test_a_killed_db_run_leaves_the_database_as_it_was(store_url: str, tmp_path: Path) -> None:
    Store.open(store_url).close()
    process = _start_run(tmp_path, ["--out", "o", "--db", store_url])
    try:
        # The staging folder appears once the database is open; then simulate for a while.
        _wait_for(lambda: any(tmp_path.glob(".o.*.tmp")), process)
        time.sleep(2.5)
        assert process.poll() is None, "the run finished before it could be killed"
    finally:
        process.kill()
        process.communicate()
    assert not (tmp_path / "o").exists()
    for table in ("runs", "run_metrics", "run_events", "run_tasks", "events", "teammates",
                  "sequences", "contacts", "tasks", "messages"):
        assert _count(store_url, table) == 0, table


# ---------------------------------------------------------------------------------------------
# 4. sweep workers: gone when the parent is killed; Ctrl-C is one line and exit 130


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if int(parent) == pid and state != "Z":
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _descendants(pid: int) -> list[int]:
    """``pid``'s children, their children, and so on."""
    found, todo = [], [pid]
    while todo:
        children = _children(todo.pop())
        found += children
        todo += children
    return found


@pytest.fixture
def sweep_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[int]]]:
    """``teamsim sweep --workers 2`` in its own session, once both workers have started."""
    process = subprocess.Popen(
        [str(TEAMSIM), "sweep", str(SMALL), "--seeds", "0:60", "--workers", "2", "--out", "s"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    children: list[int] = []
    try:
        deadline = time.monotonic() + 120
        # Two workers, multiprocessing's resource tracker and (where workers are forked from
        # it) the fork server, whose children the workers are.
        expected = 4 if "forkserver" in multiprocessing.get_all_start_methods() else 3
        while len(_descendants(process.pid)) < expected:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.05)
        children = _descendants(process.pid)
        yield process, children
    finally:
        if process.poll() is None:
            process.kill()
        for pid in children:  # orphans (the defect under test) would hold the pipes open
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        process.communicate(timeout=60)


@pytest.mark.skipif(not LINUX, reason="reads /proc to find the workers")
def test_sweep_workers_exit_when_the_parent_is_killed(
    sweep_process: tuple[subprocess.Popen[str], list[int]]
) -> None:
    process, workers = sweep_process
    time.sleep(1)
    process.kill()
    process.wait()
    _wait_until_gone(workers)


def _wait_until_gone(pids: list[int], timeout: float = 60) -> None:
    """Workers and multiprocessing's resource tracker notice the parent is gone within a
    bounded time (a worker still starting first finishes its imports)."""
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if _alive(pid)]


@pytest.mark.skipif(not LINUX, reason="reads /proc to find the workers")
def test_ctrl_c_early_in_a_sweep_prints_one_line_and_exits_130(
    sweep_process: tuple[subprocess.Popen[str], list[int]], tmp_path: Path
) -> None:
    process, workers = sweep_process
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.startswith("interrupted: ")
    assert stderr.endswith(" of 60 runs finished; their rows are kept in s/sweep.csv: run the "
                           "same command with --resume (resume=True) to run only the rest\n")
    assert len(stderr.splitlines()) == 1
    _wait_until_gone(workers)
    assert _names(tmp_path) == ["s"]  # the finished rows are kept (issue 13)
    assert _names(tmp_path / "s") == ["sweep.csv"]


# ---------------------------------------------------------------------------------------------
# 5. read commands read


@pytest.fixture(scope="module")
def finished_run(cli: typer.Typer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run folder of the shipped rules scenario (it has rules to list)."""
    out = tmp_path_factory.mktemp("ro") / "run"
    scenario = ROOT / "scenarios" / "trust-a-teammate.yaml"
    result = CliRunner().invoke(cli, ["run", str(scenario), "--out", str(out)])
    assert result.exit_code in (0, 1), result.output
    # A finished run's store.db is in rollback-journal mode: opening it read-write (WAL mode)
    # would rewrite its header, which the snapshot below would see even as root.
    Store.seal(out / "store.db")
    return out


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.mark.parametrize("command", [
    ["inbox"], ["rules", "list"], ["rules", "preview", "@", "1"],
    ["diagnose", "@", "--sequence", "Kitchen remodel enquiries"],
])
def test_read_commands_change_nothing_in_the_run_folder(
    cli: typer.Typer, finished_run: Path, command: list[str]
) -> None:
    before = _snapshot(finished_run)
    args = [str(finished_run) if part == "@" else part for part in command]
    if "@" not in command:
        args.append(str(finished_run))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    assert _snapshot(finished_run) == before  # bytes and times; no -wal or -shm beside it


def test_read_commands_work_on_a_read_only_run_folder(
    cli: typer.Typer, finished_run: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "ro"
    copy.mkdir()
    for file in finished_run.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    for file in [*copy.iterdir(), copy]:
        file.chmod(0o555 if file.is_dir() else 0o444)
    try:
        result = CliRunner().invoke(cli, ["inbox", str(copy)])
        assert result.exit_code == 0, result.output
        assert _names(copy) == _names(finished_run)
    finally:
        copy.chmod(0o755)


@pytest.mark.parametrize("command", [["inbox"], ["rules", "list"]])
def test_a_run_json_naming_another_database_never_creates_it(
    cli: typer.Typer, finished_run: Path, tmp_path: Path, command: list[str]
) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    for file in finished_run.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    info = json.loads((folder / "run.json").read_text())
    info["db"] = f"sqlite:///{tmp_path / 'planted.db'}"
    (folder / "run.json").write_text(json.dumps(info))
    result = CliRunner().invoke(cli, [*command, str(folder)])
    assert result.exit_code == 2
    assert "pass --db with that database" in result.stderr
    assert not (tmp_path / "planted.db").exists()
    explicit = CliRunner().invoke(cli, [*command, str(folder), "--db",
                                        str(tmp_path / "missing.db")])
    assert explicit.exit_code == 2
    assert explicit.stderr.startswith("error: ")
    assert not (tmp_path / "missing.db").exists()


# ---------------------------------------------------------------------------------------------
# 6. secrets never shown or stored


def test_a_malformed_db_url_is_one_error_line_with_the_password_masked(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", str(SMALL), "--out", "r", "--db",
                                      "postgresql+psycopg://u:pw@127.0.0.1:notaport/test"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --db: not a database URL: postgresql+psycopg://u:***@127.0.0.1:notaport/test "
        "(the port is not a number); write a file path such as ./teamsim.db or a URL such as "
        "postgresql+psycopg://user@host:5432/dbname\n")
    assert _names(tmp_path) == []


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://u@127.0.0.1:1/test?password=S3CRET",
    "postgresql+psycopg://u:S3CRET@127.0.0.1:1/test",
    "postgresql+psycopg://u@127.0.0.1:1/test?sslmode=disable&PassWord=S3CRET",
    "nosuchdriver://u@h/db?sslpassword=S3CRET",
])
def test_database_errors_never_show_the_password(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", str(SMALL), "--out", "r", "--db", url])
    assert result.exit_code == 2
    assert "S3CRET" not in result.output
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.postgresql
def test_run_json_stores_the_url_with_the_password_masked(
    store_url: str, tmp_path: Path
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("a password in the URL is a PostgreSQL case")
    url = f"{store_url}&password=S3CRET"  # trust auth: the server ignores it
    runner.run(SMALL, out=tmp_path / "r", db=url, until_days=1).close()
    stored = (tmp_path / "r" / "run.json").read_text()
    assert "S3CRET" not in stored
    assert "password=%2A%2A%2A" in stored or "password=***" in stored


# ---------------------------------------------------------------------------------------------
# 7. a full disk is named, not hidden behind a TypeError


def test_a_full_database_is_reported_as_such_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from teamsim.store import _store

    pragmas = _store._sqlite_pragmas

    def tiny(connection: Any, record: Any) -> None:
        pragmas(connection, record)
        connection.execute("PRAGMA max_page_count=60")  # SQLite's own "disk is full"

    monkeypatch.setattr(_store, "_sqlite_pragmas", tiny)
    scenario = ROOT / "scenarios" / "welcome-renovation-leads.yaml"
    with pytest.raises(TeamsimError, match=r"out: cannot write the run: database or disk is "
                                           r"full$"):
        runner.run(scenario, out=tmp_path / "out")
    assert _names(tmp_path) == []


def test_no_space_for_the_run_files_is_an_error_line_and_leaves_nothing(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("teamsim.runner._run.write_run", full)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", str(SMALL), "--out", "out", "--until", "1"])
    assert result.exit_code == 2
    assert result.stderr == "error: out: cannot write the run: No space left on device\n"
    assert _names(tmp_path) == []


def test_an_empty_unmarked_staging_folder_is_removed_only_when_old(tmp_path: Path) -> None:
    fresh = tmp_path / ".r.aaaa1111.tmp"
    old = tmp_path / ".r.bbbb2222.tmp"
    fresh.mkdir()
    old.mkdir()
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    runfolder.clean_stale(tmp_path / "r", (runner.RUN_FOLDER,))
    assert _names(tmp_path) == [".r.aaaa1111.tmp"]


@pytest.mark.parametrize("command", [["inbox"], ["rules", "list"],
                                     ["diagnose", "--sequence", "Intro"]])
def test_read_commands_name_db_for_a_malformed_url(
    cli: typer.Typer, finished_run: Path, command: list[str]
) -> None:
    result = CliRunner().invoke(cli, [*command, str(finished_run), "--db",
                                      "postgresql+psycopg://u:pw@h:notaport/db"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --db: not a database URL: "
                                    "postgresql+psycopg://u:***@h:notaport/db")
    assert "pw" not in result.stderr.replace("postgresql", "")


def test_an_unreachable_db_keeps_the_stores_advice(tmp_path: Path) -> None:
    with pytest.raises(TeamsimError, match=r"^cannot open database postgresql\+psycopg://u@"
                                           r"127.0.0.1:1/test: .*check that the server is "
                                           r"running"):
        runner.run(SMALL, out=tmp_path / "r", db="postgresql+psycopg://u@127.0.0.1:1/test")
    assert _names(tmp_path) == []


def test_test_out_replaces_earlier_runs_only_with_force(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["test", str(SMALL), "--out", "t"]).exit_code == 0
    again = CliRunner().invoke(cli, ["test", str(SMALL), "--out", "t"])
    assert again.exit_code == 2
    assert "t/run_small-seed7: holds an earlier teamsim run; pass --force" in again.stderr
    assert CliRunner().invoke(cli, ["test", str(SMALL), "--out", "t", "--force"]).exit_code == 0
    assert _names(tmp_path / "t") == ["run_small-seed7"]


# ---------------------------------------------------------------------------------------------
# 8. review fixes: a new --db file, and a folder that cannot be put in place


def test_a_failed_run_keeps_a_new_db_file_another_run_committed_into(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs A and B start at once with the same new --db: B commits first, A fails and
    must not delete the file holding B's run."""
    db = str(tmp_path / "new.db")
    bad = tmp_path / "bad.yaml"
    bad.write_text(_BAD_LATER)
    real_open = Store.open
    raced: list[bool] = []

    def open_after_another_run(url: Any = None, **kwargs: Any) -> Store:
        if url == db and not raced:
            raced.append(True)
            runner.run(SMALL, db=db, until_days=1).close()  # run B, start to commit
        return real_open(url, **kwargs)

    monkeypatch.setattr(Store, "open", open_after_another_run)
    with pytest.raises(Exception, match=r"(?i)division|zero|template"):
        runner.run(bad, db=db)
    assert raced
    assert _count(db, "runs") == 1
    assert _count(db, "run_events") > 0


@pytest.fixture
def unclosed_stores(monkeypatch: pytest.MonkeyPatch) -> list[Store]:
    """The stores opened and not (yet) closed since the test began."""
    unclosed: list[Store] = []
    real_open, real_close = Store.open, Store.close

    def open_(url: Any = None, **kwargs: Any) -> Store:
        store = real_open(url, **kwargs)
        unclosed.append(store)
        return store

    def close(self: Store) -> None:
        if self in unclosed:
            unclosed.remove(self)
        real_close(self)

    monkeypatch.setattr(Store, "open", open_)
    monkeypatch.setattr(Store, "close", close)
    return unclosed


def test_a_run_folder_that_cannot_be_put_in_place_rolls_the_db_run_back(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    unclosed_stores: list[Store],
) -> None:
    Store.open(store_url).close()

    def foreign_file_appeared(*args: Any, **kwargs: Any) -> None:
        raise TeamsimError("r: exists and is not a teamsim run directory; nothing was changed")

    monkeypatch.setattr(runfolder, "_swap", foreign_file_appeared)
    with pytest.raises(TeamsimError, match="nothing was changed"):
        runner.run(SMALL, out=tmp_path / "r", db=store_url, until_days=1)
    for table in ("runs", "run_events", "events", "teammates", "sequences", "contacts",
                  "tasks"):
        assert _count(store_url, table) == 0, table
    assert unclosed_stores == []
    assert not (tmp_path / "r").exists()


def test_the_db_store_is_closed_when_the_staging_folder_cannot_be_made(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    unclosed_stores: list[Store],
) -> None:
    def no_room(*args: Any, **kwargs: Any) -> None:
        raise TeamsimError("r: cannot create the output folder: No space left on device")

    monkeypatch.setattr(runfolder, "make_staging", no_room)
    with pytest.raises(TeamsimError, match="No space left"):
        runner.run(SMALL, out=tmp_path / "r", db=store_url, until_days=1)
    assert unclosed_stores == []


def test_a_new_db_file_is_removed_when_the_folder_cannot_be_put_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(*args: Any, **kwargs: Any) -> None:
        raise TeamsimError("r: cannot put the run in place: Device or resource busy")

    monkeypatch.setattr(runfolder, "_swap", busy)
    with pytest.raises(TeamsimError, match="busy"):
        runner.run(SMALL, out=tmp_path / "r", db=str(tmp_path / "new.db"), until_days=1)
    assert _names(tmp_path) == []


def test_a_run_never_takes_another_targets_stale_old_run(tmp_path: Path) -> None:
    # ".foo.x.abcd1234.old" is the holding folder of target "foo.x", not of "foo".
    other = _staging(tmp_path, ".foo.x.abcd1234.old", _dead_pid())
    (other / "run").mkdir()
    (other / "run" / "run.json").write_text("foo.x's run")
    runner.run(SMALL, out=tmp_path / "foo", until_days=1).close()
    assert (other / "run" / "run.json").read_text() == "foo.x's run"
    assert json.loads((tmp_path / "foo" / "run.json").read_text())["seed"] == 7


def _replace_failing(monkeypatch: pytest.MonkeyPatch, fail: Any) -> None:
    real_replace = os.replace

    def replace(source: Any, destination: Any) -> None:
        error = fail(Path(source))
        if error is not None:
            raise error
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace)


def test_the_old_run_is_kept_when_neither_the_new_one_nor_the_old_one_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r"
    runner.run(SMALL, out=out, until_days=1).close()
    before = (out / "run.json").read_text()
    _replace_failing(monkeypatch, lambda source: OSError(errno.EIO, "I/O error")
                     if source.name.endswith(".tmp") or source.name == "run" else None)
    with pytest.raises(TeamsimError, match=r"r: cannot put the run in place: I/O error"):
        runner.run(SMALL, out=out, until_days=1, seed=3, force=True)
    kept = list(tmp_path.glob(".r.*.old/run/run.json"))
    assert [p.read_text() for p in kept] == [before]


def test_ctrl_c_between_the_two_renames_puts_the_old_run_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r"
    runner.run(SMALL, out=out, until_days=1).close()
    before = (out / "run.json").read_text()
    _replace_failing(monkeypatch, lambda source: KeyboardInterrupt()
                     if source.name.endswith(".tmp") else None)
    with pytest.raises(KeyboardInterrupt):
        runner.run(SMALL, out=out, until_days=1, seed=3, force=True)
    assert _names(tmp_path) == ["r"]
    assert (out / "run.json").read_text() == before


def test_a_staging_marker_with_a_huge_pid_is_left_alone(tmp_path: Path) -> None:
    damaged = _staging(tmp_path, ".r.aaaa1111.tmp", 2**70, "events.jsonl")
    assert runfolder.clean_stale(tmp_path / "r", (runner.RUN_FOLDER,)) == []
    assert damaged.is_dir()


def test_stale_cleaning_allows_only_the_files_of_the_folders_kind(tmp_path: Path) -> None:
    dead = _dead_pid()
    with_a_store = _staging(tmp_path, ".s.aaaa1111.tmp", dead, "sweep.csv", "store.db")
    sweep = _staging(tmp_path, ".s.bbbb2222.tmp", dead, "sweep.csv")
    assert runfolder.clean_stale(tmp_path / "s", (runner.SWEEP_FOLDER,)) == [sweep]
    assert with_a_store.is_dir()


def test_a_failed_commit_takes_the_new_folder_out_and_puts_the_old_run_back(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r"
    runner.run(SMALL, out=out, until_days=1).close()
    before = (out / "run.json").read_text()
    Store.open(store_url).close()
    real_commit = UnitOfWork.commit

    def commit_fails(self: UnitOfWork) -> None:
        if self.runs.count() == 0:  # the run's own store, or the database before the run
            real_commit(self)
            return
        raise DatabaseError("disk I/O error", "disk I/O error")  # rolled back

    monkeypatch.setattr(UnitOfWork, "commit", commit_fails)
    with pytest.raises(TeamsimError, match="cannot record the run: disk I/O error"):
        runner.run(SMALL, out=out, db=store_url, until_days=1, seed=3, force=True)
    assert (out / "run.json").read_text() == before
    assert _names(tmp_path) == ["r"] + (["teamsim.db"] if "sqlite" in store_url else [])
    assert _count(store_url, "runs") == 0
    assert _count(store_url, "run_events") == 0


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_an_out_name_too_long_for_the_file_system_is_one_error_line(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the fuzz test: checking the folder raised OSError (an internal error, exit 3).
    monkeypatch.chdir(tmp_path)
    name = "o" * 300
    extra = ["--seeds", "0:1", "--workers", "1"] if command == "sweep" else []
    result = CliRunner().invoke(app, [command, str(SMALL), "--out", name, *extra])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"error: {name}: cannot be used as --out: File name too long; "
                             "choose another --out\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
