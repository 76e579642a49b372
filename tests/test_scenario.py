"""Scenario files: loading, the loader's conveniences, error messages and the JSON Schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydantic
import pytest

from teamsim.model import BranchStep, ScenarioError, SequenceStatus
from teamsim.scenario import (
    Scenario,
    ScenarioTeammate,
    load_scenario,
    parse_scenario,
    scenario_schema,
)
from teamsim.sim import TeammateSpec, World

DATA = Path(__file__).parent / "data"


def _error(text: str, source: str = "x.yaml") -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source)
    return str(caught.value)


def test_negative_wait_gets_the_promised_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scenarios").mkdir()
    shutil.copy(DATA / "negative_wait.yaml", tmp_path / "scenarios" / "x.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as caught:
        load_scenario("scenarios/x.yaml")
    assert str(caught.value) == "scenarios/x.yaml: sequences[0].steps[2].days: must be >= 0, got -1"


def test_error_names_the_file_as_given() -> None:
    path = DATA / "negative_wait.yaml"
    with pytest.raises(ScenarioError, match=r"^.*negative_wait\.yaml: sequences\[0\]"):
        load_scenario(path)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert str(caught.value).startswith(f"{path}: ")


def test_good_scenario_loads() -> None:
    world = load_scenario(DATA / "good.yaml")
    assert world.name == "Welcome campaign"
    assert world.days == 7
    assert [s.name for s in world.sequences] == ["Welcome", "Later"]
    assert world.populations[0].count == 40
    assert world.expect["sends_after_reply"] == 0


def test_yaml_syntax_error_names_file_line_and_column() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(DATA / "syntax_error.yaml")
    assert str(caught.value).startswith(f"{DATA / 'syntax_error.yaml'}:6:6: invalid YAML: ")


def test_unclosed_bracket_says_where_it_opened() -> None:
    message = _error("name: x\nsequences: [\n  {name: a\n")
    assert message == ("x.yaml:4:1: invalid YAML: expected ',' or '}', but got '<stream end>' "
                       "(while parsing a flow mapping at line 3, column 3)")


def test_key_written_twice_is_refused() -> None:
    assert _error("name: a\ndays: 3\nname: b\n") == (
        "x.yaml:3:1: invalid YAML: key 'name' is written twice in this mapping; keep one")


def test_unknown_key_lists_the_allowed_keys() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(DATA / "unknown_key.yaml")
    assert str(caught.value) == (
        f"{DATA / 'unknown_key.yaml'}: sequences[0].steps[0].chanel: unknown field; remove it "
        "or check the spelling (allowed: kind, id, label, channel, brief, subject_template, "
        "body_template)")


def test_unknown_top_level_key() -> None:
    assert _error("name: x\nsequence: []\n").startswith(
        "x.yaml: sequence: unknown field; remove it or check the spelling (allowed: name, "
        "description, start, timezone, days, seed,")


def test_wrong_types_are_reported_one_per_line() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(DATA / "wrong_type.yaml")
    source = DATA / "wrong_type.yaml"
    assert str(caught.value).splitlines() == [
        f"{source}: days: must be a number, got 'two weeks'",
        f"{source}: seed: must be a whole number, got 1.5",
    ]


def test_world_cross_references_come_out_file_prefixed_one_per_line() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(DATA / "missing_sequence.yaml")
    source = DATA / "missing_sequence.yaml"
    assert str(caught.value).splitlines() == [
        f"{source}: timeline[0].sequence: no sequence 'Welcom'; use one of Welcome",
        f"{source}: timeline[1].sequence: no sequence 'Onboarding'; use one of Welcome",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("days: 3\n", "x.yaml: name: is required; add it"),
        ("name: x\napprover: {edit: 2}\n", "x.yaml: approver.edit: must be <= 1, got 2"),
        ("name: x\ndays: 0\n", "x.yaml: days: must be > 0, got 0"),
        ("name: x\napprover: {on_reply: maybe}\n",
         "x.yaml: approver.on_reply: must be one of 'leave', 'resume', 'end', got 'maybe'"),
        ("name: 12\n", "x.yaml: name: must be text (quote it if it looks like a number or date), "
                       "got 12"),
        ("name: x\npersonas: [{name: default, reply: often}]\n",
         "x.yaml: personas[0].reply: must be a number or a list, got 'often'"),
        ("name: x\nexpect: {sent: {min: many}}\n",
         "x.yaml: expect.sent.min: must be a number, got 'many'"),
        ("name: x\ntimeline: [{at: 1, action: nap}]\n",
         "x.yaml: timeline[0]: unknown action 'nap'; use one of 'enroll', 'pause', 'activate', "
         "'edit', 'enable_rule', 'disable_rule', 'chat', 'resume', 'end'"),
        ("name: x\nsequences: [{name: a, steps: [{label: hi}]}]\n",
         "x.yaml: sequences[0].steps[0]: kind is required; add it (one of message, wait, branch)"),
        ("name: x\nsequences: [{name: a, status: draft}]\n"
         "contacts: [{name: Ann, email: ann@x.com}]\n"
         "diagnose: [{sequence: a, contact: bob@x.com, answer: replied}]\n",
         "x.yaml: diagnose[0].contact: no contact 'bob@x.com'; name one of the scenario's "
         "contacts (or a generated population email)"),
        ("name: x\nsequences: [{name: a, status: draft}]\n"
         "diagnose: [{sequence: a, contact: bob@x.com, answer: replied}]\n",
         "x.yaml: diagnose[0].contact: no contact 'bob@x.com'; name one of the scenario's "
         "contacts (or a generated population email)"),
        ("name: x\nteammates: [{name: Riley}]\n",
         "x.yaml: teammates: teammate 'Riley' drafts but no other teammate can review its "
         "drafts (a teammate never reviews its own); give another teammate the reviewer role, "
         "or pair 'Riley' with a reviewer in the pairing"),
        ("name: x\npopulations: [{count: 2, domain: '[/]'}]\n",
         "x.yaml: populations[0].domain: not a domain name: '[/]'; write it like example.com"),
        ("name: x\ntimezone: Mars/Base\n",
         "x.yaml: timezone: unknown time zone 'Mars/Base'; use an IANA name such as Europe/Paris"),
    ],
)
def test_common_mistakes_get_messages_that_say_the_fix(text: str, message: str) -> None:
    assert _error(text) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "x.yaml: the file is empty; a scenario needs at least `name:`"),
        ("- name: x\n", "x.yaml: the top level must be a mapping of fields (name:, sequences:, "
                        "...), got a list"),
    ],
)
def test_top_level_must_be_a_mapping(text: str, message: str) -> None:
    assert _error(text) == message


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope\.yaml: no such file; check the path"):
        load_scenario(tmp_path / "nope.yaml")


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"is a directory; give a \.yaml file"):
        load_scenario(tmp_path)


def test_omitted_step_ids_are_numbered_depth_first_skipping_used_ids() -> None:
    world = load_scenario(DATA / "good.yaml")
    welcome = world.sequences[0]
    assert [s.id for s in welcome.iter_steps()] == ["s1", "s3", "s2", "s4", "s5", "s6"]
    branch = welcome.steps[2]
    assert isinstance(branch, BranchStep)
    assert [s.id for s in branch.then_steps] == ["s4"]
    assert [s.id for s in branch.else_steps] == ["s5", "s6"]


def test_step_ids_written_in_the_file_are_kept() -> None:
    world = parse_scenario(
        "name: x\nsequences: [{name: a, steps: [{kind: wait, days: 1}, {kind: message, id: s1}]}]",
        "x.yaml")
    assert [s.id for s in world.sequences[0].steps] == ["s2", "s1"]


def test_sequences_are_active_unless_the_file_says_otherwise() -> None:
    world = load_scenario(DATA / "good.yaml")
    assert world.sequences[0].status is SequenceStatus.ACTIVE
    assert world.sequences[1].status is SequenceStatus.DRAFT


def test_active_default_needs_a_message_step() -> None:
    assert _error("name: x\nsequences: [{name: a, steps: [{kind: wait, days: 1}]}]\n") == (
        "x.yaml: sequences[0]: an active sequence needs a message step")


def test_schema_is_json_with_the_top_level_properties() -> None:
    schema = json.loads(json.dumps(scenario_schema()))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "teamsim scenario"
    assert "$id" not in schema
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {
        "name", "description", "start", "timezone", "days", "seed", "settings", "teammates",
        "sequences", "personas", "contacts", "populations", "approver", "rules", "timeline",
        "expect", "diagnose", "compare", "llm"}
    assert schema["required"] == ["name"]


def test_schema_matches_the_files_conveniences() -> None:
    defs = scenario_schema()["$defs"]
    for step in ("MessageStep", "WaitStep", "BranchStep"):
        assert "id" not in defs[step]["required"]
        assert "kind" in defs[step]["required"]
    assert defs["Sequence"]["properties"]["status"]["default"] == "active"


def test_loading_does_not_change_the_file() -> None:
    before = (DATA / "negative_wait.yaml").read_bytes()
    with pytest.raises(ScenarioError):
        load_scenario(DATA / "negative_wait.yaml")
    assert (DATA / "negative_wait.yaml").read_bytes() == before


def test_timeline_edits_are_checked_against_the_sequence_as_it_will_stand() -> None:
    text = """
name: bad edit
sequences:
  - name: Welcome
    steps:
      - {kind: message, label: Hello}
      - {kind: wait, days: 1}
timeline:
  - {at: 2, action: edit, sequence: Welcome, ops: [{op: remove, step: s1}]}
  - {at: 1, action: edit, sequence: Welcome, ops: [{op: add_wait, days: 2}, {op: remove, step: s9}]}
"""
    assert _error(text).splitlines() == [
        "x.yaml: timeline[1].ops[1]: sequence 'Welcome' has no step 's9'; `teamsim seq show` "
        "lists its steps with their ids",
        "x.yaml: timeline[0]: this edit leaves 'Welcome' with no message step while it runs; "
        "keep at least one message step",
    ]


def test_generated_emails_may_not_clash_with_listed_contacts() -> None:
    text = """
name: clash
sequences: [{name: S, steps: [{kind: message}]}]
contacts: [{name: Ann, email: lead-2@example.com}]
populations: [{count: 3}, {count: 2}]
"""
    assert _error(text).splitlines() == [
        "x.yaml: populations[0]: its generated emails (lead-N@example.com) clash with other "
        "contacts; give it another name or domain",
        "x.yaml: populations[1]: its generated emails (lead-N@example.com) clash with other "
        "contacts; give it another name or domain",
    ]


def test_a_scenario_is_the_simulated_world_plus_the_files_checks() -> None:
    scenario = load_scenario(DATA / "good.yaml")
    assert isinstance(scenario, Scenario)
    assert isinstance(scenario, World)
    assert {"expect", "diagnose", "compare"} <= set(Scenario.model_fields)
    assert not {"expect", "diagnose", "compare"} & set(World.model_fields)
    assert "drafter" in ScenarioTeammate.model_fields
    assert "drafter" not in TeammateSpec.model_fields


def test_the_simulated_world_refuses_the_files_checks() -> None:
    with pytest.raises(pydantic.ValidationError, match="expect"):
        World.model_validate({"name": "x", "expect": {"sent": 1}})


def test_the_team_check_comes_after_every_other_problem() -> None:
    lonely = "name: x\nteammates: [{name: Ann, roles: [drafter]}]\n"
    assert "reviewer" in _error(lonely)
    both = lonely + "timeline: [{at: 1, action: pause, sequence: Nope}]\n"
    assert _error(both).splitlines() == [
        "x.yaml: timeline[0].sequence: no sequence 'Nope'; use one of (none defined)"]


def test_the_package_root_exports_the_scenario_and_the_world() -> None:
    import teamsim

    assert teamsim.Scenario is Scenario
    assert teamsim.World is World
