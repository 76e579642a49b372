"""Equal small payloads of only strings share one dict in the retained log; others do not."""

from __future__ import annotations

from datetime import UTC, datetime

from teamsim.model import MessageOpened, StepDue, WaitDone
from teamsim.store import Store

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _retained(*payloads: object) -> list[dict[str, object]]:
    with Store.open("sqlite://") as store, store.unit_of_work() as uow:
        uow.events.retain()
        for payload in payloads:
            uow.events.append(payload, AT)  # type: ignore[arg-type]
        events = uow.events.retained()
        assert [e.payload for e in uow.events.iter()] == [e.payload for e in events]
        return [e.payload for e in events]


def test_equal_string_payloads_of_one_kind_share_one_dict() -> None:
    first, second, other_step = _retained(StepDue(step_id="s1"), StepDue(step_id="s1"),
                                          StepDue(step_id="s3"))
    assert first is second
    assert first == {"step_id": "s1"}
    assert other_step == {"step_id": "s3"}


def test_equal_payloads_of_two_kinds_stay_apart() -> None:
    due, done = _retained(StepDue(step_id="s1"), WaitDone(step_id="s1"))
    assert due == done
    assert due is not done


def test_payloads_with_numbers_are_not_shared() -> None:
    first, second = _retained(MessageOpened(message_id=1, step_id="s1"),
                              MessageOpened(message_id=1, step_id="s1"))
    assert first == second
    assert first is not second
