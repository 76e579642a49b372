"""User-supplied text reaches the terminal as plain text: Rich markup in a name is shown, not
obeyed (and does not crash), control characters are shown as escapes; tables fit 80 columns;
PASS/FAIL are coloured only on a terminal."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from teamsim.cli import app
from teamsim.cli._text import PlainConsole, clean, clean_lines, plain

DATA = Path(__file__).parent / "data"
SEQUENCE = "Intro [/] \x1b[31mred\x1b[0m\nline"
LABEL = "Say hello [/bold] \x1b[31m"
CONTACT = "Ada [bold]\x1b]0;title\x07"
RULE = "[/] \x1b[31mrule\n"
SCENARIO = "Small [/] \x1b[2J run"


def invoke(*args: str, **env: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "80", **env})


def assert_safe(text: str) -> None:
    """No escape character and no bell reach the terminal."""
    assert "\x1b" not in text
    assert "\x07" not in text


# ---------------------------------------------------------------------------------------------
# the helpers


def test_clean_escapes_control_characters_and_keeps_the_rest() -> None:
    assert clean("a\x1b[31mb\nc\td\x7f\x9b") == "a\\x1b[31mb\\nc\\td\\x7f\\x9b"
    assert clean("\u202eevil\ud800") == "\\u202eevil\\ud800"
    assert clean("Café ✉ [bold]") == "Café ✉ [bold]"


def test_clean_lines_keeps_line_breaks_only() -> None:
    assert clean_lines("one\x1b\ntwo") == "one\\x1b\ntwo"


def test_plain_is_never_markup() -> None:
    stream = io.StringIO()
    console = PlainConsole(file=stream, width=80)
    console.print(plain("[/]"), "[bold]x[/bold]", "[/]")
    assert stream.getvalue() == "[/] [bold]x[/bold] [/]\n"


# ---------------------------------------------------------------------------------------------
# seq commands


def test_a_sequence_named_like_markup_lists_and_shows(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    created = invoke("seq", "new", "[/]", "--db", db)
    assert created.exit_code == 0, created.output
    listed = invoke("seq", "list", "--db", db)
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[2].split("│")[1].strip() == "[/]"
    shown = invoke("seq", "show", "[/]", "--db", db)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0] == "[/]  (draft, version 1, id 1)"


def test_escapes_and_newlines_in_names_and_labels_are_shown_escaped(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    name = "Red \x1b[31mname\nsecond"
    assert invoke("seq", "new", name, "--db", db).exit_code == 0
    labelled = invoke("seq", "label", name, "s1", "[/bold] \x1b[1m", "--db", db)
    assert labelled.exit_code == 0, labelled.output
    for args in (["seq", "list"], ["seq", "show", name], ["seq", "versions", name]):
        result = invoke(*args, "--db", db)
        assert result.exit_code == 0, (args, result.output)
        assert_safe(result.stdout)
    shown = invoke("seq", "show", name, "--db", db).stdout
    assert shown.splitlines()[0] == "Red \\x1b[31mname\\nsecond  (draft, version 2, id 1)"
    assert "[/bold] \\x1b[1m" in shown
    assert "Red \\x1b[31mname\\nsecond" in invoke("seq", "list", "--db", db).stdout


def test_an_error_line_about_a_name_carries_no_raw_escape(tmp_path: Path) -> None:
    result = invoke("seq", "show", "No\x1b[31m\nsuch", "--db", str(tmp_path / "x.db"))
    assert result.exit_code == 2
    assert_safe(result.stderr)
    assert all(line.startswith("error: ") for line in result.stderr.splitlines())


# ---------------------------------------------------------------------------------------------
# run, inbox, diagnose, rules list


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The small scenario with markup and escapes in every name, run from Python (a scenario
    file may not hold control characters: the loader refuses them) and printed as ``teamsim
    run`` prints it."""
    import teamsim
    from teamsim.cli._run import print_run
    from teamsim.scenario import Scenario as World

    folder = tmp_path_factory.mktemp("hostile")
    world = yaml.safe_load((DATA / "run_small.yaml").read_text(encoding="utf-8"))
    world["name"] = SCENARIO
    world["sequences"][0]["name"] = SEQUENCE
    world["sequences"][0]["steps"][0]["label"] = LABEL
    world["contacts"][0]["name"] = CONTACT
    for group in (*world["contacts"], *world["populations"]):
        group["enroll_in"] = [SEQUENCE]
    world["rules"] = [{"name": RULE, "step": "s1", "enabled": True}]
    world["sequences"][0]["status"] = "active"  # the file loader's default
    for number, step in enumerate(world["sequences"][0]["steps"], start=1):
        step.setdefault("id", f"s{number}")
    result = teamsim.run(World.model_validate(world), out=folder / "run")
    try:
        stream = io.StringIO()
        print_run(PlainConsole(file=stream, width=80, soft_wrap=True), result)
    finally:
        result.close()
    return folder / "run", stream.getvalue()


def test_run_prints_hostile_names_literally(hostile_run: tuple[Path, str]) -> None:
    _, stdout = hostile_run
    assert_safe(stdout)
    lines = stdout.splitlines()
    assert lines[0].startswith("Small [/] \\x1b[2J run: seed 7, 2 days, ")
    assert any(line.startswith("Intro [/] \\x1b[31mre…") for line in lines)
    assert any(line.startswith("  s1 Say hello [/bol…") for line in lines)


def test_run_command_prints_markup_in_a_scenario_file_literally(tmp_path: Path) -> None:
    world = yaml.safe_load((DATA / "run_small.yaml").read_text(encoding="utf-8"))
    world["name"] = "Small [/] run"
    world["sequences"][0]["steps"][0]["label"] = "Hi [/bold]"
    scenario = tmp_path / "markup.yaml"
    scenario.write_text(yaml.safe_dump(world), encoding="utf-8")
    result = invoke("run", str(scenario), "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Small [/] run: seed 7, 2 days, ")
    assert any(line.startswith("  s1 Hi [/bold]") for line in result.stdout.splitlines())


def test_inbox_diagnose_and_rules_print_hostile_names_literally(
    hostile_run: tuple[Path, str],
) -> None:
    run_dir, _ = hostile_run
    inbox = invoke("inbox", str(run_dir))
    assert inbox.exit_code == 0, inbox.output
    assert_safe(inbox.stdout)
    assert "Intro [/] \\x1b[31mred\\x1b[0m\\nline" in inbox.stdout
    diagnosis = invoke("diagnose", str(run_dir), "--sequence", SEQUENCE)
    assert diagnosis.exit_code == 0, diagnosis.output
    assert_safe(diagnosis.stdout)
    assert "Ada [bold]\\x1b]0;title\\x07" in diagnosis.stdout
    rules = invoke("rules", "list", str(run_dir), COLUMNS="200")
    assert rules.exit_code == 0, rules.output
    assert_safe(rules.stdout)
    assert "[/] \\x1b[31mrule\\n" in rules.stdout
    preview = invoke("rules", "preview", str(run_dir), RULE, COLUMNS="200")
    assert preview.exit_code == 0, preview.output
    assert_safe(preview.stdout)
    assert "Say hello [/bold] \\x1b[31m" in preview.stdout


# ---------------------------------------------------------------------------------------------
# layout and colour


def test_the_run_report_fits_80_columns_with_one_line_per_step(
    hostile_run: tuple[Path, str],
) -> None:
    run_dir, _ = hostile_run
    result = invoke("run", str(DATA / "run_small.yaml"), "--out", str(run_dir.parent / "w"))
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines[1:]), [ln for ln in lines if len(ln) > 80]
    start = lines.index("Funnel per step (approved by the human / by a rule)")
    end = lines.index("Key metrics")
    assert [line.split()[0] for line in lines[start + 3:end]] == ["Intro", "s1", "s3"]


def test_a_long_step_label_is_cut_short_on_one_line(tmp_path: Path) -> None:
    world = yaml.safe_load((DATA / "run_small.yaml").read_text(encoding="utf-8"))
    world["sequences"][0]["steps"][0]["label"] = "A very long label " * 6
    world["sequences"][0]["steps"][0]["channel"] = "linkedin"
    scenario = tmp_path / "long.yaml"
    scenario.write_text(yaml.safe_dump(world), encoding="utf-8")
    result = invoke("run", str(scenario), "--out", str(tmp_path / "r"))
    lines = result.stdout.splitlines()
    step = next(line for line in lines if line.startswith("  s1 A very long"))
    assert len(step) == 80
    assert "…" in step
    assert step.split("…")[1].split()[0] == "linkedin"


def test_invariants_are_shown_apart_from_the_expectations(
    hostile_run: tuple[Path, str],
) -> None:
    _, stdout = hostile_run
    lines = stdout.splitlines()
    expectations = lines[lines.index("Expectations"):lines.index(
        "Invariants (0 in every correct run)")]
    invariants = lines[lines.index("Invariants (0 in every correct run)"):-1]
    assert not any("sends_without_approval" in line for line in expectations)
    assert [line.split()[1] for line in invariants[3:]] == [
        "sends_without_approval", "sends_after_reply", "sends_while_paused", "duplicate_sends",
        "sends_before_wait", "replies_not_in_attention", "sends_outside_window",
        "sends_over_daily_cap"]
    assert all(line.split()[0] == "PASS" for line in invariants[3:])


def test_pass_is_green_on_a_terminal_and_plain_when_piped() -> None:
    from teamsim.cli._run import verdict

    terminal = io.StringIO()
    PlainConsole(file=terminal, force_terminal=True, color_system="standard").print(
        verdict(True), verdict(False))
    assert "\x1b[32mPASS" in terminal.getvalue()
    assert "\x1b[1;31mFAIL" in terminal.getvalue()
    piped = io.StringIO()
    PlainConsole(file=piped).print(verdict(True), verdict(False))
    assert piped.getvalue() == "PASS FAIL\n"


def test_the_progress_bar_shows_a_markup_name_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from teamsim.cli import _tables

    stream = io.StringIO()
    terminal = PlainConsole(file=stream, force_terminal=True, width=80)
    monkeypatch.setattr(_tables, "err", terminal)
    with _tables.progress_bar(2, "[/] \x1b[31m (seed 7)") as update:
        update(1)
    assert "[/] \\x1b[31m (seed 7)" in stream.getvalue()


def test_no_color_keeps_pass_and_fail_uncoloured(monkeypatch: pytest.MonkeyPatch) -> None:
    from teamsim.cli._run import verdict

    monkeypatch.setenv("NO_COLOR", "1")
    terminal = io.StringIO()
    PlainConsole(file=terminal, force_terminal=True, color_system="standard").print(
        verdict(True), verdict(False))
    assert "32m" not in terminal.getvalue()
    assert "31m" not in terminal.getvalue()


def test_diagnose_keeps_a_line_break_in_a_name_on_its_line(tmp_path: Path) -> None:
    world = yaml.safe_load((DATA / "run_small.yaml").read_text(encoding="utf-8"))
    world["sequences"][0]["name"] = "Intro\nsecond [/]"
    for group in (*world["contacts"], *world["populations"]):
        group["enroll_in"] = ["Intro\nsecond [/]"]
    scenario = tmp_path / "newline.yaml"
    scenario.write_text(yaml.safe_dump(world), encoding="utf-8")
    assert invoke("run", str(scenario), "--out", str(tmp_path / "r")).exit_code == 0
    result = invoke("diagnose", str(tmp_path / "r"), "--sequence", "Intro\nsecond [/]")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("Why isn't 'Intro\\nsecond [/]' sending?")
