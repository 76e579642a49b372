"""The command line's shell: usage errors as one line, exit codes, --version, python -m teamsim,
start-up that does not import the simulator, and the limits of --seeds and --set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teamsim import runner
from teamsim.cli import app
from teamsim.cli._sweep import SWEEP_METRICS_HELP
from teamsim.model import ValidationError

DATA = Path(__file__).parent / "data"
SMALL = str(DATA / "run_small.yaml")


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), env=env)


# ---------------------------------------------------------------------------------------------
# usage errors: one line, naming the option and echoing the value, exit 2


@pytest.mark.parametrize(("args", "line"), [
    (["run", SMALL, "--seed", "abc"],
     "error: --seed: 'abc' must be a valid integer; see `teamsim run --help`"),
    (["run", SMALL, "--seed", "1.5"],
     "error: --seed: '1.5' must be a valid integer; see `teamsim run --help`"),
    (["sweep", SMALL, "--workers", "0"],
     "error: --workers: '0' must be greater than or equal to 1; see `teamsim sweep --help`"),
    (["run", SMALL, "--until", "soon"],
     "error: --until: 'soon' must be a valid number; see `teamsim run --help`"),
    (["run"], "error: SCENARIO: missing; give a scenario file (`teamsim run SCENARIO`), "
     "--db URL --sequence NAME, or --resume RUN_DIR"),
    (["run", SMALL, "--sed", "3"],
     "error: --sed: no such option (did you mean --db or --seed?); see `teamsim run --help`"),
    (["seq", "add", "S", "bogus"],
     "error: KIND: 'bogus' is not one of 'email', 'message', 'wait', 'branch'; "
     "see `teamsim seq add --help`"),
    (["frobnicate"], "error: No such command 'frobnicate'; see `teamsim --help`"),
    (["run", SMALL, "extra"], "error: Got unexpected extra argument(s) (extra); "
     "see `teamsim run --help`"),
])
def test_usage_errors_are_one_line_naming_the_argument(args: list[str], line: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == line + "\n"


def test_a_usage_error_does_not_echo_control_characters() -> None:
    result = invoke("run", SMALL, "--seed", "\x1b[31m\n1")
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: --seed: ")


@pytest.mark.parametrize("command", [
    ["run"], ["seq", "show"], ["seq", "label"], ["validate"], ["inbox"], ["rules", "preview"],
])
def test_usage_lines_name_arguments_plainly(command: list[str]) -> None:
    usage = next(line for line in invoke(*command, "--help").stdout.splitlines()
                 if "Usage:" in line)
    assert "{" not in usage
    assert "}" not in usage
    assert usage.split("[OPTIONS]")[1].split() == [
        word.upper() for word in usage.split("[OPTIONS]")[1].split()]


def test_no_arguments_shows_the_help() -> None:
    result = invoke()
    assert result.exit_code == 2
    assert "Usage: teamsim" in result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# exit codes of crashes and interrupts


def _boom(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("the flux capacitor\nbroke")


def test_an_internal_error_exits_3_and_asks_for_a_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("teamsim.scenario.load_scenario", _boom)
    result = invoke("validate", SMALL, env={"TEAMSIM_DEBUG": ""})
    assert result.exit_code == 3
    assert result.stderr == (
        "teamsim: internal error: RuntimeError: the flux capacitor\\nbroke; please report this "
        "with the command you ran (set TEAMSIM_DEBUG=1 to see the traceback)\n")


def test_teamsim_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("teamsim.scenario.load_scenario", _boom)
    result = invoke("validate", SMALL, env={"TEAMSIM_DEBUG": "1"})
    assert result.exit_code == 3
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert result.stderr.splitlines()[-1].startswith("teamsim: internal error: RuntimeError")


def test_an_internal_error_message_is_cut_short(monkeypatch: pytest.MonkeyPatch) -> None:
    def huge(*_args: object, **_kwargs: object) -> None:
        raise ValueError("x" * 100_000)

    monkeypatch.setattr("teamsim.scenario.load_scenario", huge)
    result = invoke("validate", SMALL, env={"TEAMSIM_DEBUG": ""})
    assert result.exit_code == 3
    assert len(result.stderr) < 700
    assert "x…; please report this" in result.stderr


def test_ctrl_c_prints_one_line_and_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("teamsim.scenario.load_scenario", interrupted)
    result = invoke("validate", SMALL)
    assert result.exit_code == 130
    assert result.stderr == "interrupted\n"


def test_the_console_script_exits_3_on_an_internal_error(tmp_path: Path) -> None:
    # The real entry point in a real process, with a loader that fails as a bug would.
    code = ("import sys, teamsim.scenario as s\n"
            "def boom(*a, **k): raise LookupError('x')\n"
            "s.load_scenario = boom\n"
            "sys.argv = ['teamsim', 'validate', 'x.yaml']\n"
            "from teamsim.cli import main\nmain()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "TEAMSIM_DEBUG": ""}, check=False)
    assert done.returncode == 3
    assert done.stderr.startswith("teamsim: internal error: LookupError: x; please report")
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------------------
# --version, python -m teamsim, completion


def test_version() -> None:
    from importlib.metadata import version

    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"teamsim {version('teamsim')}\n"


def test_python_dash_m_teamsim_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "teamsim", "--version"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("teamsim ")


def test_shell_completion_is_offered() -> None:
    result = invoke("--help", env={"COLUMNS": "200"})
    assert "--install-completion" in result.stdout
    assert "--show-completion" in result.stdout


# ---------------------------------------------------------------------------------------------
# start-up


def test_the_cli_module_does_not_import_the_simulator() -> None:
    # Nor the domain model (pydantic): the ground floor's package resolves names lazily.
    heavy = ["langgraph", "scipy", "simpy", "sqlalchemy", "pydantic", "teamsim.runner",
             "teamsim.sim", "teamsim.model.sequence"]
    code = ("import sys, teamsim.cli\n"
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == ""


def test_the_seq_commands_do_not_import_the_simulator(tmp_path: Path) -> None:
    heavy = ["langgraph", "scipy", "simpy", "teamsim.runner", "teamsim.sim"]
    code = ("import sys\nfrom teamsim.cli import main\n"
            f"sys.argv = ['teamsim', 'seq', 'list', '--db', {str(tmp_path / 'x.db')!r}]\n"
            "try:\n    main()\nexcept SystemExit as done:\n    assert done.code == 0, done.code\n"
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.splitlines()[-1] == ""


def test_the_sweep_help_names_the_default_metrics() -> None:
    assert ", ".join(runner.DEFAULT_SWEEP_METRICS) == SWEEP_METRICS_HELP


def test_the_sweep_help_shows_the_extras_in_brackets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    result = CliRunner().invoke(app, ["sweep", "--help"])
    assert "pip install 'teamsim[dask]' or 'teamsim[ray]'" in result.stdout


# ---------------------------------------------------------------------------------------------
# --seeds and --set: bounded, measured before they are built


def test_a_huge_seed_range_is_refused_without_building_it() -> None:
    with pytest.raises(ValidationError, match=r"100,000,000,000 runs; a sweep takes at most "
                                              r"100,000"):
        runner.parse_seeds("0:100000000000")
    with pytest.raises(ValidationError, match="at most 100,000"):
        runner.parse_seeds("0:" + "9" * 4000)


def test_the_seed_limit_is_inclusive() -> None:
    assert len(runner.parse_seeds(f"0:{runner.MAX_SWEEP_RUNS}")) == runner.MAX_SWEEP_RUNS
    with pytest.raises(ValidationError, match="100,001 runs"):
        runner.parse_seeds(f"0:{runner.MAX_SWEEP_RUNS + 1}")


def test_a_long_seed_list_is_refused_and_shown_short() -> None:
    text = ",".join(str(n) for n in range(runner.MAX_SWEEP_RUNS + 1))
    with pytest.raises(ValidationError) as caught:
        runner.parse_seeds(text)
    assert len(str(caught.value)) < 200


def test_too_many_variants_are_refused_before_the_product_is_built() -> None:
    values = ",".join(str(n) for n in range(1000))
    with pytest.raises(ValidationError, match=r"--set: 1,000,000,000 runs"):
        runner.parse_sets([f"a={values}", f"b={values}", f"c={values}"])


def test_sweep_refuses_seeds_times_variants_over_the_limit(tmp_path: Path) -> None:
    values = ",".join(str(n) for n in range(100))
    result = invoke("sweep", SMALL, "--seeds", "0:1001", "--set", f"approver.approve={values}",
                    "--out", str(tmp_path / "s"))
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --seeds x --set: 1,001 seeds x 100 variants make 100,100 runs; a sweep takes "
        "at most 100,000, so split it into several sweeps\n")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("seeds", ["0:100000000000", "abc", "5:3", "1,1"])
def test_sweep_bad_seeds_exit_2_with_one_line(seeds: str, tmp_path: Path) -> None:
    result = invoke("sweep", SMALL, "--seeds", seeds, "--out", str(tmp_path / "s"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --seeds {seeds!r}: ")
    assert result.stderr.count("\n") == 1


def test_a_reader_that_goes_away_ends_teamsim_with_141_not_1(tmp_path: Path) -> None:
    # `teamsim run ... | head -1`: Rich's console exits 1 on a broken pipe, the code of a
    # failed expectation. The read end is closed before teamsim writes anything.
    command = [sys.executable, "-m", "teamsim", "run", str(SMALL), "--out", str(tmp_path / "r")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    with process.stderr:
        stderr = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert b"Traceback" not in stderr


@pytest.mark.parametrize("url", ["postgresql+psycopg://u:S3CRET@127.0.0.1:1/test",
                                 "postgresql+psycopg://u@127.0.0.1:1/test?password=S3CRET"])
def test_a_usage_error_echoing_a_database_url_hides_its_password(url: str) -> None:
    # Found by the fuzz test: an extra argument holding a URL was echoed with its password.
    result = invoke("run", SMALL, "1e3", url)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: Got unexpected extra argument(s)")
    assert "S3CRET" not in result.output
