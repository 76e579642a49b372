"""The README stays true: its commands name real files and every metric is defined in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from teamsim.sim import METRICS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_metric_is_defined_in_the_readme() -> None:
    for name, definition in METRICS.items():
        assert f"| `{name}` | {definition} |" in README, name


def test_every_model_metric_is_defined_in_the_readme() -> None:
    from teamsim.llm import MODEL_METRICS

    for name, definition in MODEL_METRICS.items():
        assert f"| `{name}` | {definition} |" in README, name


def test_the_shown_model_run_is_what_the_shipped_model_scenario_gives_now() -> None:
    import re

    import teamsim

    shown = re.search(r"digest ([0-9a-f]{12}) -> runs/model-vs-template-seed11", README)
    assert shown is not None
    result = teamsim.run(ROOT / "scenarios" / "model-vs-template.yaml")
    try:
        assert result.digest.startswith(shown.group(1))
        usage = result.metrics["model_usage"]["Riley"]
        replayed = usage["replayed_tokens_in"] + usage["replayed_tokens_out"]
        assert f"Riley          0         {usage['cache_hits']}" in README
        assert f"{replayed:,}" in README
    finally:
        result.close()


def test_the_main_job_runs_a_shipped_scenario() -> None:
    command = next(line for line in README.splitlines() if "teamsim run scenarios/" in line)
    scenario = command.split("teamsim run ")[1].split()[0]
    assert (ROOT / scenario).is_file()


def test_the_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[test]' && .venv/bin/pytest" in README
    assert "\npytest\n" in ci


def test_the_shown_run_output_is_what_the_main_job_prints_now() -> None:
    import re

    import teamsim

    shown = re.search(r"digest ([0-9a-f]{12}) -> runs/welcome-renovation-leads-seed7", README)
    assert shown is not None
    result = teamsim.run(ROOT / "scenarios" / "welcome-renovation-leads.yaml")
    try:
        assert result.digest.startswith(shown.group(1))
        assert f"({shown.group(1)}..." in README.replace("`", "")
    finally:
        result.close()


def test_the_python_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    source = README.split("### From Python")[1].split("```python\n")[1].split("```")[0]
    monkeypatch.chdir(ROOT)
    exec(compile(source, "README.md (Python example)", "exec"), {})


def test_the_exit_codes_are_the_ones_the_cli_uses() -> None:
    from teamsim.cli import _app as _cli_app

    table = README.split("#### Exit codes")[1].split("\n\n")[1]
    codes = [int(row.split("|")[1]) for row in table.splitlines()[2:]]
    assert codes == [_cli_app.EXIT_OK, _cli_app.EXIT_FAILED, _cli_app.EXIT_BAD_INPUT,
                     _cli_app.EXIT_INTERNAL, _cli_app.EXIT_INTERRUPTED,
                     _cli_app.EXIT_BROKEN_PIPE]
