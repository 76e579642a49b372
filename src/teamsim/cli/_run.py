"""The evaluation commands of the ``teamsim`` command line: run, test, sweep.

:func:`register` adds them to the Typer app. The runner, the simulator and the store are
imported inside the commands (``teamsim --help`` must not pay for them). Every user-supplied
string is printed through :mod:`teamsim.cli._text`.

Exit codes: 0 when everything passed; 1 when an expectation or an invariant failed (after
printing everything); 2 for invalid input (a bad scenario file, option or run directory), with
one ``error: ...`` line per problem on stderr and nothing written.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from teamsim.cli._common import (
    check_db_option,
    fail,
    out,
)
from teamsim.cli._fromstore import from_store
from teamsim.cli._models import (
    AllowImportsOption,
    CassetteModeOption,
    CassetteOption,
    MaxConcurrencyOption,
    ModelOption,
    ModelOptions,
    print_usage,
)
from teamsim.cli._stops import ctrl_c, resume_run, say_stopped, stop_point
from teamsim.cli._sweep import sweep_command
from teamsim.cli._tables import AllowLarge
from teamsim.cli._tables import progress_bar as _progress
from teamsim.cli._tables import report_table as _table
from teamsim.cli._text import plain
from teamsim.model import ScenarioError, TeamsimError

if TYPE_CHECKING:
    from rich.console import Console

    from teamsim import runner

__all__ = ["KEY_METRICS", "register"]

KEY_METRICS = (
    "enrolled", "sent", "approvals_human", "approvals_rule", "edits", "rejections", "replies",
    "reply_rate", "paused_by_reply", "approval_latency_hours_p50", "approval_latency_hours_p90",
    "attention_peak", "attention_open_at_end", "human_minutes",
)
"""The metrics ``teamsim run`` shows after the funnel (metrics.json holds every one)."""


def register(app: typer.Typer) -> None:
    """Add ``run``, ``test`` and ``sweep`` to ``app``."""
    app.command("run")(run_command)
    app.command("test")(run_tests)
    app.command("sweep")(sweep_command)


def _number(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


# ---------------------------------------------------------------------------------------------
# run


MAX_UNTIL_DAYS = 3650
"""The longest ``--until``, in days: the longest run a scenario's ``days`` allows."""
MIN_UNTIL_DAYS = 1 / 1440
"""The shortest ``--until``: one simulated minute (time in a run is counted in minutes)."""


def _until_days(until: float | None, option: str = "--until") -> float | None:
    """``--until`` (or ``--stop-at``) checked: a finite number of days from one minute to
    :data:`MAX_UNTIL_DAYS`."""
    if until is None:
        return None
    if not math.isfinite(until) or not MIN_UNTIL_DAYS <= until <= MAX_UNTIL_DAYS:
        raise fail(f"{option}: {until:g} is not a run length; give simulated days from "
                    f"{MIN_UNTIL_DAYS:.6f} (one minute) to {MAX_UNTIL_DAYS}, like {option} 7 "
                    f"or {option} 0.5")
    return until


def run_command(
    scenario: Annotated[str | None, typer.Argument(
        help="The scenario file (YAML); not with --resume.", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: the scenario's).",
                                             show_default=False)] = None,
    until: Annotated[float | None, typer.Option(
        "--until", help="Stop after this many simulated days (default: the scenario's days; "
        f"at least one minute, 1/1440, at most {MAX_UNTIL_DAYS}).",
        show_default=False)] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Run directory (default: runs/<file stem>-seed<N>).",
        show_default=False)] = None,
    db: Annotated[str | None, typer.Option(
        "--db", help="Record the run in this database (SQLite path or SQLAlchemy URL) "
        "instead of the run directory's store.db, beside the runs it keeps already "
        "(`teamsim runs list --db URL`).", show_default=False)] = None,
    allow_large: AllowLarge = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier run folder at --out.")] = False,
    model: ModelOption = None,
    allow_imports: AllowImportsOption = False,
    cassette: CassetteOption = None,
    cassette_mode: CassetteModeOption = None,
    max_concurrency: MaxConcurrencyOption = None,
    decisions: Annotated[Path | None, typer.Option(
        "--decisions", help="Replay a person's decisions (the journal `teamsim serve` "
        "wrote) instead of the scripted approver.", show_default=False)] = None,
    stop_at: Annotated[str | None, typer.Option(
        "--stop-at", help="Stop after this many simulated days, or at a simulated time "
        "(2026-03-04T12:00, local in the scenario's time zone), resumably: the run folder is "
        "left stopped; go on with --resume.", show_default=False)] = None,
    sequence: Annotated[str | None, typer.Option(
        "--sequence", help="Simulate this sequence as `teamsim seq` stored it in --db (its "
        "enrolled people, or --contacts), instead of a scenario file.",
        show_default=False)] = None,
    contacts: Annotated[Path | None, typer.Option(
        "--contacts", help="With --sequence: the people to enroll, a CSV with a header row: "
        "name,email and optionally company,timezone,persona,enroll_at; other columns become "
        "attributes.", show_default=False)] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", help="Resume the stopped (Ctrl-C, --stop-at) or killed run in this run "
        "folder, or the stopped run with this id in --db; the digest is the uninterrupted "
        "run's.", show_default=False)] = None,
) -> None:
    """Run a scenario: funnel per step, key metrics, expectations; exit 1 if any fails.

    Ctrl-C stops the run at the next simulated hour and leaves its folder stopped (exit 130);
    `teamsim run --resume DIR` goes on from there (a --db run is also recorded as stopped:
    `teamsim run --resume ID --db URL`).
    """
    # The runner and the loader load the simulator (LangGraph, SimPy, SciPy): start-up.
    from teamsim import runner
    from teamsim.scenario import load_scenario

    until = _until_days(until)
    stop = stop_point(stop_at)
    check_db_option(db)
    options = ModelOptions.parse(model, allow_imports, cassette, cassette_mode, max_concurrency)
    if decisions is not None and resume is not None:
        raise fail("--decisions: a stopped run replays the decisions its journal carries; "
                   "resume it with --resume alone")
    if resume is not None:
        if scenario is not None or until is not None or seed is not None:
            raise fail("--resume: give the run folder or id alone (the scenario, its seed and "
                       "length come from the stopped run), like `teamsim run --resume DIR`")
        _report(resume_run(resume, stop, db, options))
        return
    stored = None
    if sequence is not None or contacts is not None:
        scenario, stored = from_store(scenario, sequence, contacts, db, stop)
        db = None  # read from, not recorded in (see the README)
    if scenario is None:
        raise fail("SCENARIO: missing; give a scenario file (`teamsim run SCENARIO`), "
                   "--db URL --sequence NAME, or --resume RUN_DIR")
    try:
        world = stored if stored is not None else load_scenario(scenario)
        runner.check_expectation_names(world, scenario)
        chosen = world.run_seed(seed)  # to name the folder and the progress bar
        target = out_dir if out_dir is not None else runner.default_out_dir(scenario, chosen)
        days = world.days if until is None else until
        journal = None if decisions is None else runner.DecisionJournal.read(
            decisions, world, chosen)
        # The world already loaded, not the path: a pipe (<(command)) is read only once.
        # A replayed journal of decisions is copied into the run's journal, so a stopped
        # replay resumes without it.
        with _progress(math.ceil(days), f"{world.name} (seed {chosen})") as update, \
                ctrl_c(sequence is None) as interrupted:
            result = runner.run(world, seed=seed, until_days=until, out=target, db=db,
                                force=force, progress=update, allow_large=allow_large,
                                source=str(scenario), stop_at=stop, decisions=journal,
                                interrupted=interrupted, **options.run_arguments())
    except TeamsimError as exc:
        raise fail(str(exc)) from None
    except runner.RunStopped as stopped:
        raise say_stopped(stopped) from None
    _report(result)


def _report(result: runner.RunResult) -> None:
    try:
        print_run(out, result)
    finally:
        result.close()
    if not result.passed:
        raise typer.Exit(code=1)


def verdict(passed: bool) -> Text:
    """``PASS`` in green or ``FAIL`` in red (plain when the output is not a terminal)."""
    return Text("PASS", style="green") if passed else Text("FAIL", style="bold red")


_FUNNEL_COUNTS = ("due", "drafted", "human", "rule", "sent", "opened", "clicked", "replied")


def _funnel(result: runner.RunResult, width: int) -> Table:
    """The funnel per message step, one line a step, at most ``width`` columns: a heading row
    per sequence, then each step as ``id label`` (cut short with … when the width needs it),
    its channel and its counts."""
    from teamsim.reports import step_funnel  # reads events only, but keep --help light

    rows = step_funnel(result.events, result.world)
    cells: list[tuple[Text | str, ...]] = [
        (plain(f"  {row.step_id} {row.label}".rstrip()), plain(row.channel),
              *(str(v) for v in (row.due, row.drafted, row.approved_human, row.approved_rule,
                                 row.sent, row.opened, row.clicked, row.replied)))
             for row in rows]
    funnel = _table("step", "channel", *_FUNNEL_COUNTS,
                    title="Funnel per step (approved by the human / by a rule)",
                    right=_FUNNEL_COUNTS)
    # No padding: the box's one-space divider alone parts the columns, so ten fit 80.
    funnel.padding = (0, 0, 0, 0)
    fixed = [max([len(str(column.header)), *(len(str(row[i])) for row in cells)])
             for i, column in enumerate(funnel.columns) if i]
    for column in funnel.columns:
        column.no_wrap = True
    funnel.columns[0].overflow = "ellipsis"
    funnel.columns[0].max_width = max(12, width - sum(fixed) - (len(funnel.columns) - 1))
    sequence = None
    for row, row_cells in zip(rows, cells, strict=True):
        if row.sequence != sequence:
            sequence = row.sequence
            funnel.add_row(plain(sequence, style="bold"))
        funnel.add_row(*row_cells)
    return funnel


def print_run(out: Console, result: runner.RunResult) -> None:
    """The summary of a run: header, funnel per step, key metrics, the scenario's expectations,
    then the invariants (the checks every run must pass) apart from them."""
    from teamsim.sim import INVARIANT_COUNTERS  # the simulator: start-up

    where = f" -> {result.out_dir}" if result.out_dir is not None else ""
    out.print(f"{result.world.name}: seed {result.seed}, {result.until_days:g} days, "
              f"{len(result.events)} events, digest {result.digest[:12]}{where}")
    if result.run_id is not None:
        out.print(f"recorded as run {result.run_id} in the --db database: `teamsim runs show "
                  f"{result.run_id} --db URL`, `teamsim inbox --db URL --run {result.run_id}`",
                  markup=False)
    out.print(_funnel(result, out.width))
    metrics = _table("metric", "value", title="Key metrics", right=("value",))
    for name in KEY_METRICS:
        metrics.add_row(name, _number(result.metrics[name]))
    out.print(metrics)
    print_usage(out, result.metrics)
    own = [e for e in result.expectations if e.metric not in INVARIANT_COUNTERS]
    if own:
        checks = _table("", "metric", "expected", "actual", title="Expectations")
        for e in own:
            checks.add_row(verdict(e.passed), plain(e.metric), plain(e.expected),
                           plain(_number(e.actual)))
        out.print(checks)
    else:
        out.print("Expectations: none in this scenario")
    invariants = _table("", "invariant", "count", title="Invariants (0 in every correct run)",
                        right=("count",))
    for name in INVARIANT_COUNTERS:
        value = result.metrics[name]
        held = (value == 0 and all(e.passed for e in result.expectations if e.metric == name)
                and not any(line.startswith(f"{name}:") for line in result.violations))
        invariants.add_row(verdict(held), name, _number(value))
    out.print(invariants)
    if result.violations:
        out.print(f"Invariant violations ({len(result.violations)}):")
        for line in result.violations:
            out.print(f"  {line}")
    failed = sum(not e.passed for e in own)
    word = "passed" if result.passed else "FAILED"
    out.print(f"{word}: {len(own) - failed} of {len(own)} expectations met, "
              f"{len(result.violations)} invariant violations")


# ---------------------------------------------------------------------------------------------
# test


def _scenario_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.yaml") if p.is_file())
            if not found:
                problems.append(f"{path}: no scenario files (*.yaml) in it")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or directory; check the path")
    return files, problems


def run_tests(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Scenario files or folders searched for *.yaml (default: scenarios/).",
        show_default=False)] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Also write each run to DIR/<file stem>-seed<N>.",
        show_default=False)] = None,
    allow_large: AllowLarge = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace earlier run folders under --out.")] = False,
    model: ModelOption = None,
    allow_imports: AllowImportsOption = False,
    cassette: CassetteOption = None,
    cassette_mode: CassetteModeOption = None,
    max_concurrency: MaxConcurrencyOption = None,
) -> None:
    """Run every scenario with its default seed and report each expectation, like pytest."""
    # The runner and the loader load the simulator (LangGraph, SimPy, SciPy): start-up.
    from teamsim import runner
    from teamsim.scenario import check_size, load_scenario

    options = ModelOptions.parse(model, allow_imports, cassette, cassette_mode, max_concurrency)
    files, problems = _scenario_files(paths or [Path("scenarios")])
    for problem in problems:
        fail(problem)
    invalid = bool(problems)
    passed = failed = 0
    for path in files:
        try:
            world = load_scenario(path)
            runner.check_expectation_names(world, str(path))
            target = None if out_dir is None else out_dir / f"{path.stem}-seed{world.seed}"
            check_size(world, allow_large, str(path))
            result = runner.run(world, out=target, allow_large=allow_large, force=force,
                                source=str(path), **options.run_arguments())
        except ScenarioError as exc:
            fail(str(exc))
            invalid = True
            continue
        except TeamsimError as exc:
            fail(f"{path}: {exc}")
            invalid = True
            continue
        try:
            out.print(f"{path} ({world.name}, seed {result.seed})")
            for e in result.expectations:
                out.print(Text.assemble("  ", verdict(e.passed),
                                        plain(f" {e.metric} {e.expected} {_number(e.actual)}")))
                passed += e.passed
                failed += not e.passed
            if result.violations:
                failed += 1
                out.print(Text.assemble("  ", verdict(False),
                                        f" invariants {len(result.violations)} broken"))
                for line in result.violations:
                    out.print(f"    {line}")
            else:
                passed += 1
                out.print(Text.assemble("  ", verdict(True), " invariants all hold"))
        finally:
            result.close()
    out.print(f"{passed} passed, {failed} failed")
    if invalid:
        raise typer.Exit(code=2)
    if failed:
        raise typer.Exit(code=1)
