"""The event vocabulary: every kind has a payload class, and every payload's JSON survives the
round trip through its class unchanged."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime

import pytest

from teamsim import model
from teamsim.model import (
    PAYLOADS,
    AttentionOpened,
    DraftFailed,
    EnrollmentMoved,
    EventKind,
    EventRecord,
    MessageCancelled,
    Payload,
    ReplyReceived,
    RuleCheck,
    SendWindowLimits,
    SequenceCreated,
    StepDue,
    parse_payload,
)

PAYLOAD_CLASSES = [value for name in model.__all__
                   if isinstance(value := getattr(model, name), type)
                   and issubclass(value, Payload) and value is not Payload]


def test_every_kind_has_a_payload_class() -> None:
    assert set(PAYLOADS) == set(EventKind)


def test_every_payload_class_serves_a_kind_and_its_own_kind() -> None:
    assert set(PAYLOADS.values()) == set(PAYLOAD_CLASSES)
    for cls in PAYLOAD_CLASSES:
        assert PAYLOADS[cls.KIND] is cls, cls.__name__


def test_only_the_paired_kinds_share_a_class() -> None:
    shared = {cls.__name__: n for cls, n in Counter(PAYLOADS.values()).items() if n > 1}
    assert shared == {"SequenceStatusChanged": 2, "RuleSwitched": 2, "EnrollmentEnded": 2}


@pytest.mark.parametrize("cls", PAYLOAD_CLASSES, ids=lambda cls: cls.__name__)
def test_payloads_are_frozen_slotted_keyword_only_and_documented(cls: type[Payload]) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert "__slots__" in vars(cls)
    assert all(f.kw_only for f in dataclasses.fields(cls))
    assert (cls.__doc__ or "").strip()


def test_kind_values_are_dotted_and_unique() -> None:
    values = [kind.value for kind in EventKind]
    assert len(values) == len(set(values))
    assert all(value.count(".") == 1 and value == value.lower() for value in values)


def test_a_trailing_underscore_is_not_in_the_json_key() -> None:
    moved = EnrollmentMoved(from_="s1", to="s3")
    assert moved.to_payload() == {"from": "s1", "to": "s3"}
    assert EnrollmentMoved.from_payload({"from": "s1", "to": "s3"}) == moved


def test_optional_keys_are_left_out_only_where_the_log_leaves_them_out() -> None:
    assert ReplyReceived(kind="bounce", message_id=3).to_payload() == {
        "kind": "bounce", "message_id": 3}
    assert MessageCancelled(message_id=3, reason="r").to_payload() == {
        "message_id": 3, "reason": "r"}
    assert MessageCancelled(message_id=3, reason="r", recalled_rule_id=7).to_payload() == {
        "message_id": 3, "reason": "r", "recalled_rule_id": 7}


def test_nested_parts_and_lists_come_back_typed() -> None:
    data = {"name": "Welcome", "status": "active", "version": 1,
            "send_window": {"weekdays": [0, 1], "start": "08:00:00", "end": "17:00:00"},
            "daily_cap_per_teammate": None, "cap_timezone": "UTC"}
    created = parse_payload("sequence.created", data)
    assert isinstance(created, SequenceCreated)
    assert created.send_window == SendWindowLimits(weekdays=(0, 1), start="08:00:00",
                                                   end="17:00:00")
    assert created.to_payload() == data
    opened = AttentionOpened(attention_id=1, draft_id=2, flagged=True, open_concerns=("x",),
                             rule=RuleCheck(rule_id=None, approves=False, reason="off"))
    assert AttentionOpened.from_payload(opened.to_payload()) == opened


def test_a_draft_failure_round_trips() -> None:
    failed = DraftFailed(stage="review", teammate_id=2, teammate="Sam", reason="timed out",
                         tries=4, attention_id=9)
    data = failed.to_payload()
    assert data == {"stage": "review", "teammate_id": 2, "teammate": "Sam",
                    "reason": "timed out", "tries": 4, "attention_id": 9}
    assert parse_payload("draft.failed", data) == failed


def test_parse_refuses_an_unknown_kind_an_unknown_key_and_a_missing_one() -> None:
    with pytest.raises(ValueError, match=r"step\.nope"):
        parse_payload("step.nope", {})
    with pytest.raises(ValueError, match=r"StepDue: unknown payload keys \['extra'\]"):
        parse_payload(EventKind.STEP_DUE, {"step_id": "s1", "extra": 1})
    with pytest.raises(ValueError, match=r"StepDue: .*step_id"):
        parse_payload(EventKind.STEP_DUE, {})


def test_event_record_holds_the_kind_value() -> None:
    record = EventRecord(seq=1, at=datetime(2026, 3, 2, tzinfo=UTC), type=EventKind.STEP_DUE,
                         enrollment_id=1, payload=StepDue(step_id="s1").to_payload())
    assert record.type == "step.due"
    assert parse_payload(record.type, record.payload) == StepDue(step_id="s1")


def test_every_event_of_every_shipped_scenario_round_trips(
    shipped_runs: dict[str, tuple[tuple[EventRecord, ...], list[object]]],
) -> None:
    kinds: set[str] = set()
    for name, (events, _) in shipped_runs.items():
        for event in events:
            payload = parse_payload(event.type, event.payload)
            assert type(payload) is PAYLOADS[EventKind(event.type)]
            assert payload.to_payload() == event.payload, f"{name}: event {event.seq}"
            kinds.add(event.type)
    # the shipped scenarios exercise most of the vocabulary
    assert len(kinds) >= 35, sorted(set(EventKind) - kinds)
