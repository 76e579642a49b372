"""Fixtures of the web tests: a served run of the small world beside this file, and its app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")

from fastapi.testclient import TestClient

from teamsim.scenario import load_scenario
from teamsim.web import ServedRun, create_app

SCENARIO = Path(__file__).with_name("play-the-human.yaml")
TOKEN = "test-token"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRun]:
    run = ServedRun(load_scenario(SCENARIO), seed=None, journal=tmp_path / "decisions.jsonl",
                    out=tmp_path / "run", source=str(SCENARIO))
    yield run
    run.close()


@pytest.fixture
def client(served: ServedRun) -> Iterator[TestClient]:
    with TestClient(create_app(served, token=TOKEN), follow_redirects=True) as c:
        yield c
