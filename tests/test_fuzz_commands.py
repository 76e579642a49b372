"""Fuzz test of the command line's contract for the commands tests/test_fuzz.py leaves out.

Hypothesis builds arbitrary arguments for ``runs list|show|delete``, ``inbox``, ``diagnose``,
``rules list|preview``, ``report``, ``run --resume|--stop-at|--decisions|--sequence``,
``sweep``, ``seq export`` and ``serve``: the real options with hostile values (ids that are
negative, huge or not numbers; database URLs that are malformed, unreachable, a file that is
not a database, an empty file, a directory, a password in a URL; stop times that are NaN,
infinite or do not exist; seeds ``1,,2`` or ``5:1``; ``--set`` without ``=``...) mixed with
junk, and runs them in a fresh copy of a folder made once per module that holds real objects
to aim at: a finished and a stopped run folder, a database with a finished and a stopped run
(and their folders), a sweep folder, a database where ``teamsim seq`` built a sequence, and
files that are none of these.

The contract and its checks are tests/test_fuzz.py's (``check``, ``invoke``, ``report``, the
same settings and ``TEAMSIM_FUZZ_LOG``): exit 0, 1 or 2 and no traceback; on exit 2 one
``error:`` line per problem and nothing left behind; nothing deleted that teamsim did not
create; a password in a URL in no output; 20 s and 1 GiB at most per command.

``serve`` is fuzzed only towards refusals made before it listens (a port in use, out of
range, a bad scenario or database, an existing run folder); should an example get through,
``uvicorn.run`` is replaced by an exit, so no server is ever started. ``--host`` is only ever
a loopback name and ``--address`` a loopback port nothing listens on.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from teamsim.cli import app

from .test_fuzz import (
    _FUZZ_SETTINGS,
    SECRET,
    SMALL,
    Violation,
    _snapshot,
    check,
    invoke,
    report,
)

pytestmark = [
    pytest.mark.fuzz,
    # The timer's exception may land in a finaliser first (see test_fuzz._bounded).
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

BUSY = "{busy}"
"""Replaced by a loopback port that something listens on (for ``serve --port``)."""
CLOSED = "{closed}"
"""Replaced by a loopback port that nothing listens on (for ``sweep --address``)."""


# ---------------------------------------------------------------------------------------------
# the objects the arguments aim at


def _cli(runner: CliRunner, *args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (args, result.output)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of real run folders, databases and impostors, copied into every example."""
    folder = tmp_path_factory.mktemp("fuzz-commands")
    runner = CliRunner()
    home = Path.cwd()
    os.chdir(folder)
    try:
        Path("scenario.yaml").write_text(SMALL, encoding="utf-8")
        _cli(runner, "run", "scenario.yaml", "--out", "finished")
        stopped = runner.invoke(app, ["run", "scenario.yaml", "--out", "stopped",
                                         "--stop-at", "0.5"])
        assert stopped.exit_code == 0, stopped.output
        _cli(runner, "run", "scenario.yaml", "--db", "sqlite:///runs.db", "--out", "dbrun")
        _cli(runner, "run", "scenario.yaml", "--db", "sqlite:///runs.db", "--out", "dbstop",
             "--stop-at", "0.5")
        _cli(runner, "sweep", "scenario.yaml", "--seeds", "0:1", "--workers", "1", "--out",
             "sweep")
        for args in (["new", "Welcome"], ["activate", "Welcome"],
                     ["enroll", "Welcome", "--email", "ada@example.com", "--name", "Ada"]):
            _cli(runner, "seq", *args, "--db", "seq.db")
        Path("contacts.csv").write_text("name,email\nBo,bo@example.com\n", encoding="utf-8")
        Path("bad.csv").write_text('name;mail\n"unclosed,\x00,x\n,,,\n', encoding="utf-8")
        Path("empty.db").write_bytes(b"")
        Path("text.db").write_text("not a database\n" * 10)
        Path("binary.bin").write_bytes(bytes(range(256)) * 8)
        Path("huge.jsonl").write_text('{"kind": "' + "x" * 2_000_000 + '"}\n')
        Path("garbage.jsonl").write_text('{"kind": 1}\nnot json\n[]\n{"at": "nan"}\n')
        Path("empty.jsonl").write_text("")
        Path("adir").mkdir()
        (Path("precious") / "src").mkdir(parents=True)
        Path("precious/run.json").write_text("{}\n")
        Path("precious/src/thesis.tex").write_text("x\n")
    finally:
        os.chdir(home)
    return folder


@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, str]]:
    """A loopback port in use (listening) and one bound but not listening (refuses)."""
    with socket.socket() as busy, socket.socket() as closed:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        closed.bind(("127.0.0.1", 0))
        yield {BUSY: str(busy.getsockname()[1]), CLOSED: str(closed.getsockname()[1])}


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve`` that got through every check exits instead of listening."""
    import uvicorn

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise SystemExit(0)

    monkeypatch.setattr(uvicorn, "run", refuse)
    monkeypatch.delenv("TEAMSIM_DATABASE_URL", raising=False)


@contextlib.contextmanager
def copied(template: Path) -> Iterator[Path]:
    """A fresh copy of the template, the current directory while the command runs."""
    home = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="teamsim-fuzz-") as name:
        work = Path(name) / "w"
        shutil.copytree(template, work)
        os.chdir(work)
        try:
            yield work
        finally:
            os.chdir(home)


# ---------------------------------------------------------------------------------------------
# hostile values

_IDS = ["1", "2", "3", "0", "-1", "99999999999999999999999", "abc", "1.5", "", "1e3", "0x1",
        " 1", "\x1b[31m", "[/]"]
_URLS = ["runs.db", "sqlite:///runs.db", "seq.db", "empty.db", "text.db", "binary.bin", "adir",
         "sqlite:///adir", "missing.db", "sqlite:////no/such/dir/f.db", "::::", "", "mysql://x",
         "sqlite://", "sqlite:///", "sqlite:///:memory:", "postgresql+psycopg://u@127.0.0.1:"
         f"{CLOSED}/t", "postgresql+psycopg://u:pw@127.0.0.1:notaport/t",
         f"postgresql+psycopg://u:{SECRET}@127.0.0.1:{CLOSED}/t",
         f"sqlite:///runs.db?password={SECRET}", "precious/run.json", "finished/store.db",
         "sqlite:///finished/store.db", "[bold]x", "file:runs.db", "~nosuchuser/f.db",
         "sqlite:///~nosuchuser/f.db", "o" * 300, "sqlite:///runs.db?uri=true&mode=ro",
         "sqlite:///runs.db?timeout=abc"]
_DIRS = ["finished", "stopped", "dbrun", "dbstop", "sweep", "precious", "adir", "missing",
         "scenario.yaml", "empty.db", "", "-", "finished/store.db", "finished/run.json",
         "d" * 300, "~nosuchuser", "finished/run.json/x", "sweep/sweep.csv"]
_TEXT = st.text(max_size=8)
_JUNK = ["--bogus", "-z", "--", "-", "--help", "--db", "--run", "--out", "\x1b[31m", "[/]",
         "--force"]


def _pick(values: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(values) | _TEXT


@st.composite
def _command(draw: st.DrawFn, head: list[str], positional: list[list[str]],
             options: dict[str, list[str]], flags: tuple[str, ...] = ()) -> list[str]:
    """``head`` then some of the positionals and options (with hostile values) and junk,
    sometimes shuffled."""
    args: list[str] = []
    for values in positional:
        if draw(st.integers(0, 4), label="positional?"):
            args.append(draw(_pick(values), label="positional"))
    for _ in range(draw(st.integers(0, 4), label="options")):
        roll = draw(st.integers(0, 5), label="kind")
        if roll == 0:
            args.append(draw(st.sampled_from(_JUNK) | _TEXT, label="junk"))
        elif roll == 1 and flags:
            args.append(draw(st.sampled_from(flags), label="flag"))
        elif options:
            option = draw(st.sampled_from(sorted(options)), label="option")
            args += [option, draw(_pick(options[option]), label="value")]
    if draw(st.integers(0, 3), label="shuffle?") == 0:
        args = draw(st.permutations(args), label="order")
    return [*head, *args]


def runs_arguments() -> st.SearchStrategy[list[str]]:
    """``runs list|show|delete``."""
    return (_command(["runs", "list"], [], {"--db": _URLS, "--scenario": ["Small run", ""]})
            | st.sampled_from(["show", "delete"]).flatmap(
                lambda verb: _command(["runs", verb], [_IDS], {"--db": _URLS})))


def reader_arguments() -> st.SearchStrategy[list[str]]:
    """``inbox``, ``diagnose``, ``rules list|preview`` and ``report`` on folders or --db."""
    common = {"--db": _URLS, "--run": _IDS}
    return st.one_of(
        _command(["inbox"], [_DIRS], common),
        _command(["diagnose"], [_DIRS], {**common, "--sequence": ["Intro", "Nope", ""],
                                          "--contact": ["ada@example.com", "x", ""]}),
        _command(["rules", "list"], [_DIRS], {**common, "--timezone": [
            "UTC", "Mars/Olympus", "", "Europe/" + "A" * 300, "+99:00"]}),
        _command(["rules", "preview"], [_DIRS, ["1", "rule", "0", "-1", "", "[/]"]],
                 {**common, "--examples": ["0", "-1", "10**9", "99999999999999", "x"],
                  "--timezone": ["UTC", "Nowhere"]}),
        _command(["report"], [_DIRS], {**common, "--out": [
            "report.html", "", ".", "precious", "precious/src/thesis.tex", "finished",
            "finished/run.json", "adir", "new/sub/r.html", "r\x00.html", "o" * 300]},
            flags=("--force",)),
    )


_STOPS = ["nan", "inf", "-inf", "-1", "0", "0.0", "1e308", "1e-320", "99999999999999999999",
          "2026-03-02T09:00", "2026-02-30T08:00", "2026-03-29T02:30", "2026-03-02T25:00",
          "2026-03-02T08:00+99:00", "9999-12-31T23:59", "0001-01-01T00:00", "tomorrow", "",
          "1,5", "0.5", "1", "P1D", "2026-03-02", "1e3"]


def run_arguments() -> st.SearchStrategy[list[str]]:
    """``run`` with --resume, --stop-at, --decisions and --sequence/--contacts."""
    return st.one_of(
        _command(["run"], [["scenario.yaml", "missing.yaml", ""]], {
            "--resume": [*_DIRS, "1", "2", "99", "-1", "abc"], "--db": _URLS,
            "--stop-at": _STOPS, "--until": ["1", "0.1"], "--out": ["out", "stopped"]},
            flags=("--force",)),
        _command(["run", "scenario.yaml"], [], {"--stop-at": _STOPS, "--until": [
            "1", "0.1", "nan"], "--out": ["out", "finished", "precious"]}),
        _command(["run", "scenario.yaml"], [], {"--decisions": [
            "garbage.jsonl", "empty.jsonl", "binary.bin", "huge.jsonl", "missing.jsonl",
            "adir", "finished/journal.jsonl", "finished/events.jsonl", "scenario.yaml", ""],
            "--until": ["1", "0.5"], "--out": ["out"], "--stop-at": ["0.5", "nan"]}),
        _command(["run"], [], {"--db": ["seq.db", *_URLS], "--sequence": [
            "Welcome", "Nope", "", "1", "-1", "[/]"], "--contacts": [
            "contacts.csv", "bad.csv", "missing.csv", "binary.bin", "empty.jsonl", "adir",
            "huge.jsonl"], "--until": ["1", "0.5"], "--out": ["out"]}),
    )


def resume_arguments() -> st.SearchStrategy[list[str]]:
    """``run --resume X`` on every kind of folder and id, with or without --db."""
    return st.sampled_from([*_DIRS, "1", "2", "99", "0", "-1", "abc", "1e3"]).flatmap(
        lambda target: _command(["run", "--resume", target], [], {
            "--db": _URLS, "--stop-at": _STOPS, "--decisions": ["garbage.jsonl"],
            "--out": ["out", "finished"], "--seed": ["1", "x"]}))


_SEEDS = ["0:1", "0:2", "", ":", "2:1", "1,,2", ",", "0:99999999999", "-5:-3", "a:b", "1.5",
          "0:1:2", "1e3", "99999999999999999999999", "0,0", "1,2,x", "  "]
_SETS = ["approver.sessions=10:00", "noequals", "=1", "a.b.c=1", "days=abc", "days=1,2",
         "days=", "sequences.99.steps.0.days=1", "seed=1.5", "approver=[]", "days=-1",
         "sequences.0.steps.1.days=nan", "personas.x=1", "days=1e308", "name=[/]"]


def sweep_arguments() -> st.SearchStrategy[list[str]]:
    """``sweep`` kept cheap: one or two seeds, one worker, unless the value under test says
    otherwise; clusters only at a loopback port nothing listens on."""
    return _command(["sweep", "scenario.yaml", "--workers", "1"], [], {
        "--seeds": _SEEDS, "--set": _SETS, "--workers": ["0", "-1", "1", "99999999999", "x"],
        "--backend": ["process", "dask", "ray", "threads", "", "PROCESS"],
        "--address": _ADDRESSES,
        "--metrics": ["sent", "nope", "", ",", "sent,,replies", "[/]"],
        "--out": ["sweep", "finished", "precious", "out", "adir"]},
        flags=("--resume", "--force", "--resume")).map(_cheap_seeds)


def cluster_arguments() -> st.SearchStrategy[list[str]]:
    """``sweep --backend dask|ray --address ...``: never a real network address."""
    return st.tuples(st.sampled_from(["dask", "ray"]), _pick(_ADDRESSES)).flatmap(
        lambda chosen: _command(["sweep", "scenario.yaml", "--workers", "1", "--seeds", "0:1",
                                 "--backend", chosen[0], "--address", chosen[1]], [],
                                {"--out": ["out", "sweep"], "--seeds": _SEEDS})).filter(
        _loopback_only)


_ADDRESSES = [f"127.0.0.1:{CLOSED}", f"tcp://127.0.0.1:{CLOSED}", f"ray://127.0.0.1:{CLOSED}",
              "::::", "", "tcp://127.0.0.1:notaport", "127.0.0.1:0", "127.0.0.1:99999999999",
              f"[::1]:{CLOSED}", "tls://127.0.0.1:1", "127.0.0.1", ":1"]


def _loopback_only(args: list[str]) -> bool:
    """Text Hypothesis makes up may name a host: only the listed addresses are tried; and a
    Dask or Ray backend only with one (a local cluster is valid input, but takes longer to
    start than an example may run)."""
    pairs = list(itertools.pairwise(args))
    addresses = [value for option, value in pairs if option == "--address"]
    clusters = any(option == "--backend" and value in ("dask", "ray") for option, value in pairs)
    return all(value in _ADDRESSES for value in addresses) and (bool(addresses)
                                                                 or not clusters)


def _cheap_seeds(args: list[str]) -> list[str]:
    return args if "--seeds" in args else [*args, "--seeds", "0:1"]


def seq_export_arguments() -> st.SearchStrategy[list[str]]:
    """``seq export NAME --db URL``."""
    return _command(["seq", "export"], [["Welcome", "Nope", "1", "0", "-1", "", "[/]"]],
                    {"--db": ["seq.db", *_URLS]})


def serve_arguments() -> st.SearchStrategy[list[str]]:
    """``serve`` with at least one thing it must refuse before it listens."""
    refusal = st.sampled_from([
        ["--port", BUSY], ["--port", "0"], ["--port", "-1"], ["--port", "70000"],
        ["--port", "x"], ["--db", "::::"], ["--db", "mysql://x"], ["--out", "finished"],
        ["--out", "precious"], ["--seed", "abc"], ["--bogus"]])
    scenario = st.sampled_from(["scenario.yaml", "missing.yaml", "empty.db", "adir",
                                "binary.bin", ""])
    extra = st.sampled_from([["--host", "127.0.0.1"], ["--host", "localhost"],
                             ["--journal", "garbage.jsonl"], ["--journal", "adir"],
                             ["--journal", "new/j.jsonl"], ["--force"], ["--db", "runs.db"],
                             ["--port", BUSY]])
    return st.tuples(scenario, st.lists(refusal, min_size=1, max_size=2),
                     st.lists(extra, max_size=2)).map(
        lambda parts: ["serve", parts[0], *[a for group in parts[1] + parts[2] for a in group]])


def command_arguments() -> st.SearchStrategy[list[str]]:
    """Any of the commands above."""
    return st.one_of(runs_arguments(), reader_arguments(), run_arguments(), resume_arguments(),
                     sweep_arguments().filter(_loopback_only), cluster_arguments(),
                     seq_export_arguments(), serve_arguments())


# ---------------------------------------------------------------------------------------------
# the test


@_FUZZ_SETTINGS
@given(argv=command_arguments())
def test_any_command_arguments_keep_the_contract(
        runner: CliRunner, template: Path, ports: dict[str, str], no_server: None,
        argv: list[str]) -> None:
    argv = [_ports(arg, ports) for arg in argv]
    with copied(template) as work:
        before = _snapshot(work)
        result = invoke(runner, argv)
        violations = check(result, work=work, before=before, file=None, argv=argv)
        lost = [name for name in before if "/" not in name and name not in _snapshot(work)
                and not name.endswith(_SQLITE_SIDE_FILES)]
        if lost:
            violations.append(Violation("deleted files teamsim did not create",
                                        ", ".join(lost)))
        report(violations, repr(argv))


# SQLite removes a database's write-ahead log and shared memory when its last connection closes.
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _ports(arg: str, ports: dict[str, str]) -> str:
    for placeholder, port in ports.items():
        arg = arg.replace(placeholder, port)
    return arg
