"""Screenshots of `teamsim serve`'s main pages for the README: ``python docs/screenshots.py``.

Serves the shipped welcome scenario on a free local port, drives it with Debian's Chromium
through Playwright (``apt-get install chromium``; Playwright's own browser download is not
needed), and saves ``docs/img/attention.png``, ``sequences.png``, ``checklist.png`` and
``run.png``. The journal goes to a temporary folder; nothing else is written.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import threading
from pathlib import Path

import uvicorn
from playwright.sync_api import expect, sync_playwright

from teamsim.scenario import load_scenario
from teamsim.web import ServedRun, create_app

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "welcome-renovation-leads.yaml"
IMAGES = ROOT / "docs" / "img"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> int:
    """Take the screenshots; 0 when done."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        served = ServedRun(load_scenario(SCENARIO), seed=None,
                           journal=Path(scratch) / "decisions.jsonl", source=str(SCENARIO))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(served), host="127.0.0.1",
                                               port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        ready = threading.Event()
        while thread.is_alive() and not ready.wait(0.05):
            if server.started:
                ready.set()
        url = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url + "/")
                # A little history: the first draft approved, then a day on.
                page.get_by_test_id("approve").first.click()
                expect(page.get_by_test_id("note")).to_contain_text("approve")
                page.get_by_role("button", name="by a day").click()
                expect(page.get_by_test_id("note")).to_contain_text("the clock")
                page.goto(url + "/")
                page.screenshot(path=IMAGES / "attention.png")
                page.goto(url + "/sequences")
                page.screenshot(path=IMAGES / "sequences.png")
                page.goto(url + "/sequences/1")
                page.screenshot(path=IMAGES / "checklist.png")
                page.goto(url + "/run")
                page.screenshot(path=IMAGES / "run.png")
                browser.close()
        finally:
            server.should_exit = True
            thread.join()
            served.close()
    for name in ("attention", "sequences", "checklist", "run"):
        print(IMAGES / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
