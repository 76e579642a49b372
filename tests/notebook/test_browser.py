"""The report in a real headless browser (Debian's chromium driven by Playwright): it renders
without a console error or a request, shows every section, and shows a hostile draft as text.

Skipped, with the reason, where chromium or Playwright cannot be had (``.ci/run`` installs
chromium with apt-get when it can).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from teamsim.notebook import RUN_SECTIONS, write_report
from teamsim.runner import RunResult

from .hostile import BODY, PERSON, hostile_run

CHROMIUM = os.environ.get("TEAMSIM_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as driver:
        try:
            launched = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Error as exc:
            pytest.skip(f"chromium at {CHROMIUM} does not start: {str(exc).splitlines()[0]}")
        yield launched
        launched.close()


def _open(browser: Any, page_path: Path) -> tuple[Any, list[str], list[str]]:
    problems: list[str] = []
    requests: list[str] = []
    context = browser.new_context(offline=True, java_script_enabled=True)
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_path.resolve().as_uri(), wait_until="load")
    return page, problems, requests


def test_the_report_renders_every_section_without_errors(
        browser: Any, welcome: RunResult, tmp_path: Path) -> None:
    assert welcome.out_dir is not None
    page_path = write_report(welcome.out_dir, tmp_path / "report.html")
    page, problems, requests = _open(browser, page_path)
    assert problems == []
    assert requests == [page_path.resolve().as_uri()]  # nothing else was fetched
    for id_, heading in RUN_SECTIONS:
        section = page.locator(f"section#{id_}")
        assert section.is_visible(), id_
        assert section.locator("h2").inner_text() == heading
    images = page.locator("img")
    assert images.count() == 6
    for index in range(images.count()):
        # every plot decoded: an SVG that failed to load has no natural width
        assert images.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")


def test_a_hostile_draft_is_shown_as_text(browser: Any, tmp_path: Path) -> None:
    result = hostile_run(tmp_path)
    assert result.out_dir is not None
    result.close()
    page_path = write_report(result.out_dir, tmp_path / "hostile.html")
    page, problems, _ = _open(browser, page_path)
    assert problems == []  # no script ran: each would have logged an error
    assert page.locator("script").count() == 0
    inbox = page.locator("section#inbox").inner_text()
    assert '<script>console.error("draft")</script>' in inbox
    assert "<b>bold?</b> & more" in inbox
    summary = page.locator("section#summary").inner_text()
    assert "Hostile <i>names</i>" in page.title()
    assert '<img src=x onerror="console.error(1)">Intro' in summary
    assert PERSON in inbox  # her reply waits in Needs attention, under her name
    assert BODY.splitlines()[1] in inbox
