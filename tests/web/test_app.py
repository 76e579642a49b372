"""The web app's handlers, through FastAPI's TestClient: every endpoint, the CSRF check,
double submission, escaping, and the journal a session leaves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from teamsim import runner
from teamsim.cli import app
from teamsim.scenario import load_scenario
from teamsim.store import Store
from teamsim.web import Advance, ServedRun

from .conftest import SCENARIO, TOKEN

ITEM = re.compile(r'data-kind="(\w+)" data-item="(\d+)"')


def _items(html: str) -> list[tuple[str, int]]:
    return [(kind, int(number)) for kind, number in ITEM.findall(html)]


def _post(client: TestClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf": TOKEN, **data})


def _journal(served: ServedRun) -> list[dict[str, object]]:
    return [json.loads(line) for line in served.journal.path.read_text().splitlines()]


def _first(client: TestClient, kind: str) -> int:
    """Advance session by session until an item of ``kind`` waits; its id."""
    for _ in range(12):
        found = [n for k, n in _items(client.get("/").text) if k == kind]
        if found:
            return found[0]
        for k, n in _items(client.get("/").text):
            if k == "draft":
                _post(client, f"/attention/{n}", action="approve")
        _post(client, "/advance", to="session")
    raise AssertionError(f"no {kind} came")


def test_the_page_opens_at_the_first_session_with_the_drafts(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert [k for k, _ in _items(page.text)] == ["draft"] * 6
    assert "2026-03-02 09:00 UTC" in page.text
    assert "Say hello" in page.text
    assert "Riley" in page.text
    assert "Sam" in page.text
    assert "round 1: pass" in page.text  # the peer reviewer's verdict


def test_drafted_text_and_names_are_escaped(client: TestClient) -> None:
    page = client.get("/").text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "<b>leads</b>" not in page
    assert "Hello &lt;b&gt;leads&lt;/b&gt;" in client.get("/sequences").text


def test_the_page_loads_htmx_from_itself(client: TestClient) -> None:
    page = client.get("/").text
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts == ["/static/htmx-2.0.4.min.js"]
    js = client.get(scripts[0])
    assert js.status_code == 200
    assert "htmx" in js.text
    assert client.get("/static/style.css").status_code == 200


def test_approve_is_journaled_with_its_simulated_time(client: TestClient,
                                                        served: ServedRun) -> None:
    done = _post(client, "/attention/1", action="approve")
    assert done.status_code == 200
    assert "approve: item 1, at 2026-03-02 09:00 UTC" in done.text
    assert (1 not in [n for _, n in _items(done.text)])
    header, decision = _journal(served)
    assert header["format"] == "teamsim-decisions/1"
    assert header["seed"] == 3
    assert decision == {"n": 1, "minute": 60, "at": "2026-03-02T09:00:00Z",
                        "action": "approve", "item": 1, "sequence": None, "subject": None,
                        "body": None, "note": ""}


def test_a_second_decision_on_the_same_item_is_refused(client: TestClient,
                                                       served: ServedRun) -> None:
    assert _post(client, "/attention/1", action="approve").status_code == 200
    again = _post(client, "/attention/1", action="reject")
    assert again.status_code == 409
    assert "refused: item 1 was already decided" in again.text
    assert len(_journal(served)) == 2  # the header and the one decision


def test_a_post_without_the_csrf_token_is_refused(client: TestClient,
                                                   served: ServedRun) -> None:
    missing = client.post("/attention/1", data={"action": "approve"})
    wrong = client.post("/attention/1", data={"action": "approve", "csrf": "nope"})
    advance = client.post("/advance", data={"to": "end"})
    switch = client.post("/sequences/1", data={"action": "pause"})
    for response in (missing, wrong, advance, switch):
        assert response.status_code == 403
        assert "CSRF token is missing or wrong" in response.text
    assert len(_journal(served)) == 1
    assert [k for k, _ in _items(client.get("/").text)] == ["draft"] * 6


def test_the_csrf_header_htmx_sends_is_accepted(client: TestClient) -> None:
    done = client.post("/attention/2", data={"action": "approve"},
                       headers={"X-CSRF-Token": TOKEN})
    assert done.status_code == 200


def test_edit_sends_the_edited_text(client: TestClient, served: ServedRun,
                                    tmp_path: Path) -> None:
    edited = _post(client, "/attention/1", action="edit", subject="My own subject",
                   body="My own words <i>here</i>.")
    assert edited.status_code == 200
    assert _journal(served)[1]["body"] == "My own words <i>here</i>."
    _post(client, "/advance", to="end")
    assert served.over
    with Store.open(tmp_path / "run" / "store.db", read_only=True) as store, \
            store.unit_of_work() as uow:
        sent = {m.body: m.subject for m in uow.messages.list()}
    assert sent["My own words <i>here</i>."] == "My own subject"


def test_an_edit_needs_a_body(client: TestClient) -> None:
    refused = _post(client, "/attention/1", action="edit", body="  ")
    assert refused.status_code == 409
    assert "an edit needs the new body text" in refused.text


def test_reject_keeps_the_draft_from_going_out(client: TestClient, served: ServedRun) -> None:
    assert _post(client, "/attention/1", action="reject", note="Too stiff").status_code == 200
    assert _journal(served)[1]["action"] == "reject"
    assert _journal(served)[1]["note"] == "Too stiff"


def test_a_reply_shows_what_it_answers_and_can_be_resumed(client: TestClient,
                                                           served: ServedRun) -> None:
    reply = _first(client, "reply")
    page = client.get("/").text
    block = page[page.index(f'data-item="{reply}"'):]
    assert "The message it answers" in block
    assert "Leave paused" in block
    done = _post(client, f"/attention/{reply}", action="resume")
    assert done.status_code == 200
    assert _journal(served)[-1]["action"] == "resume"
    assert "refused" in _post(client, f"/attention/{reply}", action="end").text


def test_a_rule_suggestion_shows_its_preview_and_can_be_accepted(client: TestClient,
                                                                   served: ServedRun) -> None:
    suggestion = _first(client, "rule_suggestion")
    page = client.get("/").text
    block = page[page.index(f'data-item="{suggestion}"'):]
    assert "Preview: what the rule would have approved so far" in block
    assert "approves nothing until you accept it" in block
    assert _post(client, f"/attention/{suggestion}", action="accept").status_code == 200
    run_page = client.get("/run").text
    assert "rule.enabled" in run_page


def test_an_action_that_does_not_fit_the_item_is_refused(client: TestClient) -> None:
    refused = _post(client, "/attention/1", action="resume")
    assert refused.status_code == 409
    assert "resume does not answer a draft" in refused.text
    bogus = _post(client, "/attention/1", action="explode")
    assert bogus.status_code == 400
    assert "error: action: &#39;explode&#39; is not an action" in bogus.text


def test_a_malformed_request_is_one_error_line(client: TestClient) -> None:
    bad = _post(client, "/attention/abc", action="approve")
    assert bad.status_code == 400
    assert "error: path.item_id:" in bad.text
    assert client.get("/nowhere").status_code == 404


def test_sequences_list_pause_activate_and_the_checklist(client: TestClient,
                                                         served: ServedRun) -> None:
    listing = client.get("/sequences").text
    assert "active" in listing
    assert "Why isn't it sending?" in listing
    paused = _post(client, "/sequences/1", action="pause")
    assert paused.status_code == 200
    assert "pause: Hello &lt;b&gt;leads&lt;/b&gt;" in paused.text
    assert 'value="activate"' in paused.text
    assert _journal(served)[-1]["sequence"] == "Hello <b>leads</b>"
    checklist = client.get("/sequences/1").text
    assert "Is the sequence active?" in checklist
    assert "[problem]" in checklist
    assert _post(client, "/sequences/1", action="activate").status_code == 200
    assert _post(client, "/sequences/1", action="launch").status_code == 400
    assert _post(client, "/sequences/99", action="pause").status_code == 404
    assert client.get("/sequences/99").status_code == 404


def test_the_checklist_for_one_person(client: TestClient) -> None:
    email = next(iter(re.findall(r"&lt;([^&]+@leads\.example\.com)&gt;",
                                 client.get("/").text)))
    one = client.get("/sequences/1", params={"contact": email})
    assert one.status_code == 200
    assert f"for {email}" in one.text
    nobody = client.get("/sequences/1", params={"contact": "nobody@example.com"})
    assert nobody.status_code == 400
    assert "error:" in nobody.text


def test_the_run_page_and_its_event_filter(client: TestClient) -> None:
    page = client.get("/run").text
    assert "Funnel so far" in page
    assert "enrolled" in page
    assert "run.started" in page
    email = next(iter(re.findall(r"&lt;([^&]+@leads\.example\.com)&gt;",
                                 client.get("/").text)))
    everyone = int(re.findall(r"<p>(\d+) events", page)[0])
    one = client.get("/run", params={"contact": email}).text
    assert 0 < int(re.findall(r"<p>(\d+) events", one)[0]) < everyone
    unknown = client.get("/run", params={"contact": "nobody@example.com"})
    assert "no contact &#39;nobody@example.com&#39;" in unknown.text


def test_advance_by_a_day_and_to_the_next_session(client: TestClient,
                                                   served: ServedRun) -> None:
    day = _post(client, "/advance", to="day")
    assert "the clock stands at 2026-03-03 09:00 UTC" in day.text
    session = _post(client, "/advance", to="session")
    assert session.status_code == 200
    assert served.clock() > "2026-03-03 09:00 UTC"
    assert _post(client, "/advance", to="week").status_code == 400


def test_to_the_end_the_scripted_approver_takes_over_and_the_journal_replays(
        client: TestClient, served: ServedRun, tmp_path: Path) -> None:
    _post(client, "/attention/1", action="approve")
    _post(client, "/attention/2", action="reject")
    assert _post(client, "/sequences/1", action="pause").status_code == 200
    assert _post(client, "/advance", to="day").status_code == 200
    assert _post(client, "/sequences/1", action="activate").status_code == 200
    done = _post(client, "/advance", to="end")
    assert done.status_code == 200
    assert served.over
    assert "the run is over" in done.text
    assert "Digest" in done.text
    assert [d["action"] for d in _journal(served)[1:]] == [
        "approve", "reject", "pause", "activate", "hand_over"]
    digest = (tmp_path / "run" / "digest.txt").read_text().strip()
    world = load_scenario(SCENARIO)
    journal = runner.DecisionJournal.read(served.journal.path, world, 3)
    replayed = runner.run(world, decisions=journal)
    assert replayed.digest == digest
    replayed.close()
    assert _post(client, "/advance", to="day").status_code == 409
    assert _post(client, "/attention/3", action="approve").status_code == 409


def test_to_the_end_leaving_items_undecided(client: TestClient, served: ServedRun) -> None:
    assert _post(client, "/advance", to="end-undecided").status_code == 200
    assert served.over
    assert all(d["action"] != "hand_over" for d in _journal(served)[1:])


def test_a_loopback_app_answers_only_loopback_host_names(served: ServedRun) -> None:
    from teamsim.web import create_app

    app = create_app(served, token=TOKEN, allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://127.0.0.1:8000") as local:
        assert local.get("/").status_code == 200
    with TestClient(app, base_url="http://rebound.example:8000") as elsewhere:
        assert elsewhere.get("/").status_code == 400
        assert elsewhere.post("/attention/1", data={"action": "approve",
                                                    "csrf": TOKEN}).status_code == 400
    assert len(_journal(served)) == 1


@pytest.mark.parametrize(("bind", "url"), [("127.0.0.1", "http://127.0.0.1:8000"),
                                           ("127.0.0.2", "http://127.0.0.2:8000"),
                                           ("::1", "http://[::1]:8000")])
def test_the_app_answers_the_loopback_address_it_is_bound_to(
    served: ServedRun, bind: str, url: str
) -> None:
    from teamsim.cli._serve import allowed_hosts
    from teamsim.web import create_app

    app = create_app(served, token=TOKEN, allowed_hosts=allowed_hosts(bind))
    with TestClient(app, base_url=url) as own:
        assert own.get("/").status_code == 200
    with TestClient(app, base_url="http://rebound.example:8000") as elsewhere:
        assert elsewhere.get("/").status_code == 400
    assert allowed_hosts("192.0.2.7") is None  # --host elsewhere: any name (with a warning)


def test_the_finished_run_is_recorded_in_the_db_given(tmp_path: Path) -> None:
    served = ServedRun(load_scenario(SCENARIO), seed=None, journal=tmp_path / "j.jsonl",
                       out=tmp_path / "run", db=str(tmp_path / "runs.db"),
                       source=str(SCENARIO))
    try:
        assert served.advance(Advance.END).ok
        shown = served.run_view("").digest
    finally:
        served.close()
    digest = (tmp_path / "run" / "digest.txt").read_text().strip()
    assert shown == digest
    assert not (tmp_path / "run" / "store.db").exists()
    from teamsim.runner import runs
    recorded = runs(str(tmp_path / "runs.db"))  # one finished run, the served run's digest
    assert [(r.status.value, r.digest) for r in recorded] == [("finished", digest)]


def _decision_lines(folder: Path) -> int:
    lines = (folder / "journal.jsonl").read_text().splitlines()
    return sum(json.loads(line)["kind"] == "decision" for line in lines)


def test_a_replayed_journal_stops_and_resumes_to_the_served_digest(
        client: TestClient, served: ServedRun, tmp_path: Path) -> None:
    _post(client, "/attention/1", action="approve")
    _post(client, "/attention/2", action="reject")
    assert _post(client, "/sequences/1", action="pause").status_code == 200
    assert _post(client, "/advance", to="day").status_code == 200
    assert _post(client, "/sequences/1", action="activate").status_code == 200
    assert _post(client, "/advance", to="end").status_code == 200
    digest = (tmp_path / "run" / "digest.txt").read_text().strip()
    decided = len(_journal(served)) - 1
    world = load_scenario(SCENARIO)
    journal = runner.DecisionJournal.read(served.journal.path, world, 3)
    stopped = tmp_path / "stopped"
    with pytest.raises(runner.RunStopped):
        runner.run(world, decisions=journal, stop_at=1.2, out=stopped, source=str(SCENARIO))
    assert _decision_lines(stopped) == decided
    with pytest.raises(runner.RunStopped):  # stopped twice: the decisions are carried on
        runner.resume(stopped, stop_at=2.5)
    assert _decision_lines(stopped) == decided
    # A stopped --db replay keeps its journal in the database, decisions included.
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    with pytest.raises(runner.RunStopped) as stop:
        runner.run(world, decisions=journal, stop_at=1.2, db=db, source=str(SCENARIO))
    assert stop.value.run_id is not None
    cli = CliRunner()
    on_cli = tmp_path / "on-cli"
    stopped_cli = cli.invoke(app, ["run", str(SCENARIO), "--seed", "3", "--decisions",
                                   str(served.journal.path), "--stop-at", "1.2", "--out",
                                   str(on_cli)])
    assert stopped_cli.exit_code == 0, stopped_cli.output
    assert stopped_cli.stdout.startswith("stopped at simulated minute")
    # The replays go on from the stopped runs' journals alone: the decisions file may be gone.
    served.journal.path.unlink()
    resumed_cli = cli.invoke(app, ["run", "--resume", str(on_cli)])
    assert resumed_cli.exit_code == 0, resumed_cli.output
    assert (on_cli / "digest.txt").read_text().strip() == digest
    by_id = runner.resume(stop.value.run_id, db=db)
    assert by_id.digest == digest
    by_id.close()
    finished = runner.resume(stopped)
    assert finished.digest == digest
    finished.close()


def test_decisions_are_not_given_again_to_a_resumed_run(tmp_path: Path) -> None:
    journal = tmp_path / "d.jsonl"
    journal.write_text("{}\n")
    result = CliRunner().invoke(app, ["run", "--resume", str(tmp_path / "stopped"),
                                      "--decisions", str(journal)])
    assert result.exit_code == 2
    assert result.stderr == ("error: --decisions: a stopped run replays the decisions its "
                             "journal carries; resume it with --resume alone\n")
