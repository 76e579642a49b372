"""The page in a real headless Chromium: a person approves, edits, rejects, resumes a person
who replied, accepts a rule suggestion and runs to the end; the journal then replays with
``teamsim run --decisions`` to the served run's digest."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teamsim.cli import app
from teamsim.scenario import load_scenario
from teamsim.web import ServedRun

from .browser import CHROMIUM, CHROMIUM_ARGS, serving
from .conftest import SCENARIO

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")


def _kinds(page) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    items = page.get_by_test_id("item")
    return [(items.nth(i).get_attribute("data-kind"), items.nth(i).get_attribute("data-item"))
            for i in range(items.count())]


def _act(page, item: str, button: str) -> None:  # type: ignore[no-untyped-def]
    page.locator(f'[data-item="{item}"]').get_by_test_id(button).click()
    sync_api.expect(page.get_by_test_id("note")).to_contain_text(f"{button}: item {item}")


def test_a_person_plays_the_human_and_the_journal_replays(tmp_path: Path) -> None:
    journal = tmp_path / "decisions.jsonl"
    served = ServedRun(load_scenario(SCENARIO), seed=None, journal=journal,
                       out=tmp_path / "run", source=str(SCENARIO))
    try:
        with serving(served) as url, sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url + "/")
            sync_api.expect(page.get_by_test_id("clock")).to_have_text("2026-03-02 09:00 UTC")
            drafts = [n for k, n in _kinds(page) if k == "draft"]
            assert len(drafts) == 6
            # The drafted <script> is text on the page, not a script that ran.
            assert "<script>alert" in page.get_by_test_id("body").first.inner_text()

            _act(page, drafts[0], "approve")
            item = page.locator(f'[data-item="{drafts[1]}"]')
            item.get_by_test_id("edit-open").click()
            item.get_by_test_id("edit-body").fill("Hi, Riley here: my own words.")
            item.get_by_test_id("edit-send").click()
            sync_api.expect(page.get_by_test_id("note")).to_contain_text(
                f"edit: item {drafts[1]}")
            _act(page, drafts[2], "reject")
            for number in drafts[3:]:
                _act(page, number, "approve")

            resumed = accepted = False
            for _ in range(10):
                if resumed and accepted:
                    break
                page.get_by_role("button", name="to the next session").click()
                sync_api.expect(page.get_by_test_id("note")).to_contain_text("the clock")
                for kind, number in _kinds(page):
                    if kind == "reply" and not resumed:
                        _act(page, number, "resume")
                        resumed = True
                    elif kind == "rule_suggestion" and not accepted:
                        _act(page, number, "accept")
                        accepted = True
                    elif kind == "draft":
                        _act(page, number, "approve")
            assert resumed
            assert accepted

            page.get_by_role("button", name="to the end (scripted approver takes over)").click()
            sync_api.expect(page.get_by_test_id("digest")).to_be_visible()
            served_digest = page.get_by_test_id("digest").inner_text().split()[-1]
            browser.close()
    finally:
        served.close()

    assert re.fullmatch(r"[0-9a-f]{64}", served_digest)
    assert (tmp_path / "run" / "digest.txt").read_text().strip() == served_digest
    actions = [line.split('"action":"')[1].split('"')[0]
               for line in journal.read_text().splitlines()[1:]]
    assert {"approve", "edit", "reject", "resume", "accept", "hand_over"} <= set(actions)
    replay = CliRunner().invoke(app, ["run", str(SCENARIO), "--decisions", str(journal),
                                      "--out", str(tmp_path / "replay")])
    assert replay.exit_code == 0, replay.output
    assert (tmp_path / "replay" / "digest.txt").read_text().strip() == served_digest
