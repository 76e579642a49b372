"""Model-backed teammates through the roof: ``teamsim run/test/sweep/validate --model``, the
consent a scenario's factory needs, record then replay, the run folder's cassette, custom
drafters through ``teamsim.run``, sweeps over worker processes. No network: the model is a
langchain-core fake (tests/data/llm/teamsim_test_models.py).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import teamsim
from teamsim.agents import Cassette, Draft, DraftRequest, FakeDrafter
from teamsim.cli import app
from teamsim.llm import MODEL_METRICS, ModelSpec
from teamsim.model import ValidationError

DATA = Path(__file__).parent / "data"
FACTORIES = DATA / "llm"
ECHO = "teamsim_test_models:echo_model"


@pytest.fixture
def cli() -> typer.Typer:
    return app


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with the small scenarios; the fake models' folder importable."""
    monkeypatch.syspath_prepend(str(FACTORIES))
    for name in ("run_small.yaml", "llm_small.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(runner: CliRunner, cli: typer.Typer, *argv: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(argv))
    return result.exit_code, result.stdout, result.stderr


def _metrics(folder: Path) -> dict[str, object]:
    return json.loads((folder / "metrics.json").read_text())  # type: ignore[no-any-return]


def test_run_with_a_model_records_then_replays_the_same_digest_without_calls(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    code, stdout, stderr = _run(runner, cli, "run", "run_small.yaml", "--model",
                                f"Riley={ECHO},api_key=sk-live-1", "--cassette", "c.json",
                                "--cassette-mode", "record", "--out", "rec")
    assert (code, stderr) == (0, ""), stdout
    recorded = _metrics(work / "rec")
    assert recorded["model_calls"] > 0  # type: ignore[operator]
    assert recorded["model_usage"]["Riley"]["tokens_out"] == recorded["tokens_out"] > 0  # type: ignore[index]
    assert "Model use per teammate" in stdout
    assert (work / "c.json").is_file()
    assert (work / "rec" / "cassette.json").is_file()
    info = json.loads((work / "rec" / "run.json").read_text())
    assert info["models"]["Riley"]["spec"] == f"{ECHO}(api_key=***)"
    assert info["cassette_mode"] == "record"
    assert "sk-live-1" not in "".join(p.read_text(errors="replace") for p in
                                      (work / "rec").iterdir() if p.suffix in {".json", ".txt"})

    code, stdout, stderr = _run(runner, cli, "run", "run_small.yaml", "--model",
                                f"Riley={ECHO},api_key=sk-live-1", "--cassette", "c.json",
                                "--cassette-mode", "replay", "--out", "rep")
    assert (code, stderr) == (0, ""), stdout
    replayed = _metrics(work / "rep")
    assert (work / "rep" / "digest.txt").read_text() == (work / "rec" / "digest.txt").read_text()
    assert replayed["model_calls"] == replayed["tokens_in"] == replayed["cost"] == 0
    assert replayed["cache_hits"] == recorded["model_calls"]
    assert replayed["replayed_tokens"] == recorded["tokens_in"] + recorded["tokens_out"]  # type: ignore[operator]


def test_replay_imports_nothing(work: Path) -> None:
    """Recorded with the echo model, replayed under a spec whose module does not exist (its id
    is the recording's): nothing is imported, every reply comes from the cassette."""
    recorded = teamsim.run(work / "run_small.yaml", models={"Riley": ECHO},
                           cassette=work / "c.json", cassette_mode="record")
    recorded.close()
    ghost = ModelSpec(factory="no_such_module_xyz:make", id=ECHO)
    replayed = teamsim.run(work / "run_small.yaml", models={"Riley": ghost},
                           cassette=work / "c.json", cassette_mode="replay")
    replayed.close()
    assert replayed.digest == recorded.digest
    assert replayed.metrics["model_calls"] == 0
    assert replayed.metrics["cache_hits"] == recorded.metrics["model_calls"] > 0


def test_a_scenario_factory_is_refused_without_allow_imports(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    for command in (["run", "llm_small.yaml", "--out", "x"], ["validate", "llm_small.yaml"],
                    ["test", "llm_small.yaml"]):
        code, _, stderr = _run(runner, cli, *command)
        assert code == 2, command
        assert stderr.startswith(
            "error: llm_small.yaml: teammates[0].model (Riley): the scenario names the factory "
            f"{ECHO}, and importing it runs its code: teamsim does that only with "
            "--allow-imports"), stderr
        assert len(stderr.splitlines()) == 1
    assert not (work / "x").exists()
    with pytest.raises(ValidationError, match="--allow-imports"):
        teamsim.run(work / "llm_small.yaml")


def test_a_scenario_factory_runs_with_allow_imports_and_its_compare_block(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    code, stdout, stderr = _run(runner, cli, "run", "llm_small.yaml", "--allow-imports",
                                "--out", "m")
    assert (code, stderr) == (0, ""), stdout
    assert any(line.split() == ["PASS", "template:", "model_calls", "==", "0", "0"]
               for line in stdout.splitlines())
    assert (work / "m" / "cassette.json").is_file()
    code, stdout, _ = _run(runner, cli, "validate", "llm_small.yaml", "--allow-imports")
    assert code == 0
    code, stdout, _ = _run(runner, cli, "test", "llm_small.yaml", "--allow-imports")
    assert code == 0
    assert stdout.splitlines()[-1] == "5 passed, 0 failed"


def test_a_run_folder_with_a_cassette_is_replaced_with_force(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    argv = ["run", "run_small.yaml", "--model", f"Riley={ECHO}", "--out", "f"]
    assert _run(runner, cli, *argv)[0] == 0
    assert (work / "f" / "cassette.json").is_file()
    assert _run(runner, cli, *argv, "--force")[0] == 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--model", "Bob=" + ECHO], "error: a model is given for 'Bob' (--model, models=), who "
                                 "is not a teammate; the teammates are 'Riley', 'Sam'"),
    (["--model", "Riley=no_such_module_xyz:f"], "cannot import 'no_such_module_xyz'"),
    (["--model", "Riley=teamsim_test_models:nope"], "has no attribute 'nope'"),
    (["--model", "Riley=teamsim_test_models:NOT_CALLABLE"], "which cannot be called"),
    (["--model", "Riley=teamsim_test_models:raising_model,api_key=sk-x"],
     "raised RuntimeError: bad credentials ***"),
    (["--model", "Riley=teamsim_test_models:not_a_model"], "not a LangChain chat model"),
    (["--model", "Riley=entry:nope"], "no entry point 'nope'"),
    (["--model", "Riley"], "error: --model 'Riley': write it as TEAMMATE=package.module:"),
    (["--model", f"Riley={ECHO}", "--model", f"Riley={ECHO}"], "given twice"),
    (["--cassette-mode", "tape"], "error: --cassette-mode: 'tape' is not a mode"),
    (["--max-concurrency", "0"], "error: --max-concurrency: 0 is out of range"),
    (["--model", f"Riley={ECHO}", "--cassette", "none.json", "--cassette-mode", "replay"],
     "none.json does not exist, and replay mode needs recorded replies"),
])
def test_bad_model_options_are_one_error_line_and_exit_2(
    cli: typer.Typer, runner: CliRunner, work: Path, argv: list[str], message: str
) -> None:
    code, stdout, stderr = _run(runner, cli, "run", "run_small.yaml", "--out", "bad", *argv)
    assert code == 2
    assert stdout == ""
    assert len(stderr.splitlines()) == 1
    assert stderr.startswith("error: ")
    assert message in stderr
    assert "sk-x" not in stderr
    assert not (work / "bad").exists()


def test_a_cassette_file_that_is_not_teamsims_is_refused_and_kept(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    (work / "notes.json").write_text('{"mine": true}\n')
    code, _, stderr = _run(runner, cli, "run", "run_small.yaml", "--model", f"Riley={ECHO}",
                           "--cassette", "notes.json", "--out", "o")
    assert code == 2
    assert stderr.startswith("error: --cassette: ")
    assert (work / "notes.json").read_text() == '{"mine": true}\n'


def test_custom_drafters_through_run_get_expectations_and_a_run_folder(work: Path) -> None:
    asked: list[str] = []

    def write(request: DraftRequest) -> Draft:
        asked.append(request.teammate)
        return Draft(subject="Hello", body=f"Hi {request.contact.first_name}, "
                     "a note from us.\n\nReply STOP to opt out.", minutes=3)

    result = teamsim.run(work / "run_small.yaml", out=work / "custom",
                         drafters={"Riley": FakeDrafter(write), "Sam": FakeDrafter(write)})
    try:
        assert result.passed
        assert [e.metric for e in result.expectations] == ["enrolled", "sends_without_approval",
                                                           "sent"]
        assert (work / "custom" / "run.json").is_file()
        assert not (work / "custom" / "cassette.json").exists()  # no model: no cassette
        assert len(asked) == result.metrics["drafts"] > 0
        assert all(result.metrics[name] == 0 for name in MODEL_METRICS)
    finally:
        result.close()
    with pytest.raises(ValidationError, match=r"drafters: 'Rily' is not a teammate"):
        teamsim.run(work / "run_small.yaml", drafters={"Rily": FakeDrafter(write)})


def test_sweep_with_a_model_spec_in_two_workers(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    code, stdout, stderr = _run(runner, cli, "sweep", "run_small.yaml", "--seeds", "0:2",
                                "--workers", "2", "--model", f"Riley={ECHO}",
                                "--metrics", "sent,model_calls,tokens_out", "--out", "sw")
    assert (code, stderr) == (0, ""), stdout
    with (work / "sw" / "sweep.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 2
    assert all(row["status"] == "ok" and int(row["model_calls"]) > 0 for row in rows)


def test_sweep_refuses_a_live_model_object(work: Path) -> None:
    from teamsim_test_models import echo_model  # type: ignore[import-not-found]

    with pytest.raises(ValidationError, match=r"models\['Riley'\]: a sweep runs in worker "
                                              r"processes.*pass its factory path instead"):
        teamsim.sweep(work / "run_small.yaml", "0:2", models={"Riley": echo_model()})


def test_run_takes_a_live_model_object(work: Path) -> None:
    from teamsim_test_models import echo_model

    result = teamsim.run(work / "run_small.yaml", models={"Riley": echo_model()})
    result.close()
    assert result.metrics["model_usage"]["Riley"]["model_calls"] > 0


def test_the_shipped_model_scenario_replays_offline_importing_no_model() -> None:
    """scenarios/model-vs-template.yaml replays its cassette: no --allow-imports, no model
    module imported, no call; run in a fresh interpreter (from another folder) to see what
    was imported."""
    import subprocess
    import sys

    scenario = Path(__file__).parent.parent / "scenarios" / "model-vs-template.yaml"
    code = ("import sys, teamsim\n"
            f"r = teamsim.run({str(scenario)!r})\n"
            "print(r.passed, r.metrics['model_calls'], r.metrics['cache_hits'] > 0,"
            " 'teamsim.agents.demo' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).parent / "data")
    assert done.stdout.split() == ["True", "0", "True", "False"]


def test_test_command_takes_a_model_for_every_scenario(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    code, stdout, stderr = _run(runner, cli, "test", "run_small.yaml", "--model",
                                f"Sam={ECHO}", "--out", "t")
    assert (code, stderr) == (0, ""), stdout
    assert _metrics(work / "t" / "run_small-seed7")["model_usage"]["Sam"]["model_calls"] > 0  # type: ignore[index]


def test_an_entry_point_of_the_teamsim_models_group_is_loaded(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib import metadata

    found = metadata.EntryPoints([metadata.EntryPoint(name="echo", value=ECHO,
                                                      group="teamsim.models")])
    monkeypatch.setattr(metadata, "entry_points",
                        lambda group=None: found if group == "teamsim.models" else ())
    result = teamsim.run(work / "run_small.yaml", models={"Riley": "entry:echo"})
    result.close()
    assert result.metrics["model_usage"]["Riley"]["model_calls"] > 0


def test_the_digest_is_the_same_at_every_max_concurrency(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    digests = set()
    for limit in ("1", "16"):
        code, stdout, stderr = _run(runner, cli, "run", "run_small.yaml", "--model",
                                    f"Riley={ECHO},latency=0.01", "--model", f"Sam={ECHO}",
                                    "--max-concurrency", limit, "--out", f"c{limit}")
        assert (code, stderr) == (0, ""), stdout
        digests.add((work / f"c{limit}" / "digest.txt").read_text())
    assert len(digests) == 1


def test_validate_refuses_a_replay_scenario_whose_cassette_is_missing(
    cli: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    """``validate`` refuses what ``run`` refuses (the fuzz tests' contract): the shipped model
    scenario copied without its cassette."""
    shipped = Path(__file__).parent.parent / "scenarios" / "model-vs-template.yaml"
    copy = tmp_path / "copy.yaml"
    copy.write_text(shipped.read_text())
    for command in (["validate", str(copy)], ["run", str(copy), "--out", str(tmp_path / "r")]):
        code, _, stderr = _run(runner, cli, *command)
        assert code == 2
        assert stderr.startswith(f"error: {copy}: llm.cassette: ")
        assert "does not exist, and replay mode needs recorded replies" in stderr
    assert _run(runner, cli, "validate", str(shipped))[0] == 0


def _marker_scenario(work: Path, mode: str = "replay") -> Path:
    """llm_small.yaml backed by a factory module that leaves a file behind when imported."""
    (work / "marker_models.py").write_text(
        "import pathlib\npathlib.Path('IMPORTED').write_text('yes')\n"
        "from teamsim_test_models import echo_model as make\n")
    text = (work / "llm_small.yaml").read_text().replace(
        "teamsim_test_models:echo_model", "marker_models:make")
    path = work / "marker.yaml"
    path.write_text(text + f"llm: {{cassette: m.json, mode: {mode}}}\n")
    Cassette("record").save(work / "m.json")  # nothing recorded: replay imports nothing
    return path


def test_a_sweep_variant_that_sets_llm_mode_needs_allow_imports(
    cli: typer.Typer, runner: CliRunner, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The base replays (imports nothing); a variant in record mode imports the file's
    factory: without --allow-imports it is refused in the parent, nothing imported."""
    monkeypatch.syspath_prepend(str(work))
    _marker_scenario(work)
    for workers in ("1", "2"):
        code, stdout, stderr = _run(runner, cli, "sweep", "marker.yaml", "--seeds", "1",
                                    "--workers", workers, "--set", "llm.mode=record")
        assert code == 2, stdout
        assert "--allow-imports" in stderr, stderr
        assert len(stderr.splitlines()) == 1, stderr
        assert not (work / "IMPORTED").exists()


def test_a_sweep_worker_never_imports_without_the_parents_consent(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker is sent the parent's allow_imports, not True."""
    from teamsim.runner._models import simulate_job
    from teamsim.runner._run import load
    from teamsim.store import Store

    monkeypatch.syspath_prepend(str(work))
    world, _ = load(_marker_scenario(work, mode="record"))
    with Store.open("sqlite://") as store, pytest.raises(ValidationError,
                                                         match="--allow-imports"):
        simulate_job(world, 1, store)
    assert not (work / "IMPORTED").exists()
    with Store.open("sqlite://") as store:
        _, metrics = simulate_job(world, 1, store, allow_imports=True)
    assert metrics["model_calls"] > 0
    assert (work / "IMPORTED").exists()


def test_a_compare_variant_that_sets_llm_mode_imports_nothing_without_consent(
    cli: typer.Typer, runner: CliRunner, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replayed run whose compare: variant sets llm.mode=record: the variant runs on the
    run's resolver and cassette (replay), so the factory is never imported."""
    monkeypatch.syspath_prepend(str(work))
    path = _marker_scenario(work)
    path.write_text(path.read_text().replace(
        "set: {teammates.0.model: null}", "set: {llm.mode: record}"))
    _run(runner, cli, "run", "marker.yaml", "--out", "o")
    assert not (work / "IMPORTED").exists()


def test_a_model_error_quoting_the_api_key_is_masked_everywhere(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    """The provider's error text quotes the key: the failure reasons in the events, the store,
    the cassette and the output are masked by the spec's secrets."""
    code, stdout, stderr = _run(
        runner, cli, "run", "run_small.yaml", "--model",
        "Riley=teamsim_test_models:leaky_model,api_key=sk-live-77,base_url=https://u:pw-88@h",
        "--cassette", "c.json", "--cassette-mode", "record", "--out", "leak")
    assert "sk-live-77" not in stdout + stderr
    assert (work / "c.json").is_file(), (code, stdout, stderr)
    files = [work / "c.json", *(p for p in (work / "leak").rglob("*") if p.is_file())]
    assert "invalid api key ***" in (work / "c.json").read_text()
    for path in files:
        data = path.read_bytes()
        assert b"sk-live-77" not in data, path


def test_inbox_shows_a_draft_failure_with_its_text(
    cli: typer.Typer, runner: CliRunner, work: Path
) -> None:
    """A draft_failure item is shown as what it is (contact, step, tries and the reason), not
    as a rule suggestion."""
    code, stdout, stderr = _run(runner, cli, "run", "run_small.yaml", "--model",
                                "Riley=teamsim_test_models:leaky_model,api_key=sk-live-5",
                                "--cassette-mode", "record", "--out", "f")
    assert stderr == "", stdout
    code, stdout, stderr = _run(runner, cli, "inbox", "f")
    assert (code, stderr) == (0, ""), stdout
    lines = stdout.splitlines()
    assert "rule suggestion" not in stdout
    assert lines[1].startswith("1. draft failure · since 2026-03-03 ")
    assert lines[1].endswith(" · Intro / s1 Say hello · 1 try")
    assert "Ada Lovelace <ada@example.com>" in lines[1]
    assert lines[2] == ("   Riley could not draft step s1 for Ada Lovelace: PermissionError: "
                        "401 invalid api key *** after 1 try")


@pytest.mark.parametrize("where", ["no_such_folder/c.json", "locked/c.json"])
def test_a_cassette_that_cannot_be_written_is_refused_before_the_run(
    cli: typer.Typer, runner: CliRunner, work: Path, where: str
) -> None:
    """Found at the end, the run would be thrown away: one error line, exit 2, nothing run."""
    locked = work / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if where.startswith("locked") and os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        code, stdout, stderr = _run(runner, cli, "run", "run_small.yaml", "--model",
                                    f"Riley={ECHO}", "--cassette", where,
                                    "--cassette-mode", "record", "--out", "o")
    finally:
        locked.chmod(0o700)
    assert code == 2, stdout
    assert stderr.startswith(f"error: --cassette: {where}"), stderr
    assert len(stderr.splitlines()) == 1
    assert not (work / "o").exists()
