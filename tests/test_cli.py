"""The `teamsim seq` commands: output and exit codes, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from teamsim.cli import app


@pytest.fixture
def teamsim(store_url: str):  # type: ignore[no-untyped-def]
    """Run `teamsim ARGS --db <the test database>`; returns the result."""
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, [*args, "--db", store_url])

    return invoke


def test_new_shows_the_example_steps(teamsim) -> None:  # type: ignore[no-untyped-def]
    result = teamsim("seq", "new", "Welcome new renovation leads", "--description", "From the site")
    assert result.exit_code == 0, result.output
    assert "created sequence 'Welcome new renovation leads' (id 1, draft)" in result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert "Welcome new renovation leads  (draft, version 1, id 1)" in lines
    assert any(line.startswith("1 │ s1 │ ✉ Say hello") for line in lines)
    assert any(line.startswith("2 │ s2 │ ⏱ Wait 3 days") and "wait 3 days" in line
               for line in lines)
    assert any(line.startswith("3 │ s3 │ ✉ Follow up") for line in lines)


def test_list_shows_status_and_step_count(teamsim) -> None:  # type: ignore[no-untyped-def]
    assert teamsim("seq", "list").output.strip() == (
        "no sequences yet: create one with `teamsim seq new NAME`")
    teamsim("seq", "new", "Welcome")
    teamsim("seq", "new", "Second")
    teamsim("seq", "activate", "Second")
    rows = [line.split("│") for line in teamsim("seq", "list").output.splitlines()[2:]]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["1", "Welcome", "draft", "3", "1"],
        ["2", "Second", "active", "3", "2"],
    ]


def test_add_move_label_set_remove_and_versions(teamsim) -> None:  # type: ignore[no-untyped-def]
    teamsim("seq", "new", "Welcome")
    steps = [
        ("seq", "add", "Welcome", "message", "--channel", "sms", "--label", "Text"),
        ("seq", "add", "Welcome", "wait", "--days", "2", "--hours", "4", "--position", "1"),
        ("seq", "add", "Welcome", "branch", "--if-engaged", "s1", "--event", "not_opened",
         "--within-days", "3"),
        ("seq", "add", "Welcome", "email", "--parent", "s6", "--arm", "then", "--label", "Nudge"),
        ("seq", "move", "Welcome", "s4", "--to", "2"),
        ("seq", "label", "Welcome", "s1", "Hello"),
        ("seq", "set", "Welcome", "s2", "--days", "5"),
        ("seq", "remove", "Welcome", "s3"),
    ]
    outputs = [teamsim(*args) for args in steps]
    assert [r.exit_code for r in outputs] == [0] * len(steps)
    assert outputs[0].output.strip() == "added message step s4 (Text)"
    assert outputs[1].output.strip() == "added wait step s5 (Wait 2 days 4 hours)"
    shown = teamsim("seq", "show", "Welcome").output
    order = [line.split("│")[1].strip() for line in shown.splitlines()[3:]
             if line.split("│")[1].strip()]
    assert order == ["s5", "s4", "s1", "s2", "s6", "s7"]
    assert "if not opened s1 within 3 days" in shown
    assert "wait 5 days" in shown
    versions = teamsim("seq", "versions", "Welcome").output
    assert len(versions.splitlines()) == 2 + 9
    old = teamsim("seq", "show", "Welcome", "--version", "1").output
    assert "(draft, version 1, id 1)" in old
    assert "Text" not in old


def test_enroll_and_pause(teamsim) -> None:  # type: ignore[no-untyped-def]
    teamsim("seq", "new", "Welcome")
    result = teamsim("seq", "enroll", "Welcome", "--email", "ada@example.com", "--name",
                     "Ada Lovelace", "--timezone", "Europe/London", "--attr", "budget=high")
    assert result.exit_code == 0
    assert result.output.strip() == "enrolled ada@example.com (enrollment 1, starts at step s1)"
    assert teamsim("seq", "activate", "Welcome").output.strip() == "sequence 'Welcome' is active"
    assert teamsim("seq", "pause", "Welcome").output.strip() == "sequence 'Welcome' is paused"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("seq", "show", "Nope"), "error: no sequence named 'Nope'"),
        (("seq", "set", "Welcome", "s2", "--days", "-1"),
         "error: sequence 'Welcome': steps[1].days: must be >= 0, got -1"),
        (("seq", "set", "Welcome", "s1", "--channel", "fax"), "unknown channel 'fax'"),
        (("seq", "add", "Welcome", "branch", "--if-field", "shoe_size"),
         "unknown field 'shoe_size'"),
        (("seq", "add", "Welcome", "branch"), "a branch needs exactly one condition"),
        (("seq", "move", "Welcome", "s1"), "exactly one of --up, --down or --to N"),
        (("seq", "move", "Welcome", "s1", "--to", "9"), "positions run from 0 to 2"),
        (("seq", "remove", "Welcome", "s9"), "has no step 's9'"),
        (("seq", "set", "Welcome", "s1"), "nothing to set"),
        (("seq", "enroll", "Nope", "--email", "a@example.com"), "no sequence named 'Nope'"),
        (("seq", "enroll", "Welcome", "--email", "not-an-email"), "contact: email: not an email"),
        (("seq", "enroll", "Welcome", "--email", "a@example.com", "--timezone", "Mars/Base"),
         "unknown time zone 'Mars/Base'"),
        (("seq", "pause", "Welcome"), "is draft, not active"),
        (("seq", "show", "Welcome", "--version", "7"), "has no version 7"),
    ],
)
def test_errors_go_to_stderr_with_exit_code_2_and_change_nothing(  # type: ignore[no-untyped-def]
    teamsim, args, message
) -> None:
    teamsim("seq", "new", "Welcome")
    before = teamsim("seq", "show", "Welcome").output
    result = teamsim(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert teamsim("seq", "show", "Welcome").output == before


def test_enrolling_twice_and_activating_empty_sequence_exit_2(teamsim) -> None:  # type: ignore[no-untyped-def]
    teamsim("seq", "new", "Welcome")
    teamsim("seq", "enroll", "Welcome", "--email", "ada@example.com")
    twice = teamsim("seq", "enroll", "Welcome", "--email", "ada@example.com")
    assert twice.exit_code == 2
    assert "already enrolled" in twice.stderr
    teamsim("seq", "remove", "Welcome", "s1")
    teamsim("seq", "remove", "Welcome", "s3")
    empty = teamsim("seq", "activate", "Welcome")
    assert empty.exit_code == 2
    assert "has no message step" in empty.stderr


def test_unreachable_database_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["seq", "list", "--db", "/no/such/folder/x.db"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
