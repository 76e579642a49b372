"""``teamsim run``, ``test``, ``sweep``, ``inbox`` and ``diagnose``: output and exit codes."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from teamsim import runner as runner_module
from teamsim.cli import app
from teamsim.sim import audit_and_measure

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    """The ``teamsim`` app."""
    return app


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding ``scenarios/`` with the runner's fixtures."""
    (tmp_path / "scenarios").mkdir()
    for name in ("run_small.yaml", "run_failing.yaml", "run_bad_metric.yaml",
                 "run_paired.yaml", "negative_wait.yaml"):
        shutil.copy(DATA / name, tmp_path / "scenarios" / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def small_run_dir(
    cli: typer.Typer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """The small scenario run once through the CLI: its directory and the command's stdout."""
    out = tmp_path_factory.mktemp("cli") / "small"
    result = CliRunner().invoke(cli, ["run", str(DATA / "run_small.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return out, result.stdout


# ---------------------------------------------------------------------------------------------
# run


def test_run_prints_funnel_metrics_and_expectations(small_run_dir: tuple[Path, str]) -> None:
    out, stdout = small_run_dir
    lines = stdout.splitlines()
    assert lines[0].startswith("Small run: seed 7, 2 days, ")
    assert lines[0].endswith(f" -> {out}")
    assert "Funnel per step (approved by the human / by a rule)" in lines
    funnel = lines[lines.index("Funnel per step (approved by the human / by a rule)") + 1]
    assert funnel.split() == ["step", "channel", "due", "drafted", "human", "rule", "sent",
                              "opened", "clicked", "replied"]
    heading = lines.index("Funnel per step (approved by the human / by a rule)") + 3
    assert lines[heading].strip() == "Intro"
    assert lines[heading + 1].split()[:4] == ["s1", "Say", "hello", "email"]
    assert lines[heading + 1].split()[-8:-4] == ["6", "6", "6", "0"]
    assert "Key metrics" in lines
    assert any(line.split() == ["human_minutes", "17"] for line in lines)
    assert any(line.split() == ["PASS", "enrolled", "==", "6", "6"] for line in lines)
    assert lines[-1] == "passed: 2 of 2 expectations met, 0 invariant violations"


def test_run_writes_the_run_directory(small_run_dir: tuple[Path, str]) -> None:
    out, _ = small_run_dir
    assert sorted(p.name for p in out.iterdir()) == [
        "digest.txt", "events.jsonl", "metrics.json", "previews.json", "run.json", "store.db"]
    assert json.loads((out / "run.json").read_text())["seed"] == 7


def test_run_defaults_to_runs_stem_seed(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    result = runner.invoke(cli, ["run", "scenarios/run_small.yaml", "--seed", "3",
                                 "--until", "1"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (work / "runs").iterdir()) == ["run_small-seed3"]
    info = json.loads((work / "runs" / "run_small-seed3" / "run.json").read_text())
    assert (info["seed"], info["until_days"]) == (3, 1.0)


def test_run_failing_expectation_exits_1_after_printing_everything(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    result = runner.invoke(cli, ["run", "scenarios/run_failing.yaml", "--out", "r"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.split() == ["FAIL", "sent", "<=", "0", "3"] for line in lines)
    assert lines[-1] == "FAILED: 1 of 2 expectations met, 0 invariant violations"
    assert (work / "r" / "run.json").is_file()
    assert result.stderr == ""


def test_run_broken_invariant_exits_1(
    cli: typer.Typer, runner: CliRunner, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def made_up(events: Any, world: Any, minutes: int) -> Any:
        counters, _, metrics = audit_and_measure(events, world, minutes)
        return counters, ["sends_after_reply: made up"], metrics

    monkeypatch.setattr("teamsim.sim._simulation.audit_and_measure", made_up)
    result = runner.invoke(cli, ["run", "scenarios/run_small.yaml", "--until", "1"])
    assert result.exit_code == 1
    assert "Invariant violations (1):\n  sends_after_reply: made up\n" in result.stdout
    assert any(line.split() == ["FAIL", "sends_after_reply", "0"]
               for line in result.stdout.splitlines())
    assert result.stdout.splitlines()[-1] == (
        "FAILED: 2 of 2 expectations met, 1 invariant violations")


def test_run_bad_file_exits_2_and_writes_nothing(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    result = runner.invoke(cli, ["run", "scenarios/negative_wait.yaml"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: scenarios/negative_wait.yaml: sequences[0].steps[2].days: must be >= 0, got -1\n")
    assert not (work / "runs").exists()


def test_run_unknown_metric_exits_2_and_lists_the_metrics(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    result = runner.invoke(cli, ["run", "scenarios/run_bad_metric.yaml"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: scenarios/run_bad_metric.yaml: expect.sentt: no metric 'sentt'; use one of "
        "approval_latency_hours_p50, ")
    assert not (work / "runs").exists()


def test_run_missing_file_exits_2(cli: typer.Typer, runner: CliRunner, work: Path) -> None:
    result = runner.invoke(cli, ["run", "nowhere.yaml"])
    assert result.exit_code == 2
    assert result.stderr == "error: nowhere.yaml: no such file; check the path\n"


@pytest.mark.parametrize(("until", "shown"), [
    ("0", "0"), ("-1", "-1"), ("nan", "nan"), ("inf", "inf"), ("-inf", "-inf"),
    ("1e308", "1e+308"), ("0.0001", "0.0001"), ("3650.5", "3650.5"),
])
def test_run_until_must_be_a_run_length(
    cli: typer.Typer, runner: CliRunner, work: Path, until: str, shown: str
) -> None:
    result = runner.invoke(cli, ["run", "scenarios/run_small.yaml", "--until", until])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: --until: {shown} is not a run length; give simulated days from 0.000694 "
        "(one minute) to 3650, like --until 7 or --until 0.5\n")
    assert not (work / "runs").exists()


def test_run_until_one_minute_runs(cli: typer.Typer, runner: CliRunner, work: Path) -> None:
    result = runner.invoke(cli, ["run", "scenarios/run_small.yaml", "--until", str(1 / 1440)])
    assert result.exit_code == 1, result.output  # it ran; nothing is sent in one minute
    assert result.stdout.startswith("Small run: seed 7, 0.000694444 days, ")
    assert result.stdout.splitlines()[-1].startswith("FAILED: 1 of 2 expectations met")


def test_run_with_db_records_the_url(cli: typer.Typer, runner: CliRunner, work: Path) -> None:
    result = runner.invoke(cli, ["run", "scenarios/run_small.yaml", "--until", "1",
                                 "--out", "r", "--db", "other.db"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (work / "r").iterdir()) == [
        "digest.txt", "events.jsonl", "metrics.json", "previews.json", "run.json"]
    assert json.loads((work / "r" / "run.json").read_text())["db"].endswith("other.db")
    inbox = runner.invoke(cli, ["inbox", "r", "--db", "other.db"])
    assert inbox.exit_code == 0, inbox.output
    assert inbox.stdout.splitlines()[0].endswith("UTC): 1 open item, oldest first")


# ---------------------------------------------------------------------------------------------
# test


def test_test_reports_each_expectation_and_the_totals(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    result = runner.invoke(cli, ["test", "scenarios/run_small.yaml",
                                 "scenarios/run_failing.yaml"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "scenarios/run_small.yaml (Small run, seed 7)",
        "  PASS enrolled == 6 6",
        "  PASS sends_without_approval == 0 0",
        "  PASS sent >= 1 6",
        "  PASS invariants all hold",
        "scenarios/run_failing.yaml (Failing expectation, seed 3)",
        "  PASS enrolled == 3 3",
        "  FAIL sent <= 0 3",
        "  PASS invariants all hold",
        "6 passed, 1 failed",
    ]
    assert not (work / "runs").exists()


def test_test_passing_scenarios_exit_0(cli: typer.Typer, runner: CliRunner, work: Path) -> None:
    result = runner.invoke(cli, ["test", "scenarios/run_small.yaml", "--out", "out"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "4 passed, 0 failed"
    assert (work / "out" / "run_small-seed7" / "run.json").is_file()


def test_test_invalid_files_exit_2(cli: typer.Typer, runner: CliRunner, work: Path) -> None:
    (work / "scenarios" / "run_failing.yaml").unlink()
    (work / "scenarios" / "run_paired.yaml").unlink()
    result = runner.invoke(cli, ["test", "scenarios"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith(
        "error: scenarios/negative_wait.yaml: sequences[0].steps[2].days")
    assert "error: scenarios/run_bad_metric.yaml: expect.sentt: no metric" in result.stderr
    assert result.stdout.splitlines()[-1] == "4 passed, 0 failed"


def test_test_empty_folder_exits_2(cli: typer.Typer, runner: CliRunner, work: Path) -> None:
    (work / "empty").mkdir()
    result = runner.invoke(cli, ["test", "empty"])
    assert result.exit_code == 2
    assert result.stderr == "error: empty: no scenario files (*.yaml) in it\n"


def test_shipped_scenarios_pass(cli: typer.Typer, runner: CliRunner) -> None:
    shipped = ROOT / "scenarios"
    if not any(shipped.glob("*.yaml")):
        pytest.skip("no scenarios shipped yet")
    result = runner.invoke(cli, ["test", str(shipped)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith(" passed, 0 failed")


# ---------------------------------------------------------------------------------------------
# sweep


def test_sweep_two_variants_twenty_seeds(cli: typer.Typer, runner: CliRunner, work: Path) -> None:
    result = runner.invoke(cli, [
        "sweep", "scenarios/run_paired.yaml", "--seeds", "0:20",
        "--set", "personas.0.reply=0.3,0.36", "--metrics", "replies,sent", "--workers", "2",
    ])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "40 runs: 2 variant(s) x 20 seed(s) -> runs/run_paired-sweep/sweep.csv"
    assert "personas.0.reply=0.3 (baseline)" in lines
    assert "personas.0.reply=0.36" in lines
    title = ("personas.0.reply=0.36 minus personas.0.reply=0.3: 95% intervals, difference ± "
             "half-width (paired: same seeds)")
    diffs = lines[lines.index(title) + 1:]
    assert diffs[0].split() == ["metric", "difference", "paired", "±", "unpaired", "±"]
    replies = next(line.split() for line in diffs if line.startswith("replies"))
    assert float(replies[2]) < float(replies[3])  # paired narrower than unpaired
    with (work / "runs" / "run_paired-sweep" / "sweep.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 40
    assert list(rows[0]) == list(runner_module.ROW_COLUMNS)  # --metrics: the summary only
    assert [(r["variant"], int(r["seed"])) for r in rows] == [
        (f"personas.0.reply={v}", s) for v in ("0.3", "0.36") for s in range(20)]


def test_sweep_bad_set_exits_2_and_writes_nothing(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    result = runner.invoke(cli, ["sweep", "scenarios/run_paired.yaml", "--seeds", "0:2",
                                 "--set", "approver.aprove=0.5"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: variant 'approver.aprove=0.5': approver.aprove: unknown field; remove it or "
        "check the spelling (allowed: timezone, ")
    assert not (work / "runs").exists()


def test_sweep_bad_seeds_exit_2(cli: typer.Typer, runner: CliRunner, work: Path) -> None:
    result = runner.invoke(cli, ["sweep", "scenarios/run_paired.yaml", "--seeds", "x"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --seeds 'x': write a range A:B (0:100 is seeds 0 to 99) or a list 1,5,9\n")


# ---------------------------------------------------------------------------------------------
# inbox and diagnose


def test_inbox_lists_open_items_oldest_first(
    cli: typer.Typer, runner: CliRunner, small_run_dir: tuple[Path, str]
) -> None:
    out, _ = small_run_dir
    result = runner.invoke(cli, ["inbox", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ("Needs attention at the end of 'Small run' (seed 7, 2026-03-04 08:00 "
                        "UTC): 5 open items, oldest first")
    assert lines[1].startswith("1. draft · since 2026-03-03 ")
    assert " · Intro / s3 Follow up · email · by " in lines[1]
    assert lines[2] == "   Subject: Re: Say hello"
    assert lines[3].startswith("   Body: Hi ")
    assert lines[4].startswith("   Reviewer ")
    assert lines[-2] == ("5. reply · since 2026-03-03 16:15 UTC · Grace Hopper "
                         "<grace@example.com> · Intro")
    assert lines[-1] == ("   Reply: Hi Riley, thanks for reaching out. Can we talk next week? "
                         "- Grace")


def test_diagnose_prints_the_checklist(
    cli: typer.Typer, runner: CliRunner, small_run_dir: tuple[Path, str]
) -> None:
    out, _ = small_run_dir
    result = runner.invoke(cli, ["diagnose", str(out), "--sequence", "Intro",
                                 "--contact", "grace@example.com"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ("Why isn't 'Intro' sending for grace@example.com? "
                        "(as of 2026-03-04 08:00 UTC, tick 15 min)")
    assert lines[-1].startswith("Answer: 4. Did the person reply?")


def test_diagnose_unknown_sequence_exits_2(
    cli: typer.Typer, runner: CliRunner, small_run_dir: tuple[Path, str]
) -> None:
    out, _ = small_run_dir
    result = runner.invoke(cli, ["diagnose", str(out), "--sequence", "Nope"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "Nope" in result.stderr


@pytest.mark.parametrize("command", [["inbox"], ["diagnose", "--sequence", "Intro"]])
def test_not_a_run_directory_exits_2(
    cli: typer.Typer, runner: CliRunner, tmp_path: Path, command: list[str]
) -> None:
    result = runner.invoke(cli, [command[0], str(tmp_path), *command[1:]])
    assert result.exit_code == 2
    assert result.stderr == (f"error: {tmp_path}: not a teamsim run directory (no run.json); "
                             "run `teamsim run` first\n")


def test_a_world_without_sequences_runs_and_prints_an_empty_funnel(
    runner: CliRunner, tmp_path: Path
) -> None:
    # Found by the fuzz test: the funnel's column widths were computed with max() over no rows.
    scenario = tmp_path / "empty.yaml"
    scenario.write_text("name: Empty\ndays: 1\n", encoding="utf-8")
    result = runner.invoke(app, ["run", str(scenario), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "Funnel per step" in result.stdout
    assert "Key metrics" in result.stdout
