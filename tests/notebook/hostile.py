"""A small run whose names, drafts and subjects are HTML and script: every page must show them
as text. Shared by the report and browser tests."""

from __future__ import annotations

from pathlib import Path

import teamsim
from teamsim.agents import Draft, DraftRequest, FakeDrafter
from teamsim.runner import RunResult

SEQUENCE = '<img src=x onerror="console.error(1)">Intro'
PERSON = '<script>console.error("name")</script>Ada'
BODY = 'Hi there,\n<script>console.error("draft")</script>\n<b>bold?</b> & more'
SUBJECT = '</title><script>console.error("subject")</script>'

SCENARIO = f"""
name: "Hostile <i>names</i>"
description: "A description with <script>console.error('description')</script>"
start: 2026-03-02T08:00:00
days: 2
seed: 7
sequences:
  - name: '{SEQUENCE}'
    steps:
      - {{kind: message, label: "Say <u>hello</u>"}}
      - {{kind: wait, days: 1}}
      - {{kind: message, label: Follow up}}
personas:
  - name: default
    reply: 0.0
  - name: late
    reply: 1.0
    reply_delay: {{dist: fixed, hours: 20}}
contacts:
  - {{name: '{PERSON}', email: ada@example.com, persona: late, enroll_in: ['{SEQUENCE}']}}
  - {{name: Grace Hopper, email: grace@example.com, enroll_in: ['{SEQUENCE}']}}
approver:
  sessions: ["10:00"]
  approve: 1.0
  edit: 0.0
  reject: 0.0
  away:
    - {{start: 2026-03-03, end: 2026-03-04}}
"""


def _draft(request: DraftRequest) -> Draft:
    return Draft(subject=SUBJECT, body=BODY, minutes=3)


def hostile_run(folder: Path) -> RunResult:
    """Run the hostile scenario into ``folder / "run"``."""
    path = folder / "hostile.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return teamsim.run(path, out=folder / "run", drafters={"Riley": FakeDrafter(_draft)})
