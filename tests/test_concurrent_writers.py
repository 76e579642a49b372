"""Several processes editing one sequence at the same time lose no acknowledged edit.

Real processes, on a SQLite file and on PostgreSQL: half of them run `teamsim seq add` (the CLI
code, invoked in-process so each process pays its imports once; each command opens the
database afresh, as a shell would) and half call the Workspace API on one open store. They
start together (the test says "go" once every process has done its imports), then every edit
each of them acknowledged must be in the sequence, and every version readable.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from teamsim.store import Store
from teamsim.workspace import Workspace

WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    mode, url, tag, folder = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5]
    count = int(sys.argv[4])
    if mode == "cli":
        from typer.testing import CliRunner
        from teamsim.cli import app
        runner = CliRunner()
    else:
        from teamsim.store import Store
        from teamsim.workspace import Workspace
        store = Store.open(url)
        ws = Workspace(store)
    (Path(folder) / f"ready-{tag}").touch()
    while not (Path(folder) / "go").exists():
        time.sleep(0.005)
    for i in range(count):
        label = f"{tag}-{i}"
        if mode == "cli":
            result = runner.invoke(app, ["seq", "add", "S", "email", "--label", label, "--db", url])
            said = (result.stdout + result.stderr).strip().replace("\\n", " | ")
            lines = said or repr(result.exception)
            print(f"{result.exit_code}\\t{label}\\t{lines}", flush=True)
        else:
            try:
                step = ws.add_email("S", label)
                print(f"0\\t{label}\\tadded {step.id}", flush=True)
            except Exception as exc:
                print(f"{type(exc).__name__}\\t{label}\\t{exc}", flush=True)
    """
)

PROCESSES = (("cli", "c1"), ("cli", "c2"), ("api", "a1"), ("api", "a2"))
EDITS_EACH = 6


def test_concurrent_seq_add_loses_no_edit(store_url: str, tmp_path: Path) -> None:
    with Store.open(store_url) as store:
        Workspace(store).new_sequence("S")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, mode, store_url, tag, str(EDITS_EACH), str(tmp_path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for mode, tag in PROCESSES
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < len(PROCESSES):  # imports done everywhere
        assert time.monotonic() < deadline, "the workers did not start"
        assert all(worker.poll() is None for worker in workers), [w.communicate() for w in workers]
        time.sleep(0.01)
    (tmp_path / "go").touch()
    reports = [worker.communicate(timeout=120) for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * len(workers), reports
    acknowledged: list[str] = []
    for stdout, _ in reports:
        for line in stdout.splitlines():
            code, label, said = line.split("\t")
            assert code == "0", line  # with a lock, every writer waits its turn: none fails
            assert said.startswith("added"), line
            acknowledged.append(label)
    assert len(acknowledged) == len(PROCESSES) * EDITS_EACH

    with Store.open(store_url) as store:
        ws = Workspace(store)
        current = ws.sequence("S")
        versions = ws.versions("S")
    labels = [step.label for step in current.steps]
    assert sorted(labels[3:]) == sorted(acknowledged)
    ids = [step.id for step in current.iter_steps()]
    assert len(ids) == len(set(ids))
    assert [v.version for v in versions] == list(range(1, len(acknowledged) + 2))
    assert current.version == len(acknowledged) + 1
    for saved in versions:  # each version is the one before plus one step
        assert len(saved.sequence.steps) == 3 + saved.version - 1
    assert versions[-1].sequence == current


OPENER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    from teamsim.store import Store

    url, folder, tag = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    (folder / f"ready-{tag}").touch()
    while not (folder / "go").exists():
        time.sleep(0.001)
    try:
        with Store.open(url):
            pass
        print("ok", flush=True)
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", flush=True)
    """
)


def test_processes_opening_a_new_database_at_once_all_find_it_set_up(
    store_url: str, tmp_path: Path
) -> None:
    # Without the set-up lock, the second opener saw half-created tables ("holds tables but no
    # teamsim meta table") or failed creating a table the first had just made.
    script = tmp_path / "opener.py"
    script.write_text(OPENER, encoding="utf-8")
    for attempt in range(3):
        folder = tmp_path / f"try{attempt}"
        folder.mkdir()
        url = (f"sqlite:///{folder / 'new.db'}" if store_url.startswith("sqlite")
               else store_url)
        if attempt and not store_url.startswith("sqlite"):
            break  # one fresh PostgreSQL schema per test
        openers = [subprocess.Popen([sys.executable, str(script), url, str(folder), str(n)],
                                    stdout=subprocess.PIPE, text=True) for n in range(4)]
        deadline = time.monotonic() + 120
        while len(list(folder.glob("ready-*"))) < len(openers):
            assert time.monotonic() < deadline, "the openers did not start"
            time.sleep(0.01)
        (folder / "go").touch()
        said = [opener.communicate(timeout=120)[0].strip() for opener in openers]
        assert said == ["ok"] * len(openers)


def test_opening_a_new_file_waits_for_another_connections_lock(tmp_path: Path) -> None:
    # SQLite answers a journal-mode change with "database is locked" at once, busy timeout or
    # not, while another connection holds a lock: the race CI hit with four openers.
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE scratch (x INTEGER)")
    release = threading.Timer(0.3, lambda: holder.execute("ROLLBACK"))
    release.start()
    try:
        with Store.open(f"sqlite:///{path}") as store, store.unit_of_work() as uow:
            assert uow.runs.list() == []
    finally:
        release.join()
        holder.close()
