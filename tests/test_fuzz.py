"""Fuzz test of the command line's contract: no input crashes or hangs teamsim.

Hypothesis feeds two kinds of input through the ``teamsim`` app in-process (Typer's
``CliRunner``):

- **mutated shipped scenarios**: a file of ``scenarios/`` loaded as data, one to three
  mutations applied (a leaf or a branch replaced by a hostile value: huge, negative, infinite
  or NaN numbers, long strings, markup ``[/]``, ANSI escapes, NUL, lone surrogates, templates
  that divide by zero or allocate gigabytes, impossible times, wrong types, empty containers;
  a key deleted; a list element duplicated; a value replaced by raw YAML: 1,000-deep nesting,
  an alias bomb, a 5,000-digit integer, timestamps that do not exist), dumped back to YAML,
  and sometimes its bytes mutated (truncated, flipped, invalid UTF-8, control characters);
  then ``teamsim validate FILE`` and ``teamsim run FILE --until 1 --out DIR``;
- **arbitrary arguments** for ``validate`` and ``run``: the real options with hostile values
  (``--until nan``, ``--seed 1.5``, unreachable and malformed ``--db`` URLs, a password in a
  URL, ``--out`` onto a folder that merely holds a ``run.json``) mixed with junk.

The contract asserted for every invocation (README: bad input; issue 9):

- the exit code is 0, 1 or 2, and nothing but ``SystemExit`` escapes;
- no ``Traceback`` in the output;
- on exit 2 every stderr line starts with ``error: ``, and for a scenario file names the file;
  nothing is left behind: no run folder, no staging folder (``.DIR.*``), no database;
- a scenario file that ``run`` refuses (exit 2) is refused by ``validate`` as well;
- nothing teamsim did not create is deleted, and a password given in a URL appears in no
  output and no file;
- bounded time: each command is interrupted after 20 s (a timer, not Hypothesis' deadline,
  which only measures after the fact: a hang would stall the suite); bounded memory: each
  command runs under an address-space limit of the process's size plus 1 GiB, so an input
  that needs more fails with ``MemoryError`` (a contract violation) instead of taking the
  machine's memory.

How many examples: ``examples(dev=..., ci=..., soak=...)`` (see tests/conftest.py for the
profiles). To survey failures instead of stopping at the first, set ``TEAMSIM_FUZZ_LOG`` to a
file: every violation is appended to it as a JSON line (class, detail, input; a line of kind
``ok`` for an example without any) and the test does not fail; the README's test section shows
the soak command.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import os
import resource
import signal
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from teamsim.cli import app

from .strategies import examples

pytestmark = [
    pytest.mark.fuzz,
    # The timer's exception may land in a finaliser first (see _bounded): not a failure.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

ROOT = Path(__file__).parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
SMALL = (Path(__file__).parent / "data" / "run_small.yaml").read_text(encoding="utf-8")
LOG_VARIABLE = "TEAMSIM_FUZZ_LOG"
SECONDS = 20
HEADROOM = 1 << 30
SECRET = "S3CRET"

_DOCUMENTS = {path.name: yaml.safe_load(path.read_text(encoding="utf-8")) for path in SCENARIOS}
_FUZZ_SETTINGS = settings(
    max_examples=examples(dev=10, ci=50, soak=3_000),
    deadline=None,  # the timer below bounds each command; see the module docstring
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)

# ---------------------------------------------------------------------------------------------
# hostile values

_HOSTILE: list[Any] = [
    10**30, 2**63, -1, -(10**9), 0, float("inf"), float("-inf"), float("nan"), 1e300, 1e-300,
    -0.0, "", " ", "x" * 10_000, "Europe/" + "A" * 300, "[/]", "Say hello [/bold]",
    "[bold red]alarm", "\x1b[31mred\x1b[0m", "a\x00b", "\ud800", "\u202eevil", "{{ 1/0 }}",
    "{{ '{0}'.format_map({}) }}", "{{ 'x' * 4000000000 }}", "{{ undefined_name.attr }}",
    "{% for i in range(10**9) %}x{% endfor %}", "{{", "2026-02-30T08:00:00", "25:00",
    "+99:00", "9999-12-31T23:59:00", True, None, [], {}, ["x"], {"x": 1}, [[[]]],
]
_RAW: list[str] = [
    "[" * 1000 + "]" * 1000,
    # An alias bomb: 9**7 leaves from a few hundred bytes.
    "[" + ", ".join(
        [f"&l0 [{', '.join(['lol'] * 9)}]"]
        + [f"&l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 7)]
    ) + "]",
    "1" * 5000,
    "2026-02-30T08:00:00", "2026-03-02T25:00:00", "2026-03-02T08:00:00+99:00",
    "9999-12-31T23:59:00", ".inf", "-.inf", ".nan", "1e300", "0x7fffffffffffffffff",
    "!!python/object:os.system [echo hi]", "*undefined_alias", "&a [*a]",
]
_PLACEHOLDER = "zzfuzzraw{}zz"


def _paths(node: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a loaded YAML document, the root first."""
    yield here
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*here, index))


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def _mutated_document(draw: st.DrawFn) -> tuple[str, Any, dict[str, str]]:
    """A shipped scenario as data with one to three mutations; raw YAML by placeholder."""
    name = draw(st.sampled_from(sorted(_DOCUMENTS)), label="scenario")
    doc = json.loads(json.dumps(_DOCUMENTS[name], default=str))
    raw: dict[str, str] = {}
    for _ in range(draw(st.integers(1, 3), label="mutations")):
        paths = [path for path in _paths(doc) if path]
        if not paths:
            break
        path = draw(st.sampled_from(paths), label="place")
        parent = _parent(doc, path)
        how = draw(st.sampled_from(["hostile", "hostile", "random", "raw", "delete",
                                    "duplicate", "nest"]), label="how")
        if how == "hostile":
            # A copy: a later mutation may change a list or dict put here, and the shared
            # _HOSTILE value must stay as it is for the next example (else generation is flaky).
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(_HOSTILE), label="value"))
        elif how == "random":
            parent[path[-1]] = draw(
                st.integers() | st.floats() | st.text(max_size=40) | st.booleans()
                | st.none(), label="value")
        elif how == "raw":
            token = _PLACEHOLDER.format(len(raw))
            raw[token] = draw(st.sampled_from(_RAW), label="raw")
            parent[path[-1]] = token
        elif how == "delete":
            del parent[path[-1]]
        elif how == "duplicate":
            if isinstance(parent, list):
                parent.insert(path[-1], json.loads(json.dumps(parent[path[-1]])))
        else:
            parent[path[-1]] = {"deeper": [parent[path[-1]]] * 2}
    return name, doc, raw


@st.composite
def scenario_bytes(draw: st.DrawFn) -> bytes:
    """The bytes of a mutated shipped scenario file."""
    _, doc, raw = draw(_mutated_document())
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)
    for token, snippet in raw.items():
        text = text.replace(token, snippet)
    data = text.encode("utf-8", "surrogatepass")
    for _ in range(draw(st.integers(0, 2), label="byte mutations")):
        how = draw(st.sampled_from(["truncate", "flip", "insert"]), label="bytes how")
        at = draw(st.integers(0, len(data)), label="at")
        if how == "truncate":
            data = data[:at]
        elif how == "flip" and at < len(data):
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
        else:
            junk = draw(st.sampled_from([b"\xff\xfe", b"\x00", b"\t", b"\x1b[2J", b"\r",
                                         b"\xed\xa0\x80", b"&x ", b"*x", b": ", b"- "]))
            data = data[:at] + junk + data[at:]
    return data


# ---------------------------------------------------------------------------------------------
# arguments

_VALUES = {
    "--seed": ["7", "0", "-1", "abc", "1.5", "", "99999999999999999999999999", "1e3", "0x10"],
    "--until": ["1", "0.5", "nan", "inf", "-inf", "1e308", "0.0001", "0", "-1", "abc", "",
                "1e-320"],
    "--out": ["out", "", ".", "sub/out", "scenario.yaml", "precious", "precious/src",
              "runs/x\x00y", "o" * 300],
    "--db": ["f.db", "sqlite:///f.db", "sqlite:////no/such/dir/f.db", "::::", "", "mysql://x",
             "postgresql+psycopg://u:pw@127.0.0.1:notaport/test",
             f"postgresql+psycopg://u@127.0.0.1:1/test?password={SECRET}",
             f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/test", f"f.db?password={SECRET}"],
}
_JUNK = ["--bogus", "-z", "--", "-", "--help", "--seed", "--until", "--out=x", "--seed=3",
         "--until=1", "\x1b[31m", "[/]", "--db"]


@st.composite
def run_arguments(draw: st.DrawFn) -> list[str]:
    """``teamsim run ...`` with a mix of real options, hostile values and junk."""
    args: list[str] = ["run"]
    if draw(st.booleans(), label="has file"):
        args.append(draw(st.sampled_from(["scenario.yaml", "scenario.yaml", "missing.yaml",
                                          "precious", "", "-"]), label="file"))
    for _ in range(draw(st.integers(0, 4), label="options")):
        if draw(st.integers(0, 4), label="junk?") == 0:
            args.append(draw(st.sampled_from(_JUNK) | st.text(max_size=8)))
            continue
        option = draw(st.sampled_from(sorted(_VALUES)), label="option")
        args += [option, draw(st.sampled_from(_VALUES[option]) | st.text(max_size=8))]
    if "--until" not in args and draw(st.booleans(), label="until 1"):
        args += ["--until", "1"]
    return draw(st.permutations(args[1:]).map(lambda rest: ["run", *rest]),
                label="order") if draw(st.booleans(), label="shuffle") else args


@st.composite
def validate_arguments(draw: st.DrawFn) -> list[str]:
    """``teamsim validate ...`` with files that exist or not, and junk."""
    choices = st.sampled_from(["scenario.yaml", "missing.yaml", "precious", "", "-", "--help",
                               "--bogus", "empty.yaml"]) | st.text(max_size=8)
    return ["validate", *draw(st.lists(choices, max_size=4), label="arguments")]


# ---------------------------------------------------------------------------------------------
# running one command under the contract


class _TooSlow(Exception):
    """Raised in the command by the timer: it ran longer than SECONDS."""


@contextlib.contextmanager
def _bounded() -> Iterator[None]:
    """Interrupt after SECONDS; refuse allocations beyond the process size plus HEADROOM."""

    def alarm(_signum: int, _frame: Any) -> None:
        raise _TooSlow(f"still running after {SECONDS} s")

    size = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + HEADROOM if hard == resource.RLIM_INFINITY else min(hard, size + HEADROOM)
    previous = signal.signal(signal.SIGALRM, alarm)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    # Again every second after the first: a signal that lands in a finaliser or a garbage
    # collector callback cannot raise there (Python reports it as unraisable instead).
    signal.setitimer(signal.ITIMER_REAL, SECONDS, 1)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken promise: a class to group by, and the detail."""

    kind: str
    detail: str


def _exception_class(result: Result) -> Violation | None:
    exc = result.exception
    if exc is None or isinstance(exc, SystemExit):
        return None
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [frame for frame in frames if "/teamsim/" in frame.filename or "/src/" in
            frame.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return Violation(f"{type(exc).__name__} at {where}", f"{type(exc).__name__}: {exc}"[:300])


def _snapshot(work: Path) -> dict[str, bytes]:
    """Every file under ``work`` (relative name -> content), directories as empty names."""
    found: dict[str, bytes] = {}
    for path in sorted(work.rglob("*")):
        name = path.relative_to(work).as_posix()
        found[name + ("/" if path.is_dir() else "")] = (
            path.read_bytes() if path.is_file() else b"")
    return found


def check(result: Result, *, work: Path, before: dict[str, bytes], file: str | None,
          argv: list[str]) -> list[Violation]:
    """The contract's violations by one finished command (see the module docstring)."""
    found: list[Violation] = []
    crash = _exception_class(result)
    if crash is not None:
        found.append(crash)
    if result.exit_code not in (0, 1, 2):
        found.append(Violation(f"exit code {result.exit_code}", result.output[-300:]))
    output = result.stdout + result.stderr
    if "Traceback" in output:
        found.append(Violation("traceback in output", output[-300:]))
    after = _snapshot(work)
    lost = [name for name in before if name.startswith("precious") and name not in after]
    if lost:
        found.append(Violation("deleted files teamsim did not create", ", ".join(lost)))
    leaked = [name for name, data in after.items() if SECRET.encode() in data]
    # Only a password in a database URL is a secret; a file named so is echoed as given.
    urls = [value for option, value in itertools.pairwise(argv) if option == "--db"]
    if any(SECRET in url and "://" in url for url in urls):
        if SECRET in output:
            found.append(Violation("password shown in output", output[-300:]))
        if leaked:
            found.append(Violation("password stored in a file", ", ".join(leaked)))
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        bad = [line for line in lines if not line.startswith("error: ")]
        if bad or not lines:
            found.append(Violation("exit 2 without one 'error: ' line per problem",
                                   "\n".join(bad or ["(no stderr)"])[:300]))
        if file is not None:
            unnamed = [line for line in lines if line.startswith("error: ") and file not in line]
            if unnamed:
                found.append(Violation("error line does not name the file", unnamed[0][:300]))
        new = sorted(name for name in set(after) - set(before)
                     if not _sqlite_companion(name, before))
        if new:
            found.append(Violation("output left after exit 2", ", ".join(new)[:300]))
    return found


_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def _sqlite_companion(name: str, before: dict[str, bytes]) -> bool:
    """Whether ``name`` is SQLite's write-ahead log or shared memory of a database that was
    there before: any reader of a database in WAL mode makes them, and a read-only reader
    cannot remove them. They are SQLite's own files of that database, not output teamsim
    left."""
    return any(name.endswith(suffix) and name.removesuffix(suffix) in before
               for suffix in _SQLITE_COMPANIONS)


def invoke(runner: CliRunner, argv: list[str]) -> Result:
    with _bounded():
        return runner.invoke(app, argv)


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A fresh working directory (the current one while the commands run) holding a folder
    that merely looks like a run folder: ``precious/run.json`` and ``precious/src/thesis.tex``."""
    home = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="teamsim-fuzz-") as name:
        work = Path(name)
        (work / "precious" / "src").mkdir(parents=True)
        (work / "precious" / "run.json").write_text("{}\n")
        (work / "precious" / "src" / "thesis.tex").write_text("x\n")
        (work / "empty.yaml").write_text("")
        os.chdir(work)
        try:
            yield work
        finally:
            os.chdir(home)


def report(violations: list[Violation], shown: str) -> None:
    """Fail with the violations, or (``TEAMSIM_FUZZ_LOG`` set) append them to the log."""
    log = os.environ.get(LOG_VARIABLE)
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            for violation in violations or [Violation("ok", "")]:
                handle.write(json.dumps({"kind": violation.kind, "detail": violation.detail,
                                         "input": shown, "size": len(shown)}) + "\n")
        return
    assert not violations, "\n".join(f"{v.kind}: {v.detail}" for v in violations) + (
        f"\ninput:\n{shown}")


# ---------------------------------------------------------------------------------------------
# the tests


@_FUZZ_SETTINGS
@given(data=scenario_bytes())
def test_any_scenario_file_keeps_the_contract(runner: CliRunner, data: bytes) -> None:
    with workdir() as work:
        scenario = work / "scenario.yaml"
        scenario.write_bytes(data)
        shown = data.decode("utf-8", "backslashreplace")
        violations: list[Violation] = []
        codes: dict[str, int] = {}
        for command in (["validate", str(scenario)],
                        ["run", str(scenario), "--until", "1", "--out", str(work / "run")]):
            before = _snapshot(work)
            result = invoke(runner, command)
            codes[command[0]] = result.exit_code
            violations += check(result, work=work, before=before, file=str(scenario),
                                argv=command)
            # Debris of a run that exited 0 or 1 is its own business; start the next clean.
        if codes["run"] == 2 and codes["validate"] == 0:
            violations.append(Violation("validate accepts a file run refuses",
                                        "validate exit 0, run exit 2"))
        report(violations, shown)


@_FUZZ_SETTINGS
@given(argv=run_arguments() | validate_arguments())
def test_any_arguments_keep_the_contract(runner: CliRunner, argv: list[str]) -> None:
    with workdir() as work:
        (work / "scenario.yaml").write_text(SMALL, encoding="utf-8")
        before = _snapshot(work)
        result = invoke(runner, argv)
        report(check(result, work=work, before=before, file=None, argv=argv), repr(argv))
