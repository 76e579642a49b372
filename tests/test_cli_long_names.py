"""A path too long for a file name (ENAMETOOLONG) is bad input like a missing one: one error
line, exit 2 (``Path.exists`` and ``is_dir`` raise ``OSError`` for it rather than saying no)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from teamsim.cli import app

LONG = "o" * 300


@pytest.mark.parametrize(("args", "message"), [
    (["inbox", LONG], f"error: {LONG}: cannot read it (File name too long)"),
    (["diagnose", LONG, "--sequence", "Intro"], f"error: {LONG}: cannot read it"),
    (["rules", "list", LONG], f"error: {LONG}: cannot read it"),
    (["run", "--resume", LONG], f"error: {LONG}: cannot read it (File name too long)"),
    (["report", LONG], f"error: {LONG}: cannot use it (File name too long)"),
    (["report", "nowhere", "--out", LONG], f"error: --out {LONG}: cannot use it"),
    (["runs", "list", "--db", LONG], "error: --db: cannot open database sqlite:///"),
    (["seq", "export", "x", "--db", LONG], "error: --db: cannot open database sqlite:///"),
])
def test_a_name_too_long_is_one_error_line(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []

