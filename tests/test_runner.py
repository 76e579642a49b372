"""The Python API of runs and sweeps: ``teamsim.runner.run`` and ``teamsim.runner.sweep``."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from teamsim import runner
from teamsim.llm import MODEL_METRICS
from teamsim.model import EventKind, ScenarioError, TeamsimError, ValidationError
from teamsim.reports import step_funnel
from teamsim.scenario import Expectation, load_scenario
from teamsim.sim import METRICS, Simulation, World, audit_and_measure
from teamsim.store import Store

DATA = Path(__file__).parent / "data"
SMALL = DATA / "run_small.yaml"
PAIRED = DATA / "run_paired.yaml"


def _siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[runner.RunResult]:
    """The small scenario run once into a run directory."""
    out = tmp_path_factory.mktemp("small") / "run"
    result = runner.run(SMALL, out=out)
    yield result
    result.close()


# ---------------------------------------------------------------------------------------------
# one run


def test_same_seed_gives_the_same_digest() -> None:
    first = runner.run(SMALL, seed=11)
    second = runner.run(load_scenario(SMALL), seed=11)
    other = runner.run(SMALL, seed=12)
    for result in (first, second, other):
        result.close()
    assert first.digest == second.digest
    assert first.metrics == second.metrics
    assert other.digest != first.digest


def test_default_seed_is_the_scenarios(small_run: runner.RunResult) -> None:
    assert small_run.seed == 7
    assert small_run.until_days == 2


def test_run_directory_holds_the_promised_files(small_run: runner.RunResult) -> None:
    out = small_run.out_dir
    assert out is not None
    # store.db-wal and -shm exist while the result's store is open (SQLite's WAL mode)
    assert [n for n in _siblings(out) if not n.endswith(("-wal", "-shm"))] == [
        "digest.txt", "events.jsonl", "metrics.json", "previews.json", "run.json", "store.db"]
    assert (out / "digest.txt").read_text() == small_run.digest + "\n"
    lines = (out / "events.jsonl").read_text().splitlines()
    assert len(lines) == len(small_run.events)
    assert json.loads(lines[0])["type"] == "run.started"


def test_metrics_json_has_every_metric_expectations_and_violations(
    small_run: runner.RunResult,
) -> None:
    assert small_run.out_dir is not None
    text = (small_run.out_dir / "metrics.json").read_text()
    body = json.loads(text)
    assert text == json.dumps(body, indent=2, sort_keys=True) + "\n"
    assert set(body) == {*METRICS, *MODEL_METRICS, "model_usage", "expectations", "violations"}
    assert all(body[name] == 0 for name in MODEL_METRICS)  # no model in this run
    assert body["model_usage"] == {}
    assert body["expectations"] == [
        {"metric": "enrolled", "expected": "== 6", "actual": 6.0, "passed": True},
        {"metric": "sends_without_approval", "expected": "== 0", "actual": 0.0, "passed": True},
        {"metric": "sent", "expected": ">= 1", "actual": body["sent"], "passed": True},
    ]
    assert body["violations"] == []


def test_run_json_identifies_the_run(small_run: runner.RunResult) -> None:
    assert small_run.out_dir is not None
    info = runner.read_run_info(small_run.out_dir)
    assert (info.scenario, info.source, info.seed, info.until_days) == (
        "Small run", str(SMALL), 7, 2.0)
    assert info.digest == small_run.digest
    assert info.events == len(small_run.events)
    assert info.db is None
    assert info.end.isoformat() == "2026-03-04T08:00:00+00:00"


def test_store_handle_is_the_run_directory_store(small_run: runner.RunResult) -> None:
    assert small_run.out_dir is not None
    assert small_run.store.url.endswith(str(small_run.out_dir / "store.db"))
    with small_run.store.unit_of_work() as uow:
        assert len(list(uow.events.iter())) == len(small_run.events)


def test_passing_run_passes(small_run: runner.RunResult) -> None:
    assert small_run.passed
    assert [e.metric for e in small_run.expectations] == [
        "enrolled", "sends_without_approval", "sent"]


def test_funnel_counts_each_step(small_run: runner.RunResult) -> None:
    funnel = step_funnel(small_run.events, small_run.world)
    assert [(f.sequence, f.step_id, f.label) for f in funnel] == [
        ("Intro", "s1", "Say hello"), ("Intro", "s3", "Follow up")]
    hello = funnel[0]
    assert hello.due == hello.drafted == 6
    assert hello.approved_human == hello.sent == small_run.metrics["sent"] == 6
    assert hello.approved_rule == 0
    assert hello.replied == small_run.metrics["replies"] == 2
    assert sum(f.opened for f in funnel) == small_run.metrics["opened"]


def test_failing_expectation_is_reported_and_the_run_written(tmp_path: Path) -> None:
    result = runner.run(DATA / "run_failing.yaml", out=tmp_path / "run")
    result.close()
    assert not result.passed
    assert [(e.metric, e.expected, e.passed) for e in result.expectations] == [
        ("enrolled", "== 3", True), ("sent", "<= 0", False)]
    assert (tmp_path / "run" / "run.json").is_file()


def test_bare_number_expectation_means_equals() -> None:
    world = load_scenario(SMALL).model_copy(
        update={"expect": {"enrolled": 5.0, "sent": Expectation(min=1)}})
    [enrolled, sent] = runner.evaluate_expectations(world, {"enrolled": 6, "sent": 6})
    assert (enrolled.expected, enrolled.passed) == ("== 5", False)
    assert (sent.expected, sent.passed) == (">= 1", True)


def test_unknown_expectation_metric_is_refused_before_running(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"run_bad_metric.yaml: expect.sentt: no metric "
                                            r"'sentt'; use one of .*reply_rate"):
        runner.run(DATA / "run_bad_metric.yaml", out=tmp_path / "run")
    assert _siblings(tmp_path) == []


def test_invalid_scenario_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="must be >= 0, got -1"):
        runner.run(DATA / "negative_wait.yaml", out=tmp_path / "run")
    assert _siblings(tmp_path) == []


def test_crash_leaves_the_previous_run_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    runner.run(SMALL, out=out, until_days=1).close()
    before = (out / "run.json").read_text()

    def crash(self: Simulation, *, check: bool = True) -> Any:
        raise RuntimeError("simulator crashed")

    monkeypatch.setattr(Simulation, "run", crash)
    with pytest.raises(RuntimeError, match="simulator crashed"):
        runner.run(SMALL, out=out, seed=99, force=True)
    assert _siblings(tmp_path) == ["run"]
    assert (out / "run.json").read_text() == before


def test_a_new_run_replaces_the_old_one_whole(tmp_path: Path) -> None:
    out = tmp_path / "run"
    runner.run(SMALL, out=out, until_days=1).close()
    result = runner.run(SMALL, out=out, seed=8, until_days=1, force=True)
    result.close()
    assert _siblings(tmp_path) == ["run"]
    assert runner.read_run_info(out).seed == 8
    assert (out / "digest.txt").read_text().strip() == result.digest


def test_refuses_to_replace_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(TeamsimError, match="not a teamsim run directory"):
        runner.run(SMALL, out=tmp_path / "notes")
    assert _siblings(tmp_path / "notes") == ["keep.txt"]
    assert _siblings(tmp_path) == ["notes"]


def test_db_records_the_run_elsewhere(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere.db"
    result = runner.run(SMALL, out=tmp_path / "run", db=str(db), until_days=1)
    result.close()
    assert "store.db" not in _siblings(tmp_path / "run")
    info = runner.read_run_info(tmp_path / "run")
    assert info.db is not None
    assert info.db.endswith("elsewhere.db")
    assert info.run_id == result.run_id == 1
    with Store.open(db) as store, store.unit_of_work() as uow:
        assert uow.runs.get(1).events == len(result.events)
    _record, kept = runner.open_run(str(db), 1)
    with kept, kept.unit_of_work() as uow:
        assert len(list(uow.events.iter())) == len(result.events)


def test_broken_invariants_are_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def made_up(events: Any, world: Any, minutes: int) -> Any:
        counters, _, metrics = audit_and_measure(events, world, minutes)
        return counters, ["sends_after_reply: made up"], metrics

    monkeypatch.setattr("teamsim.sim._simulation.audit_and_measure", made_up)
    result = runner.run(SMALL, out=tmp_path / "run", until_days=1)
    result.close()
    assert result.violations == ("sends_after_reply: made up",)
    assert not result.passed
    body = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert body["violations"] == ["sends_after_reply: made up"]


def test_progress_is_called_once_a_day() -> None:
    days: list[int] = []
    runner.run(SMALL, progress=days.append).close()
    assert days == [1, 2]


def test_until_days_must_be_positive() -> None:
    with pytest.raises(ValueError, match="until_days must be > 0, got 0"):
        runner.run(SMALL, until_days=0)


def test_default_out_dir_names_the_file_and_seed() -> None:
    assert runner.default_out_dir("scenarios/welcome.yaml", 3) == Path("runs/welcome-seed3")
    assert runner.default_out_dir(load_scenario(SMALL), 0) == Path("runs/small-run-seed0")


def test_missing_run_directory_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(TeamsimError, match=r"not a teamsim run directory \(no run.json\); run "
                                           r"`teamsim run` first"):
        runner.read_run_info(tmp_path)


# ---------------------------------------------------------------------------------------------
# sweep inputs


def test_seeds_as_a_half_open_range_or_a_list() -> None:
    assert runner.parse_seeds("0:3") == (0, 1, 2)
    assert runner.parse_seeds("5,1,9") == (5, 1, 9)


@pytest.mark.parametrize("text", ["a:b", "3:3", "1,1", ""])
def test_bad_seeds_are_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="--seeds"):
        runner.parse_seeds(text)


def test_sets_make_the_cartesian_product() -> None:
    variants = runner.parse_sets(["approver.approve=0.8,0.9", "sequences.0.steps.2.days=1,3"])
    assert list(variants) == [
        "approver.approve=0.8 sequences.0.steps.2.days=1",
        "approver.approve=0.8 sequences.0.steps.2.days=3",
        "approver.approve=0.9 sequences.0.steps.2.days=1",
        "approver.approve=0.9 sequences.0.steps.2.days=3",
    ]
    assert variants["approver.approve=0.9 sequences.0.steps.2.days=3"] == {
        "approver.approve": 0.9, "sequences.0.steps.2.days": 3}
    assert runner.parse_sets([]) == {"base": {}}


def test_set_without_a_value_is_refused() -> None:
    with pytest.raises(ValidationError, match="write it as path=value"):
        runner.parse_sets(["approver.approve"])


def test_with_values_sets_nested_paths() -> None:
    world = runner.with_values(load_scenario(SMALL), {"sequences.0.steps.1.days": 2,
                                                      "personas.1.reply": 0.5})
    assert world.sequences[0].steps[1].days == 2  # type: ignore[union-attr]
    assert world.personas[1].reply == 0.5


def test_with_values_names_a_wrong_path() -> None:
    with pytest.raises(ScenarioError, match=r"variant 'v': aprover.approve: the scenario has "
                                            r"no 'aprover'; use one of .*approver"):
        runner.with_values(load_scenario(SMALL), {"aprover.approve": 0.5}, variant="v")
    with pytest.raises(ScenarioError, match=r"sequences.5.label: sequences is a list of 1; "
                                            r"use an index from 0 to 0"):
        runner.with_values(load_scenario(SMALL), {"sequences.5.label": "x"})


def test_with_values_validates_the_result() -> None:
    with pytest.raises(ScenarioError, match=r"variant 'v': approver: .*add up to 1"):
        runner.with_values(load_scenario(SMALL), {"approver.approve": 0.5}, variant="v")


# ---------------------------------------------------------------------------------------------
# statistics


def test_mean_interval_is_student_t() -> None:
    estimate = runner.mean_interval([1.0, 2.0, 3.0, 4.0])
    assert estimate.mean == 2.5
    # t(0.975, 3) = 3.182446; sd = 1.290994; half = t * sd / 2
    assert estimate.half_width == pytest.approx(3.182446 * 1.290994 / 2, rel=1e-5)
    assert math.isnan(runner.mean_interval([1.0]).half_width)


def test_welch_interval_matches_the_textbook() -> None:
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0]
    estimate = runner.welch_interval(a, b)
    assert estimate.mean == pytest.approx(2.5 - 4.0)
    va, vb = (1.666667 / 4), (4.0 / 3)
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 2)
    from scipy import stats

    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert estimate.half_width == pytest.approx(half, rel=1e-4)


# ---------------------------------------------------------------------------------------------
# sweeps

VARIANTS = {"reply 0.30": {"personas.0.reply": 0.3}, "reply 0.36": {"personas.0.reply": 0.36}}


@pytest.fixture(scope="module")
def paired_sweep(tmp_path_factory: pytest.TempPathFactory) -> runner.SweepResult:
    """2 variants x 20 seeds of the paired scenario, in two worker processes."""
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    return runner.sweep(PAIRED, range(20), variants=VARIANTS, workers=2, out=out,
                        metrics=["replies", "sent", "reply_rate"])


def test_sweep_streams_one_row_per_variant_and_seed(paired_sweep: runner.SweepResult) -> None:
    assert paired_sweep.runs == 40
    assert paired_sweep.csv_path is not None
    with paired_sweep.csv_path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == list(runner.ROW_COLUMNS)  # every metric, whatever metrics= says
    assert sorted((r["variant"], int(r["seed"])) for r in rows) == sorted(
        (v, s) for v in VARIANTS for s in range(20))
    assert all(len(r["digest"]) == 64 for r in rows)
    assert _siblings(paired_sweep.csv_path.parent) == ["summary.json", "sweep.csv"]


def test_sweep_rows_match_single_runs(paired_sweep: runner.SweepResult) -> None:
    assert paired_sweep.csv_path is not None
    with paired_sweep.csv_path.open(newline="") as stream:
        row = next(r for r in csv.DictReader(stream)
                   if r["variant"] == "reply 0.36" and r["seed"] == "4")
    world = runner.with_values(load_scenario(PAIRED), VARIANTS["reply 0.36"])
    single = runner.run(world, seed=4)
    single.close()
    assert row["digest"] == single.digest
    assert float(row["replies"]) == single.metrics["replies"]


def test_paired_interval_is_narrower_than_unpaired(paired_sweep: runner.SweepResult) -> None:
    replies = paired_sweep.comparison("reply 0.36", "replies")
    assert replies.paired.n == 20
    assert replies.paired.half_width < replies.unpaired.half_width
    assert replies.paired.mean == pytest.approx(
        paired_sweep.summary["reply 0.36"]["replies"].mean
        - paired_sweep.summary["reply 0.30"]["replies"].mean)


def test_sweep_summary_json(paired_sweep: runner.SweepResult) -> None:
    assert paired_sweep.csv_path is not None
    body = json.loads((paired_sweep.csv_path.parent / "summary.json").read_text())
    assert [v["name"] for v in body["variants"]] == list(VARIANTS)
    assert body["seeds"] == list(range(20))
    assert {c["metric"] for c in body["comparisons"]} == {"replies", "sent", "reply_rate"}


def test_sweep_in_process_with_sets_keeps_nothing_on_disk() -> None:
    result = runner.sweep(PAIRED, "0:2", sets=["personas.0.reply=0.3,0.36"], workers=1,
                          metrics=["replies"])
    assert result.csv_path is None
    assert list(result.summary) == ["personas.0.reply=0.3", "personas.0.reply=0.36"]
    assert result.summary["personas.0.reply=0.3"]["replies"].n == 2


def test_sweep_refuses_an_invalid_variant_before_running(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="add up to 1"):
        runner.sweep(PAIRED, "0:2", sets=["approver.approve=0.5"], out=tmp_path / "s")
    assert _siblings(tmp_path) == []


def test_sweep_refuses_unknown_metrics() -> None:
    with pytest.raises(ValidationError, match="--metrics: no metric 'sentt'"):
        runner.sweep(PAIRED, "0:2", metrics=["sentt"])


def test_a_teammates_drafter_settings_reach_the_run() -> None:
    styled = runner.with_values(load_scenario(SMALL),
                                {"teammates.0.drafter.opt_out_line": "Reply STOP to opt out."})
    with runner.run(styled, until_days=1).store as store, store.unit_of_work() as uow:
        bodies = [e.payload["body"] for e in uow.events.iter()
                  if e.type == EventKind.DECISION_MADE]
    assert bodies
    assert any("Reply STOP to opt out." in body for body in bodies)


def test_a_bare_world_runs_as_a_scenario_without_checks() -> None:
    scenario = load_scenario(SMALL)
    data = scenario.model_dump(mode="json", exclude={
        "expect": True, "diagnose": True, "compare": True,
        "llm": True, "teammates": {"__all__": {"drafter", "reviewer", "model"}}})
    bare = runner.run(World.model_validate(data))
    full = runner.run(scenario)
    bare.close()
    full.close()
    assert bare.expectations == ()
    assert (bare.seed, bare.digest) == (full.seed, full.digest) == (7, full.digest)


def test_a_bare_world_that_fails_the_scenario_checks_is_a_scenario_error(
        tmp_path: Path) -> None:
    """A simulated World is run as a Scenario; the scenario's own checks (here: no teammate
    can review the only drafter) give one ScenarioError, not pydantic's exception."""
    from teamsim.sim import TeammateSpec

    world = World(name="w", teammates=[TeammateSpec(name="Riley", roles=["drafter"])])
    with pytest.raises(ScenarioError, match="no other teammate can review"):
        runner.run(world, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()
