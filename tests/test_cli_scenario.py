"""``teamsim validate`` and ``teamsim schema``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from teamsim.cli import app

DATA = Path(__file__).parent / "data"


@pytest.fixture
def cli() -> typer.Typer:
    """The ``teamsim`` app."""
    return app


@pytest.fixture
def scenarios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding ``scenarios/`` with copies of every fixture."""
    shutil.copytree(DATA, tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_validate_good_file(cli: typer.Typer, runner: CliRunner, scenarios: Path) -> None:
    result = runner.invoke(cli, ["validate", "scenarios/good.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok scenarios/good.yaml (2 sequences, 41 contacts, days 7)\n"
    assert result.stderr == ""


def test_validate_bad_file_prints_the_promised_error(
    cli: typer.Typer, runner: CliRunner, scenarios: Path
) -> None:
    result = runner.invoke(cli, ["validate", "scenarios/negative_wait.yaml"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: scenarios/negative_wait.yaml: sequences[0].steps[2].days: must be >= 0, got -1\n")


def test_validate_several_files_reports_each_and_fails_if_any_is_bad(
    cli: typer.Typer, runner: CliRunner, scenarios: Path
) -> None:
    result = runner.invoke(cli, ["validate", "scenarios/good.yaml", "scenarios/wrong_type.yaml",
                                 "scenarios/minimal.yaml", "scenarios/missing_sequence.yaml"])
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "ok scenarios/good.yaml (2 sequences, 41 contacts, days 7)",
        "ok scenarios/minimal.yaml (0 sequences, 0 contacts, days 14)",
    ]
    assert result.stderr.splitlines() == [
        "error: scenarios/wrong_type.yaml: days: must be a number, got 'two weeks'",
        "error: scenarios/wrong_type.yaml: seed: must be a whole number, got 1.5",
        "error: scenarios/missing_sequence.yaml: timeline[0].sequence: no sequence 'Welcom'; "
        "use one of Welcome",
        "error: scenarios/missing_sequence.yaml: timeline[1].sequence: no sequence "
        "'Onboarding'; use one of Welcome",
    ]


def test_validate_all_good_files_exits_0(
    cli: typer.Typer, runner: CliRunner, scenarios: Path
) -> None:
    result = runner.invoke(cli, ["validate", "scenarios/good.yaml", "scenarios/minimal.yaml"])
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2


def test_validate_missing_file_is_named(
    cli: typer.Typer, runner: CliRunner, scenarios: Path
) -> None:
    result = runner.invoke(cli, ["validate", "scenarios/nope.yaml"])
    assert result.exit_code == 2
    assert result.stderr == "error: scenarios/nope.yaml: no such file; check the path\n"


def test_validate_syntax_error_names_line_and_column(
    cli: typer.Typer, runner: CliRunner, scenarios: Path
) -> None:
    result = runner.invoke(cli, ["validate", "scenarios/syntax_error.yaml"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: scenarios/syntax_error.yaml:6:6: invalid YAML: ")


def test_validate_needs_a_file(cli: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 2


def test_bad_files_change_nothing_on_disk(
    cli: typer.Typer, runner: CliRunner, scenarios: Path
) -> None:
    before = _snapshot(scenarios)
    result = runner.invoke(cli, ["validate", *(f"scenarios/{p.name}" for p in DATA.iterdir())])
    assert result.exit_code == 2
    assert _snapshot(scenarios) == before


def test_schema_prints_json(cli: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "teamsim scenario"
    assert {"name", "sequences", "timeline", "expect"} <= set(schema["properties"])


def test_schema_out_writes_the_file(cli: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "scenario.schema.json"
    result = runner.invoke(cli, ["schema", "--out", str(target)])
    assert result.exit_code == 0
    assert result.stdout == f"wrote {target}\n"
    assert json.loads(target.read_text(encoding="utf-8"))["$schema"].startswith("https://")
    assert [p.name for p in tmp_path.iterdir()] == ["scenario.schema.json"]


def test_schema_out_to_a_missing_directory_fails_cleanly(
    cli: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "nowhere" / "schema.json"
    result = runner.invoke(cli, ["schema", "--out", str(target)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {target}: cannot write the schema: ")
    assert list(tmp_path.iterdir()) == []


def test_validate_refuses_expectations_on_unknown_metrics(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("name: x\nexpect:\n  replys: 3\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: expect.replys: no metric 'replys'; use one of")
