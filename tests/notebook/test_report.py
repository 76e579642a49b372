"""``teamsim report`` and :func:`teamsim.notebook.report_html`: one self-contained offline page
naming every section, every user text escaped, written atomically and never over a file
teamsim did not write."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teamsim.cli import app
from teamsim.notebook import RUN_SECTIONS, SWEEP_SECTIONS, report_html
from teamsim.runner import RunResult, SweepResult

from .hostile import PERSON, SEQUENCE, SUBJECT, hostile_run


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = hostile_run(tmp_path_factory.mktemp("hostile"))
    assert result.out_dir is not None
    result.close()
    return result.out_dir


def _sections(page: str) -> list[str]:
    return re.findall(r'<section id="([a-z]+)">', page)


def _offline(page: str) -> None:
    assert "<script" not in page.lower()
    for src in re.findall(r'\b(?:src|href)="([^"]*)"', page):
        assert src.startswith(("data:image/svg+xml;base64,", "#")), src
    assert "default-src 'none'" in page


def test_the_report_names_every_section_and_loads_nothing(welcome: RunResult) -> None:
    page = report_html(welcome)
    assert _sections(page) == [id_ for id_, _ in RUN_SECTIONS]
    for _, heading in RUN_SECTIONS:
        assert f">{heading.replace(chr(39), '&#39;')}</h2>" in page
    _offline(page)
    assert len(re.findall(r'<img src="data:image/svg\+xml;base64,', page)) == 6
    assert welcome.digest in page
    assert "Why isn't 'Welcome new renovation leads' sending?" in page
    assert welcome.world.description[:40].replace("'", "&#39;") in page


def test_the_report_is_the_same_bytes_for_the_same_run(welcome: RunResult) -> None:
    assert welcome.out_dir is not None
    assert report_html(welcome.out_dir) == report_html(welcome.out_dir)
    # from the result, the page also has the scenario's description (a folder has none)
    from_result = report_html(welcome)
    assert re.sub(r"<p>The spec.*?</p>", "", from_result, count=1) == \
        report_html(welcome.out_dir)


def test_every_user_text_is_escaped(hostile: Path) -> None:
    page = report_html(hostile)
    _offline(page)
    for text in (SEQUENCE, PERSON, SUBJECT, "Say <u>hello</u>"):
        assert text not in page
    assert "&lt;script&gt;console.error(&#34;draft&#34;)&lt;/script&gt;" in page
    assert "&lt;script&gt;console.error(&#34;name&#34;)&lt;/script&gt;Ada" in page
    assert "&lt;img src=x onerror=&#34;console.error(1)&#34;&gt;Intro" in page
    assert "&lt;/title&gt;&lt;script&gt;" in page
    assert "&lt;b&gt;bold?&lt;/b&gt; &amp; more" in page
    # the draft waiting at the end is in the inbox, whole
    inbox = page[page.index('<section id="inbox">'):]
    assert "draft" in inbox
    assert "since 2026-03-03" in inbox


def test_the_command_writes_the_page(hostile: Path, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    result = CliRunner().invoke(app, ["report", str(hostile), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"report of {hostile} -> {out}"
    assert out.read_text(encoding="utf-8") == report_html(hostile)
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]  # no temporary file left
    # reading a run writes nothing into it
    assert sorted(p.name for p in hostile.iterdir()) == [
        "digest.txt", "events.jsonl", "metrics.json", "previews.json", "run.json", "store.db"]


def test_an_earlier_report_is_replaced_only_with_force(hostile: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["report", str(hostile)]).exit_code == 0
    assert (tmp_path / "report.html").is_file()
    again = runner.invoke(app, ["report", str(hostile)])
    assert again.exit_code == 2
    assert again.stderr == ("error: --out report.html: there already (an earlier report); "
                            "pass --force to replace it\n")
    assert runner.invoke(app, ["report", str(hostile), "--force"]).exit_code == 0


def test_a_file_teamsim_did_not_write_is_never_replaced(hostile: Path, tmp_path: Path) -> None:
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>")
    result = CliRunner().invoke(app, ["report", str(hostile), "--out", str(mine), "--force"])
    assert result.exit_code == 2
    assert result.stderr == (f"error: --out {mine}: there already, and not a teamsim report; "
                             "choose another file\n")
    assert mine.read_text() == "<p>my notes</p>"


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "missing", "no such run or sweep directory"),
    (lambda d: d, "not a teamsim run directory (no run.json)"),
])
def test_a_folder_that_is_no_run_is_one_error_line(tmp_path: Path, make, message: str) -> None:
    result = CliRunner().invoke(app, ["report", str(make(tmp_path)),
                                      "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_a_sweep_folder_gets_the_comparison(paired_sweep: SweepResult, tmp_path: Path) -> None:
    assert paired_sweep.csv_path is not None
    out = tmp_path / "sweep.html"
    result = CliRunner().invoke(app, ["report", str(paired_sweep.csv_path.parent),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert _sections(page) == [id_ for id_, _ in SWEEP_SECTIONS]
    _offline(page)
    assert "at the desk" in page
    assert "approver.away = []" in page


def test_an_unfinished_sweep_is_named_as_such(paired_sweep: SweepResult, tmp_path: Path) -> None:
    assert paired_sweep.csv_path is not None
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    header = paired_sweep.csv_path.read_text(encoding="utf-8").splitlines(keepends=True)[0]
    (unfinished / "sweep.csv").write_text(header, encoding="utf-8")  # as Ctrl-C leaves it
    result = CliRunner().invoke(app, ["report", str(unfinished), "--out",
                                      str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "an unfinished sweep" in result.stderr
    assert "--resume" in result.stderr


def test_without_the_extra_the_command_names_it(hostile: Path, tmp_path: Path) -> None:
    code = ("import sys\nsys.modules['matplotlib'] = None\nfrom teamsim.cli import main\n"
            f"sys.argv = ['teamsim', 'report', {str(hostile)!r}, '--out', "
            f"{str(tmp_path / 'r.html')!r}]\nmain()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == ("error: teamsim report: DataFrames, plots and reports need "
                           "matplotlib, which is not installed: pip install "
                           "'teamsim[notebook]'\n")
    assert not (tmp_path / "r.html").exists()


def test_the_run_json_database_is_never_opened_from_the_folder(hostile: Path,
                                                              tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(hostile, copy)
    info = json.loads((copy / "run.json").read_text())
    info["db"] = "postgresql+psycopg://u:***@db.example/x"
    (copy / "run.json").write_text(json.dumps(info))
    result = CliRunner().invoke(app, ["report", str(copy), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert "the run was recorded in postgresql+psycopg://u:***@db.example/x" in result.stderr
