"""The domain model: sequences, their editing operations and their validation."""

from __future__ import annotations

import pydantic
import pytest

from teamsim.model import (
    ActivationError,
    AttributeCondition,
    BranchStep,
    ChannelSpec,
    Contact,
    EngagementCondition,
    MessageStep,
    NotFoundError,
    Sequence,
    SequenceStatus,
    ValidationError,
    WaitStep,
    channels,
    check_timezone,
    register_channel,
)
from teamsim.model import channel as channel_module


def ids(seq: Sequence) -> list[str]:
    return [s.id for s in seq.iter_steps()]


def test_new_sequence_starts_with_the_spec_example_steps() -> None:
    seq = Sequence.new("Welcome new renovation leads", "For leads from the site")
    assert seq.status is SequenceStatus.DRAFT
    assert [(s.kind, s.label) for s in seq.steps] == [
        ("message", "Say hello"), ("wait", "Wait 3 days"), ("message", "Follow up")]
    assert isinstance(seq.steps[0], MessageStep)
    assert seq.steps[0].channel == "email"
    assert isinstance(seq.steps[1], WaitStep)
    assert seq.steps[1].days == 3


def test_added_steps_get_fresh_ids_that_survive_reordering() -> None:
    seq = Sequence.new("s")
    sms = seq.add_message("sms", "Text them")
    wait = seq.add_wait(1.5)
    assert (sms.id, wait.id) == ("s4", "s5")
    seq.move_step("s5", 0)
    seq.move_up("s4")
    assert ids(seq) == ["s5", "s1", "s2", "s4", "s3"]
    seq.move_down("s5")
    assert ids(seq) == ["s1", "s5", "s2", "s4", "s3"]


def test_ids_are_not_reused_after_removing_the_last_step() -> None:
    seq = Sequence.new("s")
    seq.remove_step("s2")
    seq.add_email("Another")
    assert ids(seq) == ["s1", "s3", "s4"]


def test_add_at_a_position() -> None:
    seq = Sequence.new("s")
    seq.add_wait(hours=4, position=1)
    assert ids(seq) == ["s1", "s4", "s2", "s3"]
    step = seq.step("s4")
    assert isinstance(step, WaitStep)
    assert step.minutes == 240
    assert step.label == "Wait 4 hours"


def test_fractional_wait_rounds_to_whole_minutes() -> None:
    seq = Sequence.new("s")
    seq.set_wait("s2", 0.5, 0.01)
    step = seq.step("s2")
    assert isinstance(step, WaitStep)
    assert step.minutes == 721


def test_label_channel_and_brief_edits() -> None:
    seq = Sequence.new("s")
    seq.label_step("s1", "Hello there")
    seq.set_channel("s3", "linkedin")
    seq.set_brief("s3", "Mention the renovation guide")
    first, third = seq.step("s1"), seq.step("s3")
    assert first.label == "Hello there"
    assert isinstance(third, MessageStep)
    assert (third.channel, third.brief) == ("linkedin", "Mention the renovation guide")


def test_branch_steps_nest_and_keep_ids() -> None:
    seq = Sequence.new("s")
    branch = seq.add_branch(EngagementCondition(step_id="s1", event="opened", within_days=3))
    seq.add_email("Thanks for reading", parent=branch.id)
    seq.add_message("sms", "Nudge", parent=branch.id, arm="else")
    assert ids(seq) == ["s1", "s2", "s3", "s4", "s5", "s6"]
    stored = seq.step("s4")
    assert isinstance(stored, BranchStep)
    assert [s.id for s in stored.then_steps] == ["s5"]
    assert [s.id for s in stored.else_steps] == ["s6"]
    seq.remove_step("s4")
    assert ids(seq) == ["s1", "s2", "s3"]


def test_attribute_condition_evaluates_fields_and_attributes() -> None:
    ada = Contact(name="Ada Lovelace", email="ada@example.com", company="Engines Ltd",
                  attributes={"budget": 50_000, "segment": "kitchen"})
    assert AttributeCondition(field="company", op="contains", value="engines").holds(ada)
    assert AttributeCondition(field="attributes.budget", op="gt", value=10_000).holds(ada)
    assert not AttributeCondition(field="attributes.budget", op="lt", value=10_000).holds(ada)
    assert AttributeCondition(field="attributes.segment", op="in",
                              value=["kitchen", "bath"]).holds(ada)
    assert not AttributeCondition(field="attributes.missing", op="exists").holds(ada)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.set_wait("s2", -1), r"steps\[1\]\.days: must be >= 0, got -1"),
        (lambda s: s.set_channel("s1", "fax"), r"steps\[0\]\.channel: unknown channel 'fax'; "
                                               r"use one of: email, linkedin, sms"),
        (lambda s: s.add_branch({"kind": "attribute", "field": "shoe_size"}),
         r"condition\.field: unknown field 'shoe_size'; use one of name, email, company, "
         r"timezone or attributes\.<name>"),
        (lambda s: s.add_branch({"kind": "engagement", "step_id": "s3", "event": "opened"},
                                position=0),
         r"branch 's4' tests engagement with step 's3', which is not a message step before it"),
        (lambda s: s.add_branch({"kind": "engagement", "step_id": "s1", "event": "not_opened"}),
         r"a not_opened condition needs within_days"),
        (lambda s: s.set_wait("s1", 2), r"step 's1' is a message step, not a wait step"),
        (lambda s: s.move_step("s1", 7), r"positions run from 0 to 2"),
        (lambda s: s.add_email("x", parent="s1"), r"step 's1' is not a branch"),
    ],
)
def test_bad_edits_raise_a_clear_error_and_change_nothing(edit, message) -> None:  # type: ignore[no-untyped-def]
    seq = Sequence.new("Welcome")
    before = seq.model_dump()
    with pytest.raises(ValidationError, match=message):
        edit(seq)
    assert seq.model_dump() == before


def test_unknown_step_is_not_found() -> None:
    seq = Sequence.new("Welcome")
    with pytest.raises(NotFoundError, match=r"sequence 'Welcome' has no step 's9'"):
        seq.remove_step("s9")


def test_activating_without_a_message_step_is_refused() -> None:
    seq = Sequence.build(name="Only waits", steps=[{"kind": "wait", "id": "s1", "days": 1}])
    with pytest.raises(ActivationError, match=r"'Only waits' has no message step"):
        seq.check_activatable()


def test_blank_name_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"name: name must not be blank"):
        Sequence.new("   ")


def test_duplicate_step_ids_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"step id 's1' is used twice"):
        Sequence.build(name="x", steps=[{"kind": "wait", "id": "s1"},
                                        {"kind": "wait", "id": "s1"}])


def test_contact_validates_email_and_time_zone() -> None:
    with pytest.raises(ValueError, match=r"not an email address"):
        Contact(name="A", email="nope")
    with pytest.raises(ValueError, match=r"unknown time zone 'Mars/Base'"):
        Contact(name="A", email="a@example.com", timezone="Mars/Base")
    assert Contact(name="Ada Lovelace", email="Ada@Example.com").email == "ada@example.com"


def test_registered_channel_becomes_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channel_module, "_CHANNELS", dict(channel_module._CHANNELS))
    register_channel(ChannelSpec(name="whatsapp_test", max_chars=1000))
    assert "whatsapp_test" in channels()
    seq = Sequence.new("s")
    seq.set_channel("s1", "whatsapp_test")
    with pytest.raises(ValueError, match=r"channel name must be lower-case"):
        register_channel(ChannelSpec(name="Bad Name"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.add_wait(days=float("inf")),
         r"steps\[3\]\.days: must be a finite number from 0 to 3650 \(days\), got inf"),
        (lambda s: s.add_wait(days=1e300), r"steps\[3\]\.days: must be <= 3650, got 1e\+300"),
        (lambda s: s.set_wait("s2", 1, float("nan")),
         r"steps\[1\]\.hours: must be a finite number from 0 to 87,600 \(hours\), got nan"),
        (lambda s: s.add_branch({"kind": "engagement", "step_id": "s1", "event": "not_opened",
                                 "within_days": float("inf")}),
         r"condition\.within_days: must be a finite number from 0 to 3650 \(days\), got inf"),
        (lambda s: s.add_branch({"kind": "attribute", "field": "attributes.score", "op": "gt",
                                 "value": float("nan")}),
         r"condition\.value: must be a finite number, text or a list of them, got nan"),
    ],
    ids=["wait-days-inf", "wait-days-huge", "wait-hours-nan", "within-days-inf", "value-nan"],
)
def test_infinite_or_huge_waits_are_refused_by_the_editing_api(edit, message) -> None:  # type: ignore[no-untyped-def]
    seq = Sequence.new("Welcome")
    before = seq.model_dump()
    with pytest.raises(ValidationError, match=message):
        edit(seq)
    assert seq.model_dump() == before


@pytest.mark.parametrize(
    "name",
    ["a" * 300, "../../etc/passwd", "", "a\0b", "tzdata.zi", "/etc/localtime", "Europe/",
     "Europe//Paris", "\udc80"],
    ids=["300-chars", "dot-dot", "empty", "nul", "not-a-zone-file", "absolute", "trailing-slash",
         "double-slash", "lone-surrogate"],
)
def test_junk_time_zone_names_are_a_clear_value_error(name: str) -> None:
    with pytest.raises(ValueError, match=r"^unknown time zone .*use an IANA name"):
        check_timezone(name)
    with pytest.raises(pydantic.ValidationError, match="unknown time zone"):
        Contact.model_validate({"name": "A", "email": "a@example.com", "timezone": name})


@pytest.mark.parametrize("name", ["localtime", "posixrules"])
def test_the_machines_own_zone_is_refused(name: str) -> None:
    # Both resolve to /etc/localtime: a run's digest would depend on the machine.
    with pytest.raises(ValueError, match=r"^unknown time zone .*this machine's own zone.*"
                                         r"use an IANA name"):
        check_timezone(name)
    with pytest.raises(pydantic.ValidationError, match="unknown time zone"):
        Contact.model_validate({"name": "A", "email": "a@example.com", "timezone": name})


@pytest.mark.parametrize("name", ["right/UTC", "posix/Europe/Paris"])
def test_zone_files_outside_the_iana_list_are_refused(name: str) -> None:
    # zoneinfo loads these from a Debian tzdata tree, but they are not IANA names and are not
    # on every machine.
    with pytest.raises(ValueError, match=r"^unknown time zone .*use an IANA name"):
        check_timezone(name)


def test_real_time_zone_names_pass() -> None:
    for name in ("UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5"):
        assert check_timezone(name) == name


def test_moving_the_first_step_up_or_the_last_down_says_so() -> None:
    seq = Sequence.new("Welcome")
    first, last = seq.steps[0].id, seq.steps[-1].id
    with pytest.raises(ValidationError, match=rf"step '{first}' is already first"):
        seq.move_up(first)
    with pytest.raises(ValidationError, match=rf"step '{last}' is already last"):
        seq.move_down(last)
