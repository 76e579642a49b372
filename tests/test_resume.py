"""Stopping a run part way and resuming it: the resumed run's digest is the uninterrupted one.

Resume is deterministic re-execution (SimPy's generators cannot be saved): these tests stop
runs at several points (before anything is sent, while approvals wait to be carried into
their batch, late in the run), in Python, with ``teamsim run --stop-at``, with Ctrl-C and with
``kill -9`` in a real process, and check the digest, the journal and the refusals.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teamsim import load_scenario, runner
from teamsim.assembly import simulation
from teamsim.cli import app
from teamsim.runner._journal import _chain

ROOT = Path(__file__).parent.parent
WELCOME = ROOT / "scenarios" / "welcome-renovation-leads.yaml"
MODEL = ROOT / "scenarios" / "model-vs-template.yaml"
TEAMSIM = Path(sys.executable).with_name("teamsim")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with copies of the two scenarios (and the cassette)."""
    for name in (WELCOME.name, MODEL.name, "model-vs-template.cassette.json"):
        shutil.copy(ROOT / "scenarios" / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def welcome_digest() -> str:
    """The uninterrupted run's digest of the welcome scenario."""
    return simulation(load_scenario(WELCOME)).run().digest


def _stop_then_resume(scenario: str, days: float) -> tuple[str, Path]:
    with pytest.raises(runner.RunStopped) as stopped:
        runner.run(scenario, out="run", stop_at=days)
    assert stopped.value.minute == round(days * 1440)
    info = json.loads(Path("run/run.json").read_text())
    assert (info["status"], info["stopped_at"]) == ("stopped", round(days * 1440))
    result = runner.resume("run")
    try:
        return result.digest, Path("run")
    finally:
        result.close()


def test_advance_in_steps_gives_the_uninterrupted_run(welcome_digest: str) -> None:
    world = load_scenario(WELCOME)
    sim = simulation(world)
    assert sim.advance(7) is False
    assert sim.advance(world.start_utc + timedelta(days=2, seconds=30)) is False
    assert sim.minute == 2 * 1440 + 1
    wake = sim.env.timeout(3 * 1440 - sim.minute)
    assert sim.advance(wake) is False
    assert sim.minute == 3 * 1440
    prefix = sim.events_so_far()
    assert sim.advance(None) is True
    result = sim.finish()
    assert result.digest == welcome_digest
    assert sorted(result.events, key=lambda e: e.seq)[:len(prefix)] == list(prefix)


def _mid_batch_days() -> float:
    """A minute at which the human has approved drafts that are not yet carried into their
    batch's graph thread (approvals are carried in at the next scheduler tick)."""
    world = load_scenario(WELCOME)
    events = simulation(world).run().events
    first = min(e.at for e in events if e.type == "decision.made")
    minute = int((first - world.start_utc).total_seconds() // 60) + 1
    return minute / 1440


@pytest.mark.parametrize("days", [0.001, "mid-batch", 9.5])
def test_resume_gives_the_uninterrupted_digest(
    work: Path, welcome_digest: str, days: float | str
) -> None:
    stop = _mid_batch_days() if days == "mid-batch" else float(days)
    if days == "mid-batch":
        sim = simulation(load_scenario(WELCOME))
        sim.advance(round(stop * 1440))
        logged = [e.type for e in sim.events_so_far()]
        sim.close()
        assert "attention.opened" in logged
        assert "decision.made" not in logged
    if days == 0.001:  # before anything is sent
        sim = simulation(load_scenario(WELCOME))
        sim.advance(round(stop * 1440))
        assert "message.sent" not in {e.type for e in sim.events_so_far()}
        sim.close()
    digest, _ = _stop_then_resume(WELCOME.name, stop)
    assert digest == welcome_digest


@pytest.mark.parametrize("days", [0.5, 3.25])
def test_resume_of_a_model_backed_run_replays_its_journal(work: Path, days: float) -> None:
    whole = runner.run(MODEL.name)
    whole.close()
    with pytest.raises(runner.RunStopped):
        runner.run(MODEL.name, out="run", stop_at=days)
    journal = [json.loads(line) for line in Path("run/journal.jsonl").read_text().splitlines()]
    assert journal[0]["kind"] == "header"
    assert {line["kind"] for line in journal[1:]} == {"model"}
    resumed = runner.resume("run")
    resumed.close()
    assert resumed.digest == whole.digest
    assert not Path("run/journal.jsonl").exists()  # a finished run keeps none
    assert Path("run/cassette.json").is_file()


def test_a_stopped_run_may_stop_again(work: Path, welcome_digest: str) -> None:
    with pytest.raises(runner.RunStopped):
        runner.run(WELCOME.name, out="run", stop_at=1)
    with pytest.raises(runner.RunStopped):
        runner.resume("run", stop_at=4)
    assert json.loads(Path("run/run.json").read_text())["stopped_at"] == 4 * 1440
    result = runner.resume("run")
    result.close()
    assert result.digest == welcome_digest


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_tampered_journal_is_named_by_its_line(work: Path) -> None:
    with pytest.raises(runner.RunStopped):
        runner.run(MODEL.name, out="run", stop_at=2)
    path = Path("run/journal.jsonl")
    lines = path.read_text().splitlines()
    line = json.loads(lines[2])
    line["entry"]["reply"]["content"] = "Buy now!"
    lines[2] = json.dumps(line, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    code, _, err = _cli("run", "--resume", "run")
    assert code == 2
    assert err.startswith("error: run/journal.jsonl: line 3: its chain does not match")
    assert err.count("\n") == 1


def test_a_removed_journal_line_is_found(work: Path) -> None:
    with pytest.raises(runner.RunStopped):
        runner.run(MODEL.name, out="run", stop_at=2)
    path = Path("run/journal.jsonl")
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    code, _, err = _cli("run", "--resume", "run")
    assert (code, err.count("\n")) == (2, 1)
    assert "was changed after teamsim wrote it" in err


def test_a_tampered_event_prefix_names_the_first_differing_event(work: Path) -> None:
    with pytest.raises(runner.RunStopped):
        runner.run(WELCOME.name, out="run", stop_at=2)
    path = Path("run/events.jsonl")
    lines = path.read_text().splitlines()
    event = json.loads(lines[20])
    event["payload"] = {**event["payload"], "forged": True}
    lines[20] = json.dumps(event, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    code, _, err = _cli("run", "--resume", "run")
    assert code == 2
    assert err.startswith(f"error: run/events.jsonl: event 21 differs from the run re-executed "
                          f"to resume it: stored {event['type']} at {event['at']}")


def test_a_changed_scenario_is_refused_naming_its_hash(work: Path) -> None:
    with pytest.raises(runner.RunStopped):
        runner.run(WELCOME.name, out="run", stop_at=1)
    was = json.loads(Path("run/run.json").read_text())["scenario_hash"]
    path = Path(WELCOME.name)
    path.write_text(path.read_text().replace("days: 21", "days: 22", 1))
    code, _, err = _cli("run", "--resume", "run")
    assert code == 2
    assert f"the scenario changed since the run stopped (it had hash {was[:12]}" in err
    assert err.count("\n") == 1


def test_resume_of_a_finished_run_is_refused(work: Path) -> None:
    assert _cli("run", WELCOME.name, "--out", "run", "--until", "1")[0] in (0, 1)  # expectations
    code, _, err = _cli("run", "--resume", "run")
    assert code == 2
    assert err.startswith("error: run: a finished run (digest ")
    assert err.count("\n") == 1


def test_resume_of_a_folder_teamsim_did_not_write_is_refused(work: Path) -> None:
    Path("mine").mkdir()
    (Path("mine") / "notes.txt").write_text("mine")
    code, _, err = _cli("run", "--resume", "mine")
    assert code == 2
    assert err == ("error: mine: not a stopped teamsim run (no run.json, and no journal of a "
                   "killed run beside it); give the folder a stopped `teamsim run` wrote\n")
    assert (Path("mine") / "notes.txt").read_text() == "mine"


def test_resume_with_a_scenario_is_refused(work: Path) -> None:
    code, _, err = _cli("run", WELCOME.name, "--resume", "run")
    assert code == 2
    assert err.startswith("error: --resume: give the run folder or id alone")


def test_stop_at_on_the_command_line_then_resume(work: Path, welcome_digest: str) -> None:
    code, out, _ = _cli("run", WELCOME.name, "--out", "run", "--stop-at", "2.5")
    assert code == 0
    assert out.startswith("stopped at simulated minute 3600 (2.5 days)")
    assert "teamsim run --resume run" in out
    code, out, _ = _cli("run", "--resume", "run")
    assert code == 0
    assert f"digest {welcome_digest[:12]}" in out
    assert (Path("run") / "digest.txt").read_text().strip() == welcome_digest


@pytest.fixture
def process(work: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``teamsim run`` of the welcome scenario in a real process (killed at the end)."""
    child = subprocess.Popen([str(TEAMSIM), "run", WELCOME.name, "--out", "run"], cwd=work,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield child
    finally:
        child.kill()
        child.communicate()


def _wait_for_journal(work: Path, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not any(work.glob(".run.*.tmp/journal.jsonl")):
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.02)


def test_a_killed_run_resumes_from_its_journal(
    work: Path, process: subprocess.Popen[bytes], welcome_digest: str
) -> None:
    _wait_for_journal(work, process)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert not Path("run").exists()
    code, out, err = _cli("run", "--resume", "run")
    assert (code, err) == (0, "")
    assert f"digest {welcome_digest[:12]}" in out
    assert not list(work.glob(".run.*"))  # the killed run's staging folder is gone


def test_ctrl_c_leaves_a_stopped_run_that_resumes(
    work: Path, process: subprocess.Popen[bytes], welcome_digest: str
) -> None:
    _wait_for_journal(work, process)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 130
    assert b"teamsim run --resume run" in out
    info = json.loads(Path("run/run.json").read_text())
    assert info["status"] == "stopped"
    assert info["stopped_at"] % 60 == 0
    code, out_text, _ = _cli("run", "--resume", "run")
    assert code == 0
    assert f"digest {welcome_digest[:12]}" in out_text


def test_stop_at_a_simulated_time_then_resume(work: Path, welcome_digest: str) -> None:
    code, out, _ = _cli("run", WELCOME.name, "--out", "run", "--stop-at", "2026-03-04T12:00")
    assert code == 0
    assert out.startswith("stopped at simulated minute 3120 ")  # 2 days 4 hours after 08:00
    code, out, _ = _cli("run", "--resume", "run")
    assert code == 0
    assert f"digest {welcome_digest[:12]}" in out


@pytest.mark.parametrize(("value", "message"), [
    ("soon", "error: --stop-at: 'soon' is neither simulated days (2.5) nor a simulated time"),
    ("0", "error: --stop-at: 0 is not a run length"),
    ("2020-01-01T00:00", "error: stop at 2020-01-01T00:00:00: the run starts at "
                         "2026-03-02T08:00:00; give a later time"),
])
def test_a_bad_stop_is_one_error_line(work: Path, value: str, message: str) -> None:
    code, _, err = _cli("run", WELCOME.name, "--out", "run", "--stop-at", value)
    assert code == 2
    assert err.startswith(message)
    assert err.count("\n") == 1
    assert not Path("run").exists()


def test_resume_needs_the_users_own_consent_to_import_a_factory(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scenario names a factory in a module of its own: run with consent and stop, then
    # resume without it. Nothing in the (editable) journal can give the consent.
    (work / "house_models.py").write_text("from teamsim.agents.demo import demo_model\n")
    monkeypatch.syspath_prepend(str(work))
    path = Path(MODEL.name)
    path.write_text(path.read_text().replace("teamsim.agents.demo:demo_model",
                                             "house_models:demo_model"))
    with pytest.raises(runner.RunStopped):
        runner.run(MODEL.name, out="run", stop_at=1, allow_imports=True, cassette_mode="auto")
    code, _, err = _cli("run", "--resume", "run")
    assert (code, err.count("\n")) == (2, 1)
    assert "--allow-imports" in err
    # A forged header claiming the consent, its chain recomputed as anyone can: still refused
    # (the header has no such field; consent is the resuming user's flag alone).
    journal = Path("run/journal.jsonl")
    bodies = [json.loads(line) for line in journal.read_text().splitlines()]
    bodies[0]["allow_imports"] = True
    head, forged = "", []
    for body in bodies:
        body.pop("chain")
        head = _chain(head, body)
        forged.append(json.dumps({**body, "chain": head}, sort_keys=True,
                                 separators=(",", ":"), ensure_ascii=False))
    journal.write_text("\n".join(forged) + "\n")
    info = json.loads(Path("run/run.json").read_text())
    Path("run/run.json").write_text(json.dumps({**info, "journal_head": head}))
    code, _, err = _cli("run", "--resume", "run")
    assert (code, err.count("\n")) == (2, 1)
    assert "allow_imports" in err or "--allow-imports" in err


def test_resume_works_from_another_folder(
    work: Path, welcome_digest: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(runner.RunStopped):
        runner.run(WELCOME.name, out="run", stop_at=1)  # a relative scenario path
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = runner.resume(work / "run")
    try:
        assert result.digest == welcome_digest
    finally:
        result.close()
