"""The README's figures are made by a documented command: it runs and writes every PNG."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
NAMES = ["welcome-approval_latency.png", "welcome-attention.png", "welcome-daily.png",
         "welcome-funnel.png", "welcome-swimlanes.png", "welcome-utilisation.png"]


def test_the_figures_command_writes_every_png(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "make_figures.py"), "--out",
                           str(tmp_path)], capture_output=True, text=True, check=True,
                          cwd=tmp_path)
    assert done.stdout.splitlines() == [str(tmp_path / name) for name in (
        "welcome-funnel.png", "welcome-swimlanes.png", "welcome-attention.png",
        "welcome-approval_latency.png", "welcome-utilisation.png", "welcome-daily.png")]
    assert sorted(p.name for p in tmp_path.iterdir()) == NAMES
    for name in NAMES:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_readme_shows_the_figures_the_command_makes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python docs/make_figures.py" in readme
    for name in NAMES:
        assert (ROOT / "docs" / "img" / name).is_file()
    for name in ("welcome-funnel.png", "welcome-swimlanes.png", "welcome-attention.png",
                 "welcome-approval_latency.png"):
        assert f"(docs/img/{name})" in readme
