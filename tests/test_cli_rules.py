"""``teamsim rules list`` and ``teamsim rules preview`` on a run directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from teamsim.assembly import simulation
from teamsim.cli import app
from teamsim.cli._rules import describe_match
from teamsim.model import AutoApproveRule
from teamsim.reports import preview
from teamsim.sim import World
from teamsim.store import Store

WIDE = {"COLUMNS": "220"}


def make_world(**changes: Any) -> World:
    """Welcome (one step, ``hello``) for 30 people over 4.3 days, a human in New York who
    approves everything and is away from day 3 (5 March); ``changes`` override."""
    base: dict[str, Any] = {
        "name": "Rules CLI",
        "start": "2026-03-02T08:00:00",
        "timezone": "America/New_York",
        "days": 4.5,
        "seed": 3,
        "approver": {"timezone": "America/New_York", "approve": 1.0, "edit": 0.0,
                     "reject": 0.0, "away": [{"start": "2026-03-05", "end": "2026-03-31"}]},
        "sequences": [{"name": "Welcome", "status": "active",
                       "steps": [{"kind": "message", "id": "hello", "label": "Say hello"}]}],
        "personas": [{"name": "default", "reply": 0.0}],
        "populations": [{"count": 30, "enroll_in": ["Welcome"], "enroll_over_days": 4.3}],
        "settings": {"suggest_after": 5},
        "rules": [
            {"name": "capped hellos", "step": "hello", "max_total": 4},
            {"name": "daily hellos", "step": "Say hello", "max_per_day": 2},
            {"name": "sms", "channel": "sms"},
        ],
        # capped hellos is switched on after the human's first streak of hellos earned a
        # suggestion (none is made while an enabled rule covers the step).
        "timeline": [{"action": "enable_rule", "at": 2, "rule": "capped hellos"},
                     {"action": "enable_rule", "at": 4, "rule": "daily hellos"}],
    }
    base.update(changes)
    return World.model_validate(base)


def write_run(folder: Path, world: World) -> Path:
    """Run ``world`` into ``folder/store.db`` and write a minimal ``run.json`` beside it."""
    folder.mkdir(parents=True)
    with Store.open(folder / "store.db") as store:
        simulation(world, store=store).run()
    (folder / "run.json").write_text(json.dumps({"scenario": world.name, "seed": world.seed}))
    return folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished run with three rules and a suggested one."""
    return write_run(tmp_path_factory.mktemp("runs") / "rules-seed3", make_world())


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["rules", *args], env=WIDE)


def lines_with(output: str, text: str) -> list[str]:
    return [line for line in output.splitlines() if text in line]


# ---------------------------------------------------------------------------------------------
# rules list


def test_list_shows_each_rule_with_what_it_matches(run_dir: Path) -> None:
    result = invoke("list", str(run_dir))
    assert result.exit_code == 0, result.output
    (capped,) = lines_with(result.output, "capped hellos")
    assert "any sequence / step hello / any channel / any teammate / clean review" in capped
    (sms,) = lines_with(result.output, " sms ")
    assert "any sequence / any step / sms / any teammate / clean review" in sms
    assert " no " in sms


def test_list_shows_use_against_the_total_cap(run_dir: Path) -> None:
    (capped,) = lines_with(invoke("list", str(run_dir)).output, "capped hellos")
    assert "4 of 4" in capped
    assert "on, total cap used up" in capped


def test_list_shows_todays_use_against_the_per_day_cap(run_dir: Path) -> None:
    """Enabled on day 4 (6 March, 08:00 in New York, when the run has 12 hours left), the
    per-day rule used its 2 that day."""
    output = invoke("list", str(run_dir)).output
    assert "today (2026-03-06)" in output
    (daily,) = lines_with(output, "daily hellos")
    assert "2 of 2" in daily
    assert "on, today's cap used up" in daily


def test_list_marks_suggested_rules(run_dir: Path) -> None:
    (suggested,) = lines_with(invoke("list", str(run_dir)).output, "(suggested)")
    assert "Suggested: Welcome / Say hello by Riley" in suggested
    assert "Welcome / step hello / email / Riley / clean review" in suggested
    assert suggested.rstrip().endswith("off")


def test_list_of_a_run_without_rules_says_so(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "plain", make_world(rules=[], timeline=[],
                                                      settings={"suggest_after": 100}))
    result = invoke("list", str(folder))
    assert result.exit_code == 0
    assert result.output == "no auto-approve rules in this run\n"


# ---------------------------------------------------------------------------------------------
# rules preview


def test_preview_by_name_gives_the_counts(run_dir: Path) -> None:
    with Store.open(run_dir / "store.db") as store, store.unit_of_work() as uow:
        expected = preview(uow, uow.rules.get("sms"))
        capped = preview(uow, uow.rules.get("capped hellos"))
    assert expected.would_approve == 0
    result = invoke("preview", str(run_dir), "capped hellos")
    assert result.exit_code == 0, result.output
    assert f"drafts that reached approval: {capped.reached_gate}\n" in result.output
    assert (f"would have approved: {len(capped.past)} past drafts "
            f"({len(capped.past_capped)} more matched; a cap stopped them)") in result.output
    assert (f"would approve now: 0 waiting drafts ({len(capped.waiting_capped)} more "
            "matched; a cap stops them)") in result.output
    assert "total cap: 4 of 4 (0 left)" in result.output
    assert "caps: 4 in all\n" in result.output


def test_preview_shows_the_days_and_examples(run_dir: Path) -> None:
    result = invoke("preview", str(run_dir), "daily hellos", "--examples", "2")
    assert result.exit_code == 0, result.output
    assert "caps: 2 a day (America/New_York)" in result.output
    assert "per day:\n  2026-03-02  2 of 2 (cap reached)\n" in result.output
    assert len(lines_with(result.output, "  task ")) == 4  # 2 would approve, 2 stopped
    (stopped,) = [line for line in lines_with(result.output, "  task ")
                  if "used its cap of 2 for 2026-03-02" in line][:1]
    assert "Welcome / Say hello  email  Riley -> " in stopped


def test_preview_counts_waiting_drafts(run_dir: Path) -> None:
    """The human is away from 5 March, so later drafts still wait at the end of the run."""
    with Store.open(run_dir / "store.db") as store, store.unit_of_work() as uow:
        waiting = len(uow.attention.list("open", kind="draft"))
    assert waiting > 0
    rule_id = next(line.split()[0] for line in invoke("list", str(run_dir)).output.splitlines()
                   if "(suggested)" in line)
    result = invoke("preview", str(run_dir), rule_id)
    assert f"would approve now: {waiting} waiting drafts" in result.output


def test_preview_by_id(run_dir: Path) -> None:
    by_id = invoke("preview", str(run_dir), "1")
    by_name = invoke("preview", str(run_dir), "capped hellos")
    assert by_id.exit_code == 0
    assert by_id.output == by_name.output
    assert by_id.output.startswith("rule 1 'capped hellos' (on): any sequence / step hello")


def test_preview_of_an_unknown_rule_exits_2(run_dir: Path) -> None:
    result = invoke("preview", str(run_dir), "nope")
    assert result.exit_code == 2
    assert result.output == (f"error: {run_dir}: no rule 'nope'; `teamsim rules list "
                             f"{run_dir}` shows them by name and id\n")


def test_timezone_option_changes_the_days(run_dir: Path) -> None:
    result = invoke("preview", str(run_dir), "daily hellos", "--timezone", "Asia/Tokyo")
    assert result.exit_code == 0
    assert "caps: 2 a day (Asia/Tokyo)" in result.output


def test_unknown_timezone_exits_2(run_dir: Path) -> None:
    result = invoke("list", str(run_dir), "--timezone", "Mars/Olympus")
    assert result.exit_code == 2
    assert result.output.startswith("error: --timezone: unknown time zone 'Mars/Olympus'")


def test_a_timezone_too_long_for_a_file_name_exits_2(run_dir: Path) -> None:
    result = invoke("list", str(run_dir), "--timezone", "Europe/" + "A" * 300)
    assert result.exit_code == 2
    assert result.output == (
        "error: --timezone: unknown time zone 'Europe/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...' "
        "(307 characters; IANA names have at most 64); use an IANA name such as Europe/Paris\n")


# ---------------------------------------------------------------------------------------------
# bad run directories


def test_missing_run_directory_exits_2(tmp_path: Path) -> None:
    result = invoke("list", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert result.output == (f"error: {tmp_path / 'nowhere'}: no such run directory; give "
                             "the folder `teamsim run` wrote\n")


def test_folder_without_run_json_exits_2(tmp_path: Path) -> None:
    result = invoke("preview", str(tmp_path), "x")
    assert result.exit_code == 2
    assert result.output == (f"error: {tmp_path}: not a teamsim run directory (no run.json); "
                             "run `teamsim run` first\n")


def test_run_directory_without_store_exits_2(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{}")
    result = invoke("list", str(tmp_path))
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {tmp_path}: no store.db beside run.json")
    assert not (tmp_path / "store.db").exists()


def test_damaged_run_json_exits_2(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{not json")
    result = invoke("list", str(tmp_path))
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {tmp_path / 'run.json'}: damaged")


def test_describe_match_says_any_for_open_fields() -> None:
    assert describe_match(AutoApproveRule(name="x", require_clean_review=False)) == (
        "any sequence / any step / any channel / any teammate / flagged too")
