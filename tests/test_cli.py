"""The `teamsim seq` commands: output and exit codes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from teamsim.cli import app
from teamsim.model import EnrollmentStatus
from teamsim.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


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
        (("seq", "set", "Welcome", "s2", "--days", "-1"), "error: --days: must be >= 0, got -1"),
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
    assert result.stderr.startswith("error: --db: cannot open database ")


def test_a_malformed_db_url_names_the_option_and_hides_the_password() -> None:
    result = CliRunner().invoke(
        app, ["seq", "list", "--db", "postgresql+psycopg://u:S3CRET@127.0.0.1:notaport/test"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --db: not a database URL: ")
    assert "S3CRET" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--days", "inf"),
         "error: --days: must be a finite number from 0 to 3650 (days), got inf"),
        (("--days", "nan"),
         "error: --days: must be a finite number from 0 to 3650 (days), got nan"),
        (("--days", "1e300"), "error: --days: must be <= 3650, got 1e+300"),
        (("--hours", "-1"), "error: --hours: must be >= 0, got -1"),
        (("--hours", "-inf"),
         "error: --hours: must be a finite number from 0 to 87,600 (hours), got -inf"),
    ],
)
@pytest.mark.parametrize("command", ["add", "set"])
def test_wait_options_out_of_range_exit_2_and_change_nothing(  # type: ignore[no-untyped-def]
    teamsim, command, args, message
) -> None:
    teamsim("seq", "new", "Welcome")
    before = teamsim("seq", "versions", "Welcome").output
    where = ("wait",) if command == "add" else ("s2",)
    result = teamsim("seq", command, "Welcome", *where, *args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [message]
    assert teamsim("seq", "versions", "Welcome").output == before
    shown = teamsim("seq", "show", "Welcome")
    assert shown.exit_code == 0
    assert "wait 3 days" in shown.output


def test_a_default_wait_label_follows_the_new_timing(teamsim) -> None:  # type: ignore[no-untyped-def]
    teamsim("seq", "new", "Welcome")
    assert teamsim("seq", "set", "Welcome", "s2", "--days", "4", "--hours", "6").exit_code == 0
    assert "⏱ Wait 4 days 6 hours" in teamsim("seq", "show", "Welcome").output
    teamsim("seq", "label", "Welcome", "s2", "Give them time")
    teamsim("seq", "set", "Welcome", "s2", "--days", "1", "--hours", "0")
    shown = teamsim("seq", "show", "Welcome").output
    assert "⏱ Give them time" in shown
    assert "wait 1 days" in shown


def test_missing_sequence_advice_names_a_cli_command(teamsim) -> None:  # type: ignore[no-untyped-def]
    result = teamsim("seq", "show", "Nope")
    assert result.exit_code == 2
    assert "`teamsim seq list` shows the stored ones" in result.stderr
    assert "list_sequences" not in result.stderr


def test_enrolling_twice_advises_real_commands(teamsim) -> None:  # type: ignore[no-untyped-def]
    teamsim("seq", "new", "Welcome")
    teamsim("seq", "enroll", "Welcome", "--email", "ada@example.com")
    twice = teamsim("seq", "enroll", "Welcome", "--email", "ada@example.com")
    assert twice.exit_code == 2
    assert "`teamsim seq end Welcome ada@example.com`" in twice.stderr
    assert "`teamsim seq unenroll Welcome ada@example.com`" in twice.stderr


def test_people_unenroll_and_end(teamsim) -> None:  # type: ignore[no-untyped-def]
    teamsim("seq", "new", "Welcome")
    assert "nobody is enrolled yet" in teamsim("seq", "people", "Welcome").output
    teamsim("seq", "enroll", "Welcome", "--email", "ada@example.com", "--name", "Ada")
    teamsim("seq", "enroll", "Welcome", "--email", "bob@example.com", "--name", "Bob")
    rows = [[cell.strip() for cell in line.split("│")]
            for line in teamsim("seq", "people", "Welcome").output.splitlines()[2:]]
    assert rows == [["1", "ada@example.com", "Ada", "active", "s1"],
                    ["2", "bob@example.com", "Bob", "active", "s1"]]
    removed = teamsim("seq", "unenroll", "Welcome", "ada@example.com")
    assert (removed.exit_code, removed.output.strip()) == (
        0, "unenrolled ada@example.com (enrollment 1 removed)")
    ended = teamsim("seq", "end", "Welcome", "bob@example.com")
    assert (ended.exit_code, ended.output.strip()) == (0, "ended bob@example.com (enrollment 2)")
    rows = [[cell.strip() for cell in line.split("│")]
            for line in teamsim("seq", "people", "Welcome").output.splitlines()[2:]]
    assert rows == [["2", "bob@example.com", "Bob", "ended", "s1"]]
    again = teamsim("seq", "end", "Welcome", "bob@example.com")
    assert again.exit_code == 2
    assert again.stderr.strip() == ("error: bob@example.com is already ended in sequence "
                                    "'Welcome'; nothing was changed")


def test_resume_a_paused_enrollment(teamsim, store_url: str) -> None:  # type: ignore[no-untyped-def]
    teamsim("seq", "new", "Welcome")
    teamsim("seq", "enroll", "Welcome", "--email", "ada@example.com")
    running = teamsim("seq", "resume", "Welcome", "ada@example.com")
    assert running.exit_code == 2
    assert "not paused" in running.stderr
    assert "`teamsim seq end Welcome ada@example.com` ends it" in running.stderr
    with Store.open(store_url) as store, store.unit_of_work() as uow:  # a reply paused her
        uow.enrollments.update(1, status=EnrollmentStatus.PAUSED, paused_at=T0)
    resumed = teamsim("seq", "resume", "Welcome", "ada@example.com")
    assert (resumed.exit_code, resumed.output.strip()) == (
        0, "resumed ada@example.com (enrollment 1, at step s1)")
    with Store.open(store_url) as store, store.unit_of_work() as uow:
        enrollment = uow.enrollments.get(1)
    assert (enrollment.status, enrollment.paused_at) == (EnrollmentStatus.ACTIVE, None)


@pytest.mark.parametrize("command", ["resume", "end", "unenroll"])
def test_enrollment_commands_on_someone_not_enrolled(teamsim, command) -> None:  # type: ignore[no-untyped-def]
    teamsim("seq", "new", "Welcome")
    teamsim("seq", "new", "Other")
    teamsim("seq", "enroll", "Other", "--email", "ada@example.com")
    for email in ("ada@example.com", "zed@example.com"):
        result = teamsim("seq", command, "Welcome", email)
        assert (result.exit_code, result.stdout) == (2, "")
        assert "is not enrolled" in result.stderr or "is enrolled in" in result.stderr
        assert "`teamsim seq people Welcome` lists who is enrolled" in result.stderr


def test_people_shows_names_as_plain_text(teamsim) -> None:  # type: ignore[no-untyped-def]
    teamsim("seq", "new", "Welcome")
    teamsim("seq", "enroll", "Welcome", "--email", "ada@example.com", "--name", "[/] [bold]Ada")
    result = teamsim("seq", "people", "Welcome")
    assert result.exit_code == 0, result.output
    assert "[/] [bold]Ada" in result.output


def test_a_name_made_of_digits_is_a_name_first_and_odd_digits_are_no_id(  # type: ignore[no-untyped-def]
    teamsim,
) -> None:
    assert teamsim("seq", "new", "007").exit_code == 0
    assert teamsim("seq", "new", "Other").exit_code == 0
    assert teamsim("seq", "show", "007").stdout.startswith("007  (draft, version 1, id 1)")
    assert teamsim("seq", "show", "2").stdout.startswith("Other  (draft, version 1, id 2)")
    for key in ("²", "٣", "9" * 30):  # str.isdigit() says yes to the first two
        result = teamsim("seq", "show", key)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: no sequence named {key!r}")


def test_seq_people_shows_control_characters_as_escapes(teamsim) -> None:  # type: ignore[no-untyped-def]
    teamsim("seq", "new", "Welcome")
    teamsim("seq", "enroll", "Welcome", "--email", "a@b.co", "--name", "Evil\x1b[31m\nname")
    result = teamsim("seq", "people", "Welcome")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "Evil\\x1b[31m\\nname" in result.stdout
