"""Every value in a scenario file has a finite range: bad ones are one error line, exit 2.

Each case mutates one value of a small valid scenario and expects exactly one line,
``FILE: path: message``, from the loader, from ``teamsim validate`` and from ``teamsim run``
(which then writes nothing). Before these ranges, each of them crashed with a traceback
(``OverflowError``, ``ValueError``, ``OSError: File name too long``) or silently passed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from teamsim.cli import app
from teamsim.model import ScenarioError
from teamsim.scenario import check_size, parse_scenario
from teamsim.sim import Delay

BASE = """\
name: Base
start: 2026-03-02T08:00:00
timezone: Europe/London
days: 2
sequences:
  - name: S
    steps:
      - kind: message
        label: Hello
      - kind: wait
        days: 1
      - kind: message
        label: Again
contacts:
  - {name: Ann Lee, email: ann@example.com, enroll_in: [S]}
"""

START = "start: 2026-03-02T08:00:00"

# (case id, (old, new) replacements of BASE or text appended to it, the one error after "FILE: ")
CASES: list[tuple[str, tuple[str, str], str]] = [
    ("start-feb-30", (START, "start: 2026-02-30T08:00:00"),
     "start: not a valid date-time: '2026-02-30T08:00:00' (day is out of range for month); "
     "write it like 2026-03-02T08:00:00"),
    ("start-hour-25", (START, "start: 2026-03-02T25:00:00"),
     "start: not a valid date-time: '2026-03-02T25:00:00' (hour must be in 0..23); "
     "write it like 2026-03-02T08:00:00"),
    ("start-offset-99", (START, "start: 2026-03-02T08:00:00+99:00"),
     "start: not a valid date-time: '2026-03-02T08:00:00+99:00' (the UTC offset must lie "
     "within -23:59 and +23:59); write it like 2026-03-02T08:00:00"),
    ("start-year-9999", (START, "start: 9999-12-31T23:59:00"),
     "start: must be from 1970-01-01 to 2200-12-31, got 9999-12-31 23:59:00; "
     "pick a start in that range"),
    ("start-as-number", (START, "start: 1700000000"),
     "start: must be a date-time written as text, like '2026-03-02T08:00:00'; got the number "
     "1.7e+09 (quote a time such as \"13:00\")"),
    ("session-as-sexagesimal", ("", "approver: {sessions: [13:00]}\n"),
     "approver.sessions[0]: must be a time of day written as text, like '09:30'; got the "
     "number 780 (quote a time such as \"13:00\")"),
    ("window-time-with-offset",
     ("    steps:\n", '    send_window: {start: "08:00+02:00", end: "18:00+02:00"}\n'
      "    steps:\n"),
     "sequences[0].send_window.start: a time of day must not carry a UTC offset, got "
     "'08:00+02:00'; write the local time, like '09:30', in the zone given by `timezone`\n"
     "FILE: sequences[0].send_window.end: a time of day must not carry a UTC offset, got "
     "'18:00+02:00'; write the local time, like '09:30', in the zone given by `timezone`"),
    ("session-in-utc", ("", 'approver: {sessions: ["09:00Z"]}\n'),
     "approver.sessions[0]: a time of day must not carry a UTC offset, got '09:00Z'; write "
     "the local time, like '09:30', in the zone given by `timezone`"),
    ("away-year-1900", ("", "approver: {away: [{start: 1900-01-01, end: 2026-01-02}]}\n"),
     "approver.away[0].start: must be from 1970-01-01 to 2200-12-31, got 1900-01-01"),
    ("wait-inf", ("days: 1", "days: .inf"),
     "sequences[0].steps[1].days: must be a finite number from 0 to 3650 (days), got inf"),
    ("wait-1e300", ("days: 1", "days: 1.0e+300"),
     "sequences[0].steps[1].days: must be <= 3650, got 1e+300"),
    ("wait-hours-nan", ("days: 1", "hours: .nan"),
     "sequences[0].steps[1].hours: must be a finite number from 0 to 87,600 (hours), got nan"),
    ("timeline-at-inf", ("", "timeline:\n  - {action: pause, at: .inf, sequence: S}\n"),
     "timeline[0].at: must be a finite number from 0 to 3650 (days), got inf"),
    ("enroll-at-inf", ("enroll_in: [S]}", "enroll_in: [S], enroll_at: .inf}"),
     "contacts[0].enroll_at: must be a finite number from 0 to 3650 (days), got inf"),
    ("enroll-over-days-inf", ("", "populations:\n  - {count: 2, enroll_over_days: .inf}\n"),
     "populations[0].enroll_over_days: must be a finite number from 0 to 3650 (days), got inf"),
    ("minutes-per-item-inf", ("", "approver: {minutes_per_item: .inf}\n"),
     "approver.minutes_per_item: must be a finite number from 0 to 1440 (minutes), got inf"),
    ("accept-suggestions-inf", ("", "approver: {accept_suggestions_after_days: .inf}\n"),
     "approver.accept_suggestions_after_days: must be a finite number from 0 to 3650 (days), "
     "got inf"),
    ("delay-hours-inf",
     ("", "personas:\n  - {name: default, open_delay: {dist: fixed, hours: .inf}}\n"),
     "personas[0].open_delay.hours: must be a finite number from 0 to 87,600 (hours), got inf"),
    ("delay-mean-inf",
     ("", "personas:\n  - {name: default, click_delay: {dist: exponential, mean_hours: .inf}}\n"),
     "personas[0].click_delay.mean_hours: must be a finite number from 0 to 87,600 (hours), "
     "got inf"),
    ("delay-sigma-huge",
     ("", "personas:\n  - {name: default, reply_delay: {median_hours: 3, sigma: 1.0e+300}}\n"),
     "personas[0].reply_delay.sigma: must be <= 10, got 1e+300"),
    ("catch-up-inf", ("", "settings: {catch_up_hours: .inf}\n"),
     "settings.catch_up_hours: must be a finite number from 0 to 87,600 (hours), got inf"),
    ("capacity-huge", ("", "teammates:\n  - {name: Riley, capacity: 1000000}\n"),
     "teammates[0].capacity: must be <= 1000, got 1000000"),
    ("draft-minutes-huge", ("", "teammates:\n  - {name: Riley, drafter: {base_minutes: 99999}}\n"),
     "teammates[0].drafter.base_minutes: must be <= 1440, got 99999"),
    ("seed-negative", ("", "seed: -5\n"), "seed: must be >= 0, got -5"),
    ("expect-min-nan", ("", "expect:\n  sent: {min: .nan}\n"),
     "expect.sent.min: must be a finite number from -1e15 to 1e15, got nan"),
    ("expect-between-nan", ("", "expect:\n  sent: {between: [.nan, .nan]}\n"),
     "expect.sent.between[0]: must be a finite number from -1e15 to 1e15, got nan\n"
     "FILE: expect.sent.between[1]: must be a finite number from -1e15 to 1e15, got nan"),
    ("expect-between-reversed", ("", "expect:\n  sent: {between: [60, 40]}\n"),
     "expect.sent: between: [60, 40] is empty; write the lower bound first"),
    ("expect-bare-inf", ("", "expect:\n  sent: .inf\n"),
     "expect.sent: must be a finite number from -1e15 to 1e15, got inf"),
    ("attribute-inf", ("enroll_in: [S]}", "enroll_in: [S], attributes: {score: .inf}}"),
     "contacts[0].attributes.score: must be a finite number from -1e15 to 1e15, got inf"),
    ("timezone-300-chars", ("timezone: Europe/London", "timezone: " + "a" * 300),
     "timezone: unknown time zone 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' (300 characters; "
     "IANA names have at most 64); use an IANA name such as Europe/Paris"),
    ("timezone-path", ("timezone: Europe/London", "timezone: ../../etc/passwd"),
     "timezone: unknown time zone '../../etc/passwd'; use an IANA name such as Europe/Paris"),
    ("timezone-empty", ("timezone: Europe/London", 'timezone: ""'),
     "timezone: unknown time zone ''; use an IANA name such as Europe/Paris"),
    ("timezone-nul", ("timezone: Europe/London", 'timezone: "a\\0b"'),
     # the loader refuses a NUL in any string before the time zone check sees it
     "timezone: has U+0000, a NUL character, at character 2, which cannot be stored or shown; "
     "remove it (write a tab or line break as itself)"),
    ("contact-timezone-long", ("enroll_in: [S]}", f"enroll_in: [S], timezone: {'x/' * 40}y}}"),
     f"contacts[0].timezone: unknown time zone '{('x/' * 40)[:37]}...' (81 characters; IANA "
     "names have at most 64); use an IANA name such as Europe/Paris"),
    ("template-syntax", ("label: Hello", 'label: Hello\n        body_template: "{{ x "'),
     "sequences[0].steps[0].body_template: unexpected end of template, expected 'end of print "
     "statement'; fix the template's Jinja2 syntax"),
    ("teammate-template-syntax",
     ("", "teammates:\n  - name: Riley\n    drafter: {templates: {s1: {subject: '{% if %}'}}}\n"),
     "teammates[0].drafter.templates.s1.subject: Expected an expression, got 'end of statement "
     "block'; fix the template's Jinja2 syntax"),
]


def _scenario(tmp_path: Path, change: tuple[str, str]) -> Path:
    old, new = change
    text = BASE + new if old == "" else BASE.replace(old, new)
    assert text != BASE
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_out_of_range_value_is_one_error_line_naming_its_path(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = _scenario(tmp_path, change)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(path.read_text(encoding="utf-8"), "FILE")
    assert str(caught.value) == f"FILE: {expected}"


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_validate_and_run_refuse_it_with_exit_2_and_write_nothing(
    tmp_path: Path, runner: CliRunner, change: tuple[str, str], expected: str
) -> None:
    path = _scenario(tmp_path, change)
    lines = "".join(f"error: {line}\n"
                    for line in f"{path}: {expected}".replace("FILE", str(path)).splitlines())
    checked = runner.invoke(app, ["validate", str(path)])
    assert (checked.exit_code, checked.stdout, checked.stderr) == (2, "", lines)
    out = tmp_path / "out"
    ran = runner.invoke(app, ["run", str(path), "--out", str(out)])
    assert (ran.exit_code, ran.stdout, ran.stderr) == (2, "", lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_shipped_forms_of_dates_and_times_still_parse() -> None:
    world = parse_scenario(BASE + 'approver:\n  sessions: ["09:00", "13:30"]\n  away: '
                           "[{start: 2026-03-03, end: 2026-03-04}]\n", "x.yaml")
    assert str(world.start) == "2026-03-02 08:00:00"
    assert [str(t) for t in world.approver.sessions] == ["09:00:00", "13:30:00"]
    assert str(world.approver.away[0].end) == "2026-03-04"
    aware = parse_scenario(BASE.replace(START, "start: 2026-03-02T08:00:00+01:00"), "x.yaml")
    assert str(aware.start_utc) == "2026-03-02 07:00:00+00:00"


def test_a_date_in_free_text_stays_text() -> None:
    world = parse_scenario(BASE.replace("name: Base", "name: 2026-03-02"), "x.yaml")
    assert world.name == "2026-03-02"


def test_a_long_lognormal_tail_is_cut_to_ten_years() -> None:
    delay = Delay(dist="lognormal", median_hours=87_600, sigma=10)
    assert delay.minutes(0.999999) == 3650 * 1440
    assert Delay(dist="fixed", hours=2).minutes(0.5) == 120


# -- size ------------------------------------------------------------------------------------

LARGE = BASE + "populations:\n  - {count: 100000, enroll_in: [S]}\n"


def test_more_than_100_000_contacts_is_refused_without_consent() -> None:
    world = parse_scenario(LARGE, "big.yaml")
    with pytest.raises(ScenarioError) as caught:
        check_size(world, source="big.yaml")
    assert str(caught.value) == (
        "big.yaml: populations: 100,001 contacts (listed plus populations) is more than the "
        "limit of 100,000 (about 10 KiB and 3 ms each); make the populations smaller, or pass "
        "--allow-large to run it anyway")
    check_size(world, allow_large=True)
    check_size(parse_scenario(LARGE.replace("count: 100000", "count: 99999"), "x.yaml"))


def test_validate_refuses_a_large_scenario_unless_allowed(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(LARGE, encoding="utf-8")
    refused = runner.invoke(app, ["validate", str(path)])
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error: {path}: populations: 100,001 contacts ")
    assert refused.stderr.count("\n") == 1
    allowed = runner.invoke(app, ["validate", "--allow-large", str(path)])
    assert allowed.exit_code == 0, allowed.stderr
    assert allowed.stdout == f"ok {path} (1 sequence, 100001 contacts, days 2)\n"


def test_run_refuses_a_large_scenario_before_writing_anything(
    tmp_path: Path, runner: CliRunner
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(LARGE, encoding="utf-8")
    for command in (["run", str(path), "--out", str(tmp_path / "out")],
                    ["test", str(path), "--out", str(tmp_path / "out")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2
        assert result.stderr.startswith(f"error: {path}: populations: 100,001 contacts ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml"]


# -- templates at run time -------------------------------------------------------------------


@pytest.mark.parametrize(("template", "reason"), [
    ("{{ 1/0 }}", "ZeroDivisionError: division by zero"),
    ("{{ '{0}'.format_map({}) }}", "IndexError: tuple index out of range"),
    ("{{ 'x'*4000000000 }}",
     "SecurityError: repeating 1 item(s) 4000000000 times makes more than 20,000"),
], ids=["divide-by-zero", "format-map", "huge-repeat"])
def test_run_time_template_error_is_one_line_naming_file_teammate_sequence_and_step(
    tmp_path: Path, runner: CliRunner, template: str, reason: str
) -> None:
    step = f'label: Hello\n        body_template: "{template}"'
    path = _scenario(tmp_path, ("label: Hello", step))
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 0
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"error: {path}: teammate 'Riley' drafting sequence 'S' step "
                             f"'s1' body template: {reason}; fix the template\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_sweep_refuses_a_large_scenario_before_running(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(LARGE, encoding="utf-8")
    result = runner.invoke(app, ["sweep", str(path), "--seeds", "0:2", "--out",
                                 str(tmp_path / "sweep")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: populations: 100,001 contacts ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml"]


def test_a_population_domain_with_capitals_matches_its_generated_emails() -> None:
    # Contact emails are lower-cased, so Gardens.example.com generates garden-1@gardens...;
    # diagnose: naming it (in any case) must be accepted, as the run would find it.
    text = BASE + ("populations:\n  - {name: garden, count: 2, domain: Gardens.example.com, "
                   "enroll_in: [S]}\n"
                   "diagnose:\n"
                   "  - {contact: garden-1@gardens.example.com, sequence: S, answer: replied}\n"
                   "  - {contact: Garden-2@Gardens.Example.com, sequence: S, answer: replied}\n")
    world = parse_scenario(text, "x.yaml")
    assert [d.contact for d in world.diagnose] == ["garden-1@gardens.example.com",
                                                   "Garden-2@Gardens.Example.com"]


def test_populations_whose_domains_differ_only_in_case_clash() -> None:
    text = BASE + ("populations:\n  - {name: garden, count: 2, domain: Gardens.example.com}\n"
                   "  - {name: garden, count: 2, domain: gardens.example.com}\n")
    with pytest.raises(ScenarioError, match=r"populations\[1\]: its generated emails .* clash"):
        parse_scenario(text, "x.yaml")
