"""Hostile scenario files: every one is refused with ``error:`` lines naming the file, exit 2.

Alias bombs, deep nesting, alias loops, huge numbers, bad bytes and characters, oversized and
odd files (FIFOs, devices), and the YAML features a scenario does not use. Each is checked
through ``teamsim validate`` and ``teamsim run`` (which must write nothing); the ones that would
take minutes or gigabytes without the loader's limits run in a subprocess under a time and
memory guard.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pydantic
import pytest
import typer
from typer.testing import CliRunner

from teamsim.cli import app
from teamsim.model import MAX_LINES, ScenarioError, format_errors, shorten
from teamsim.scenario import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    MAX_NUMBER_CHARS,
    load_scenario,
    parse_scenario,
)

GUARD_SECONDS = 120  # far above a bounded load (a second or two plus imports on a busy machine)
GUARD_BYTES = 1024**3  # the unbounded bomb took 3.2 GB

MESSAGE_STEP = "sequences:\n- name: S\n  steps:\n  - {kind: message, label: %s}\n"


@pytest.fixture
def cli() -> typer.Typer:
    """The ``teamsim`` app."""
    return app


def _laughs(key: str, width: int = 9, levels: int = 9) -> str:
    """The "billion laughs" shape under ``key``: each level lists the one before ``width`` times."""
    lines = [f"  l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"  l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "name: x\nx-anchors:\n" + "\n".join(lines) + f"\n{key}: *l{levels - 1}\n"


def _assert_refused(output: str, name: str) -> list[str]:
    """``output`` (stderr) is only ``error:`` lines, each naming the file ``name``."""
    lines = output.splitlines()
    assert lines, "no error was printed"
    for line in lines:
        assert line.startswith("error: "), line
        assert name in line, line
    assert "Traceback" not in output
    return lines


def _validate(runner: CliRunner, cli: typer.Typer, path: Path) -> list[str]:
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stdout == ""
    return _assert_refused(result.stderr, path.name)


def _run_writes_nothing(runner: CliRunner, cli: typer.Typer, path: Path) -> list[str]:
    before = sorted(p.name for p in path.parent.iterdir())
    out = path.parent / "out"
    result = runner.invoke(cli, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert sorted(p.name for p in path.parent.iterdir()) == before
    return _assert_refused(result.stderr, path.name)


def _refused_both_ways(runner: CliRunner, cli: typer.Typer, path: Path) -> str:
    lines = _validate(runner, cli, path)
    assert _run_writes_nothing(runner, cli, path) == lines
    return "\n".join(lines)


def _write(tmp_path: Path, text: str | bytes, name: str = "hostile.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


# --- alias bombs, sizes and FIFOs: in a subprocess, guarded ------------------------------------


def _guard() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (GUARD_BYTES, GUARD_BYTES))


def _validate_guarded(paths: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``teamsim validate PATHS`` in a fresh interpreter limited in address space and time."""
    command = [sys.executable, "-c", "from teamsim.cli import app; app()", "validate",
               *(str(p) for p in paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=GUARD_SECONDS,
                          preexec_fn=_guard, cwd=cwd, check=False)


def test_alias_bombs_and_huge_inputs_are_refused_within_bounded_time_and_memory(
    tmp_path: Path,
) -> None:
    files = {
        "laughs.yaml": _laughs("settings"),  # the 445-byte shape: 9**9 values once expanded
        "contacts.yaml": _laughs("contacts"),  # validated as a list, not shown as one value
        "description.yaml": _laughs("description"),
        "wide.yaml": _laughs("personas", width=40, levels=5),
    }
    paths = [_write(tmp_path, text, name) for name, text in files.items()]
    sparse = tmp_path / "sparse.yaml"
    with sparse.open("wb") as handle:
        handle.truncate(GUARD_BYTES)  # 1 GiB of NULs, stored sparse: refused by its size
    result = _validate_guarded([*paths, sparse], tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    assert len(lines) == len(paths) + 1, lines
    for path, line in zip(paths, lines, strict=False):
        assert line.startswith(f"error: {path}:"), line
        assert f"more than {MAX_NODES:,} values" in line
    # l0 (10 values) ... l5 (9**5 lists of lol) is the first level past 100,000 values.
    assert lines[0].startswith(f"error: {paths[0]}:8:")
    assert lines[-1] == (f"error: {sparse}: the file is 1024.0 MiB; a scenario file may be at "
                         "most 1 MiB (generate contacts with `populations:`)")


def test_an_endless_pipe_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    fifo = tmp_path / "endless.yaml"
    os.mkfifo(fifo)
    written = [0]

    def feed() -> None:
        try:
            with fifo.open("wb") as stream:
                while written[0] < 64 * MAX_FILE_BYTES:
                    stream.write(b"# " + b"x" * 65534)
                    written[0] += 65536
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    with pytest.raises(ScenarioError) as caught:
        load_scenario(fifo)
    writer.join(timeout=30)
    assert str(caught.value) == (f"{fifo}: the file is larger than that; a scenario file may be "
                                 "at most 1 MiB (generate contacts with `populations:`)")
    assert written[0] < 64 * MAX_FILE_BYTES  # the reader stopped; the writer saw a broken pipe


def test_a_file_just_over_the_size_limit_is_refused_before_parsing(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path
) -> None:
    path = _write(tmp_path, "name: x\ndescription: " + "a" * MAX_FILE_BYTES + "\n")
    message = _refused_both_ways(runner, cli, path)
    assert message == (f"error: {path}: the file is 1.0 MiB; a scenario file may be at most "
                       "1 MiB (generate contacts with `populations:`)")


def test_parse_scenario_refuses_text_over_the_size_limit() -> None:
    with pytest.raises(ScenarioError, match=r"^x\.yaml: the file is 1\.0 MiB; "):
        parse_scenario("name: x\n#" + "c" * MAX_FILE_BYTES, "x.yaml")


def test_a_device_is_refused_without_reading_it(runner: CliRunner, cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["validate", "/dev/zero"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: /dev/zero: not a regular file (a device or socket); give a .yaml file\n")


# --- nesting and loops ------------------------------------------------------------------------


def test_nesting_a_thousand_deep_is_refused_at_the_level_past_the_limit(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path
) -> None:
    path = _write(tmp_path, "name: x\ndescription: " + "[" * 1000 + "]" * 1000 + "\n")
    message = _refused_both_ways(runner, cli, path)
    # The top mapping is level 1 and `description`'s list level 2, so `[` number 49 is level 50.
    column = len("description: ") + (MAX_DEPTH - 1) + 1
    assert message == (f"error: {path}:2:{column}: nested more than {MAX_DEPTH} levels deep; "
                       f"a scenario file may nest at most that")


def test_nesting_up_to_the_limit_is_allowed() -> None:
    depth = MAX_DEPTH - 1  # below the top-level mapping
    text = "name: x\nx-deep: " + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "\n"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml")
    assert str(caught.value).startswith("x.yaml: x-deep: unknown field")


def test_a_branch_whose_then_steps_alias_itself_is_refused_as_a_loop(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path
) -> None:
    path = _write(tmp_path, (
        "name: x\nsequences:\n- name: S\n  steps:\n"
        "  - &b {kind: branch, condition: {kind: engagement, step_id: s1, event: opened},\n"
        "        then_steps: [{kind: message}, *b]}\n"))
    message = _refused_both_ways(runner, cli, path)
    assert message == (f"error: {path}:6:39: the alias *b is inside the value it names (a loop); "
                       "write the value out instead")


def test_a_merge_key_of_its_own_mapping_is_refused_as_a_loop(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"^x\.yaml:2:25: the alias \*s is inside"):
        parse_scenario("name: x\nsettings: &s {a: 1, <<: *s}\n", "x.yaml")


def test_depth_counts_through_aliases(tmp_path: Path) -> None:
    text = ("name: x\nx-a: &d " + "[" * 40 + "]" * 40 + "\n"
            "x-b: " + "[" * 20 + "*d" + "]" * 20 + "\n")
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml")
    assert str(caught.value) == ("x.yaml:3:26: nested more than 50 levels deep through this "
                                 "alias; a scenario file may nest at most that")


def test_shared_values_within_the_limits_still_load() -> None:
    world = parse_scenario(
        "name: x\npersonas:\n- &p {name: a, reply: 0.2}\n- {<<: *p, name: b, reply: 0.5}\n",
        "x.yaml")
    assert [(p.name, p.reply) for p in world.personas] == [("a", 0.2), ("b", 0.5)]


# --- numbers and dates --------------------------------------------------------------------------


def test_an_integer_of_5000_digits_is_refused_with_its_place(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path
) -> None:
    path = _write(tmp_path, "name: x\nseed: " + "9" * 5000 + "\n")
    message = _refused_both_ways(runner, cli, path)
    assert message == (f"error: {path}:2:7: a number of 5,000 characters; numbers may have at "
                       f"most {MAX_NUMBER_CHARS} (quote it if it is text)")


@pytest.mark.parametrize("number", ["1." + "0" * 200, "-" + "1" * 4301, "0x" + "f" * 200])
def test_over_long_numbers_of_every_form_are_refused(number: str) -> None:
    with pytest.raises(ScenarioError, match=r"^x\.yaml:2:7: a number of [\d,]+ characters"):
        parse_scenario(f"name: x\nseed: {number}\n", "x.yaml")


def test_a_long_number_written_as_text_gets_a_short_message() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(f"name: x\nseed: '{'9' * 5000}'\n", "x.yaml")
    assert str(caught.value).startswith("x.yaml: seed: ")
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(("start", "reason"), [
    ("2026-02-30T08:00:00", "day is out of range for month"),
    ("2026-02-03T25:00:00", "hour must be in 0..23"),
    ("!!timestamp hello", "Invalid isoformat string: 'hello'"),
])
def test_impossible_dates_are_refused_with_their_place(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path, start: str, reason: str
) -> None:
    # Dates stay text in the loader, so the error names the field (not only line:col).
    path = _write(tmp_path, f"name: x\nstart: {start}\n")
    message = _refused_both_ways(runner, cli, path)
    shown = start.removeprefix("!!timestamp ")
    assert message == (f"error: {path}: start: not a valid date-time: '{shown}' ({reason}); "
                       "write it like 2026-03-02T08:00:00")


def test_an_offset_of_a_day_or_more_is_refused_with_its_place(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=(
            r"^x\.yaml: start: not a valid date-time: '2026-02-03T08:00:00\+99:00' \(the UTC "
            r"offset must lie within")):
        parse_scenario("name: x\nstart: 2026-02-03T08:00:00+99:00\n", "x.yaml")


def test_an_int_tag_on_text_is_refused_with_its_place() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("name: x\nseed: !!int hello\n", "x.yaml")
    assert str(caught.value) == ("x.yaml:2:7: 'hello' is not a valid whole number (invalid "
                                 "literal for int() with base 10: 'hello'); write a whole number")


# --- bytes and characters -----------------------------------------------------------------------


def test_non_utf8_is_one_line_with_the_file_line_and_column(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path
) -> None:
    path = _write(tmp_path, b"name: x\ndescription: caf\xe9 \xe9\n")
    message = _refused_both_ways(runner, cli, path)
    assert message == f"error: {path}:2:17: not UTF-8 text (byte 0xE9); save the file as UTF-8"


def test_utf16_is_refused_as_not_utf8(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\n".encode("utf-16"))
    with pytest.raises(ScenarioError, match=r":1:1: not UTF-8 text \(byte 0xFF\)"):
        load_scenario(path)


@pytest.mark.parametrize(("raw", "code"), [(b"\x07", "U+0007"), (b"\x00", "U+0000"),
                                           (b"\x1b[31m", "U+001B"), (b"\x7f", "U+007F")])
def test_a_control_character_in_the_file_is_one_line_with_its_place(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path, raw: bytes, code: str
) -> None:
    path = _write(tmp_path, b"name: x\ndescription: ab" + raw + b"c\n")
    message = _refused_both_ways(runner, cli, path)
    assert message == (f"error: {path}:2:16: character {code} is not allowed in YAML (a control "
                       "character); remove it")


def test_many_control_characters_are_reported_up_to_a_count(tmp_path: Path) -> None:
    path = _write(tmp_path, b"name: x\n" + b"# \x01\n" * 500)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 21
    assert lines[0] == (f"{path}:2:3: character U+0001 is not allowed in YAML (a control "
                        "character); remove it")
    assert lines[-1] == f"{path}: 480 more problems like these; fix the ones above first"


def test_a_nul_escape_in_a_population_domain_names_its_path(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path
) -> None:
    path = _write(tmp_path, 'name: x\npopulations:\n- {count: 2, domain: "exa\\0mple.com"}\n')
    message = _refused_both_ways(runner, cli, path)
    assert message == (f"error: {path}: populations[0].domain: has U+0000, a NUL character, at "
                       "character 4, which cannot be stored or shown; remove it (write a tab or "
                       "line break as itself)")


@pytest.mark.parametrize("field", ["label", "subject_template", "body_template"])
def test_a_lone_surrogate_in_a_step_is_refused_before_anything_is_written(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path, field: str
) -> None:
    path = _write(tmp_path, "name: x\nsequences:\n- name: S\n  steps:\n  - {kind: wait, days: 1}\n"
                            f'  - {{kind: message, {field}: "Hi \\ud800"}}\n')
    message = _refused_both_ways(runner, cli, path)
    assert message == (f"error: {path}: sequences[0].steps[1].{field}: has U+D800, a lone "
                       "surrogate (half of a UTF-16 pair), at character 4, which cannot be "
                       "stored or shown; remove it (write a tab or line break as itself)")


def test_escapes_for_terminal_controls_and_bad_keys_are_refused_one_line_each(
    tmp_path: Path,
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario('name: "\\e[2J"\n"x\\u0007": 1\ndescription: "tab\\tand\\nnewline"\n',
                       "x.yaml")
    assert str(caught.value).splitlines() == [
        "x.yaml: name: has U+001B, a control character, at character 1, which cannot be stored "
        "or shown; remove it (write a tab or line break as itself)",
        "x.yaml: ['x\\x07']: the key has U+0007, a control character, at character 2, which "
        "cannot be stored or shown; remove it (write a tab or line break as itself)",
    ]


def test_a_bom_is_allowed(tmp_path: Path) -> None:
    assert load_scenario(_write(tmp_path, b"\xef\xbb\xbfname: x\n")).name == "x"


def test_crlf_line_ends_are_allowed(tmp_path: Path) -> None:
    assert load_scenario(_write(tmp_path, b"name: x\r\ndays: 3\r\n")).days == 3


# --- YAML features a scenario does not use ------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\n\tdays: 3\n", ":2:1: invalid YAML: found character '\\t' that cannot start any "
     "token (while scanning for the next token)"),
    ("name: !!python/object:os.system x\n", ":1:7: invalid YAML: could not determine a "
     "constructor for the tag 'tag:yaml.org,2002:python/object:os.system'"),
    ("name: !!python/name:os.system x\n", ":1:7: invalid YAML: could not determine a "
     "constructor for the tag 'tag:yaml.org,2002:python/name:os.system'"),
    ("name: x\ndays: 3\nname: y\n", ":3:1: invalid YAML: key 'name' is written twice in this "
     "mapping; keep one"),
    ("name: x\npersonas: [{name: a, <<: {reply: 0.1}, name: b}]\n", ":2:40: invalid YAML: key "
     "'name' is written twice in this mapping; keep one"),
    ("name: x\n---\nname: y\n", ":2:1: invalid YAML: but found another document (expected a "
     "single document in the stream at line 1, column 1)"),
    ("name: *nope\n", ":1:7: invalid YAML: found undefined alias 'nope'"),
    ("name: !!binary xyz\n", ":1:7: invalid YAML: failed to decode base64 data: Incorrect "
     "padding"),
    ("name: *" + "a" * 100_000 + "\n", ":1:7: invalid YAML: found undefined alias 'aaaa"),
])
def test_yaml_problems_are_one_line_with_file_line_and_column(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    lines = _validate(runner, cli, path)
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}{message}")
    assert len(lines[0]) < 400 + len(str(path))


@pytest.mark.parametrize(("text", "message"), [
    ("", "the file is empty; a scenario needs at least `name:`"),
    ("# only a comment\n", "the file is empty; a scenario needs at least `name:`"),
    ("[1, 2]\n", "the top level must be a mapping of fields (name:, sequences:, ...), got a list"),
    ("12345\n", "the top level must be a mapping of fields (name:, sequences:, ...), got int "
     "12345"),
    ("x" * 5000 + "\n", "the top level must be a mapping of fields (name:, sequences:, ...), got "
     "the text '" + "x" * 36 + "..."),
])
def test_files_that_are_not_a_mapping_are_one_line(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    assert _refused_both_ways(runner, cli, path) == f"error: {path}: {message}"


# --- the error display --------------------------------------------------------------------------


def test_a_huge_unknown_key_is_shortened_in_its_path(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path
) -> None:
    path = _write(tmp_path, "name: x\nsettings:\n  ? " + "k" * 60_000 + "\n  : 1\n")
    (line,) = _refused_both_ways(runner, cli, path).splitlines()
    assert line.startswith(f"error: {path}: settings['kkkkkkkk")
    assert "...]: unknown field; remove it or check the spelling" in line
    assert len(line) < 400 + len(str(path))


def test_a_key_with_a_line_break_stays_on_one_line(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path
) -> None:
    path = _write(tmp_path, 'name: x\n"a\\nb": 1\n')
    (line,) = _refused_both_ways(runner, cli, path).splitlines()
    assert line.startswith(f"error: {path}: ['a\\nb']: unknown field; remove it")


def test_a_shared_value_shown_in_an_error_is_shortened(
    runner: CliRunner, cli: typer.Typer, tmp_path: Path
) -> None:
    levels = [f"&l0 [{', '.join(['lol'] * 8)}]"]
    levels += [f"&l{i} [{', '.join([f'*l{i - 1}'] * 8)}]" for i in range(1, 5)]
    path = _write(tmp_path, f"name: x\ndescription: [{', '.join(levels)}]\n")  # 8**5 laughs
    (line,) = _refused_both_ways(runner, cli, path).splitlines()
    assert line == (f"error: {path}: description: must be text (quote it if it looks like a "
                    "number or date), got [['lol', 'lol', 'lol', 'lol', 'lol', ...], "
                    "[['lol', 'lol'...")


def test_many_problems_are_listed_up_to_a_count(tmp_path: Path) -> None:
    contacts = "".join(f"- {{email: {i}, nam: {i}}}\n" for i in range(200))
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(f"name: x\ncontacts:\n{contacts}", "x.yaml")
    lines = str(caught.value).splitlines()
    assert len(lines) == MAX_LINES + 1
    assert all(line.startswith("x.yaml: contacts[") for line in lines[:-1])
    assert lines[-1] == "x.yaml: 550 more problems like these; fix the ones above first"


def test_a_long_message_is_cut_at_a_bounded_length() -> None:
    class Named(pydantic.BaseModel):
        name: str

        @pydantic.field_validator("name")
        @classmethod
        def _never(cls, value: str) -> str:
            raise ValueError(f"no such name {value}")

    with pytest.raises(pydantic.ValidationError) as caught:
        Named.model_validate({"name": "n" * 100_000})
    (line,) = format_errors(caught.value, "x.yaml").splitlines()
    assert line.startswith("x.yaml: name: no such name nnnn")
    assert line.endswith("...")
    assert len(line) < 600


@pytest.mark.parametrize(("value", "shown"), [
    ("x" * 1_000_000, "'" + "x" * 76 + "..."),
    (10**5000, "<a whole number of about 5,000 digits>"),
    (b"\x00" * 1_000_000, "b'" + "\\x00" * 18 + "\\x0..."),
    ([list(range(10))] * 10,
     "[[0, 1, 2, 3, 4, ...], [0, 1, 2, 3, 4, ...], [0, 1, 2, 3, 4, ...], [0, 1, 2, ..."),
    ({"a": {"b": {"c": {"d": {"e": 1}}}}}, "{'a': {'b': {'c': {...}}}}"),
    (3, "3"),
], ids=["long-text", "huge-int", "long-bytes", "wide-list", "deep-dict", "small-int"])
def test_shorten_shows_any_value_in_bounded_space(value: object, shown: str) -> None:
    assert shorten(value, 80) == shown


def test_shorten_handles_a_value_that_contains_itself() -> None:
    loop: list[object] = [1]
    loop.append(loop)
    assert shorten(loop) == "[1, [1, [1, [...]]]]"


def test_a_list_holding_its_own_alias_is_refused_as_a_loop() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("name: x\nsequences: &s [{name: a, steps: *s}]\n", "x.yaml")
    assert str(caught.value) == ("x.yaml:2:33: the alias *s is inside the value it names (a "
                                 "loop); write the value out instead")


def test_the_readme_states_the_limits_the_loader_enforces() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    limits = " ".join(readme.split("**Limits.**", 1)[1].split("\n\n", 1)[0].split())
    assert f"at most {MAX_FILE_BYTES // 1024 // 1024} MiB" in limits
    assert f"at most {MAX_NODES:,} values" in limits
    assert f"at most {MAX_DEPTH} levels deep" in limits
    assert f"numbers of at most {MAX_NUMBER_CHARS} characters" in limits
    assert f"after {MAX_LINES} problems" in limits


def test_a_step_used_twice_through_an_alias_gets_two_ids() -> None:
    world = parse_scenario("name: x\nsequences:\n- name: S\n  steps:\n"
                           "  - &hello {kind: message, label: Hello}\n  - {kind: wait, days: 1}\n"
                           "  - *hello\n", "x.yaml")
    assert [step.id for step in world.sequences[0].steps] == ["s1", "s2", "s3"]



def test_a_file_name_with_a_nul_is_one_error_line(runner: CliRunner, cli: typer.Typer) -> None:
    # Found by the fuzz test: os.open raised ValueError (an internal error, exit 3).
    for command in ("validate", "run"):
        result = runner.invoke(cli, [command, "a\x00b.yaml"])
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == (
            "error: a\\x00b.yaml: not a file name (it holds a NUL character); check the path\n")
