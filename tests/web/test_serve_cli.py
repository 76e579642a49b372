"""``teamsim serve`` and ``teamsim run --decisions`` on the command line: where it listens,
and one ``error:`` line (exit 2) for everything it refuses."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from teamsim.cli import app

from .browser import free_port
from .conftest import SCENARIO

SHIPPED = Path(__file__).parents[2] / "scenarios"


@pytest.fixture
def listened(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """uvicorn.run replaced: what serve would listen on, without serving."""
    seen: dict[str, object] = {}

    def fake_run(app: object, *, host: str, port: int, log_level: str) -> None:
        middleware = [m.cls.__name__ for m in getattr(app, "user_middleware", [])]
        seen.update(host=host, port=port, trusted_hosts="TrustedHostMiddleware" in middleware)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return seen


def _serve(runner: CliRunner, tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["serve", str(SCENARIO), "--out", str(tmp_path / "run"),
                               "--port", str(free_port()), *args])


def test_serve_listens_on_loopback_by_default(runner: CliRunner, tmp_path: Path,
                                              listened: dict[str, object]) -> None:
    result = _serve(runner, tmp_path)
    assert result.exit_code == 0, result.output
    assert listened["host"] == "127.0.0.1"
    assert listened["trusted_hosts"] is True
    assert f"open http://127.0.0.1:{listened['port']}/" in result.stdout
    assert "the clock stands at 2026-03-02 09:00 UTC" in result.stdout
    header = json.loads((tmp_path / "run.decisions.jsonl").read_text().splitlines()[0])
    assert header["format"] == "teamsim-decisions/1"


def test_another_address_only_when_asked_for_with_a_warning(
        runner: CliRunner, tmp_path: Path, listened: dict[str, object]) -> None:
    result = _serve(runner, tmp_path, "--host", "0.0.0.0")
    assert result.exit_code == 0, result.output
    assert listened["host"] == "0.0.0.0"
    assert listened["trusted_hosts"] is False
    assert "warning: listening on 0.0.0.0" in result.stderr


def test_a_port_in_use_is_refused(runner: CliRunner, tmp_path: Path,
                                  listened: dict[str, object]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", str(SCENARIO), "--port", str(port),
                                     "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --port {port}: cannot listen")
    assert not listened
    assert not (tmp_path / "run.decisions.jsonl").exists()


def test_an_existing_journal_or_folder_is_never_overwritten(
        runner: CliRunner, tmp_path: Path, listened: dict[str, object]) -> None:
    (tmp_path / "mine.jsonl").write_text("my notes\n")
    result = _serve(runner, tmp_path, "--journal", str(tmp_path / "mine.jsonl"))
    assert result.exit_code == 2
    assert "a file is there already" in result.stderr
    assert (tmp_path / "mine.jsonl").read_text() == "my notes\n"
    (tmp_path / "run").mkdir()
    result = _serve(runner, tmp_path)
    assert result.exit_code == 2
    assert "there already; pass --force" in result.stderr


def test_a_model_backed_team_is_refused(runner: CliRunner, tmp_path: Path,
                                        listened: dict[str, object]) -> None:
    result = runner.invoke(app, ["serve", str(SHIPPED / "model-vs-template.yaml"),
                                 "--port", str(free_port()), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "model-backed" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def _journal(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "j.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return path


HEADER_OF_OTHER_SEED = json.dumps({"format": "teamsim-decisions/1", "scenario": "x",
                                   "scenario_sha256": "0" * 64, "seed": 9})


def test_run_decisions_refuses_what_is_not_a_journal(runner: CliRunner,
                                                     tmp_path: Path) -> None:
    for lines, message in [
        (("hello",), "line 1: not a teamsim decisions journal header"),
        ((), "empty"),
        ((HEADER_OF_OTHER_SEED,), "made on another version of the scenario"),
    ]:
        result = runner.invoke(app, ["run", str(SCENARIO), "--decisions",
                                     str(_journal(tmp_path, *lines)),
                                     "--out", str(tmp_path / "out")])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ")
        assert message in result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert not (tmp_path / "out").exists()


def test_run_decisions_names_the_line_and_the_seed(runner: CliRunner, tmp_path: Path) -> None:
    from teamsim.scenario import load_scenario, scenario_hash

    header = json.dumps({"format": "teamsim-decisions/1", "scenario": "Play the human",
                         "scenario_sha256": scenario_hash(load_scenario(SCENARIO)),
                         "seed": 3})
    bad_line = json.dumps({"n": 1, "minute": 60, "at": "2026-03-02T09:00:00Z",
                           "action": "launch", "item": 1})
    result = runner.invoke(app, ["run", str(SCENARIO), "--decisions",
                                 str(_journal(tmp_path, header, bad_line))])
    assert result.exit_code == 2
    assert "line 2: action:" in result.stderr
    result = runner.invoke(app, ["run", str(SCENARIO), "--seed", "4", "--decisions",
                                 str(_journal(tmp_path, header))])
    assert result.exit_code == 2
    assert "made with seed 3, not 4; pass --seed 3" in result.stderr
    unknown = json.dumps({"n": 1, "minute": 60, "at": "2026-03-02T09:00:00Z",
                          "action": "approve", "item": 999})
    result = runner.invoke(app, ["run", str(SCENARIO), "--decisions",
                                 str(_journal(tmp_path, header, unknown)),
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "decision 1 (minute 60, approve): item 999" in result.stderr
    assert not (tmp_path / "out").exists()
