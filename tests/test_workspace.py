"""The toolbar operations persisted through the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from teamsim.model import (
    ActivationError,
    ConflictError,
    Contact,
    DuplicateEnrollmentError,
    EnrollmentStatus,
    MessageStep,
    NotFoundError,
    Sequence,
    SequenceStatus,
    StaleVersionError,
    ValidationError,
    WaitStep,
)
from teamsim.store import SequenceRepository, Store
from teamsim.workspace import EDIT_ATTEMPTS, Workspace


class Ticking:
    """A clock that moves one minute per reading, so versions get distinct timestamps."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def ws(store: Store) -> Iterator[Workspace]:
    return Workspace(store, clock=Ticking())


def ada() -> Contact:
    return Contact(name="Ada Lovelace", email="ada@example.com", company="Engines",
                   timezone="Europe/London")


def test_new_sequence_is_stored_as_a_draft_with_the_example_steps(ws: Workspace) -> None:
    seq = ws.new_sequence("Welcome new renovation leads", "Leads from the site")
    stored = ws.sequence("Welcome new renovation leads")
    assert stored == seq
    assert stored.status is SequenceStatus.DRAFT
    assert [s.label for s in stored.steps] == ["Say hello", "Wait 3 days", "Follow up"]
    assert ws.sequence(str(seq.id)).name == seq.name


def test_every_edit_saves_a_new_readable_version(ws: Workspace) -> None:
    ws.new_sequence("Welcome")
    ws.add_message("Welcome", "sms", "Text them", brief="Short nudge")
    ws.add_wait("Welcome", days=1.5, position=3)
    ws.label_step("Welcome", "s1", "Hello there")
    ws.move_step("Welcome", "s4", 0)
    ws.set_channel("Welcome", "s3", "linkedin")
    ws.set_wait("Welcome", "s2", 2, 6)
    ws.set_brief("Welcome", "s3", "Connect on LinkedIn")
    ws.remove_step("Welcome", "s5")
    versions = ws.versions("Welcome")
    assert [v.version for v in versions] == list(range(1, 10))
    assert [v.saved_at for v in versions] == sorted({v.saved_at for v in versions})
    assert [s.id for s in versions[0].sequence.steps] == ["s1", "s2", "s3"]
    current = ws.sequence("Welcome")
    assert current.version == 9
    assert [s.id for s in current.steps] == ["s4", "s1", "s2", "s3"]
    wait, follow = current.step("s2"), current.step("s3")
    assert isinstance(wait, WaitStep)
    assert (wait.days, wait.hours) == (2, 6)
    assert isinstance(follow, MessageStep)
    assert (follow.channel, follow.brief) == ("linkedin", "Connect on LinkedIn")


def test_move_up_and_down(ws: Workspace) -> None:
    ws.new_sequence("Welcome")
    ws.move_down("Welcome", "s1")
    ws.move_up("Welcome", "s3")
    assert [s.id for s in ws.sequence("Welcome").steps] == ["s2", "s3", "s1"]


def test_branch_steps_persist(ws: Workspace) -> None:
    ws.new_sequence("Welcome")
    branch = ws.add_branch("Welcome", {"kind": "engagement", "step_id": "s1",
                                       "event": "not_opened", "within_days": 3})
    ws.add_message("Welcome", "sms", "Nudge", parent=branch.id)
    assert [s.id for s in ws.sequence("Welcome").iter_steps()] == ["s1", "s2", "s3", "s4", "s5"]


def test_edit_block_saves_one_version_and_nothing_on_error(ws: Workspace) -> None:
    ws.new_sequence("Welcome")
    with ws.edit("Welcome") as seq:
        seq.add_email("Third")
        seq.label_step("s4", "Last word")
    assert ws.sequence("Welcome").version == 2
    def add_then_break() -> None:
        with ws.edit("Welcome") as seq:
            seq.add_email("Fourth")
            seq.set_wait("s2", -1)

    with pytest.raises(ValidationError):
        add_then_break()
    assert ws.sequence("Welcome").version == 2
    assert len(ws.versions("Welcome")) == 2


def test_activate_and_pause(ws: Workspace) -> None:
    ws.new_sequence("Welcome")
    assert ws.activate("Welcome").status is SequenceStatus.ACTIVE
    assert ws.pause("Welcome").status is SequenceStatus.PAUSED
    assert ws.activate("Welcome").status is SequenceStatus.ACTIVE
    assert [v.sequence.status for v in ws.versions("Welcome")] == [
        SequenceStatus.DRAFT, SequenceStatus.ACTIVE, SequenceStatus.PAUSED, SequenceStatus.ACTIVE]


def test_edit_while_running_keeps_it_active(ws: Workspace) -> None:
    ws.new_sequence("Welcome")
    ws.activate("Welcome")
    ws.add_email("Welcome", "Last word")
    assert ws.sequence("Welcome").status is SequenceStatus.ACTIVE


def test_enroll_puts_the_contact_at_the_first_step(ws: Workspace) -> None:
    ws.new_sequence("Welcome")
    enrollment = ws.enroll("Welcome", ada())
    assert enrollment.current_step_id == "s1"
    [(stored, contact)] = ws.enrollments("Welcome")
    assert stored == enrollment
    assert contact.email == "ada@example.com"
    ws.new_sequence("Second")
    assert ws.enroll("Second", "ada@example.com").contact_id == contact.id


def test_enrolling_twice_is_refused_and_changes_nothing(ws: Workspace) -> None:
    ws.new_sequence("Welcome")
    ws.enroll("Welcome", ada())
    with pytest.raises(DuplicateEnrollmentError, match="already enrolled"):
        ws.enroll("Welcome", ada())
    assert len(ws.enrollments("Welcome")) == 1


def test_enrolling_into_a_missing_sequence_is_refused_and_changes_nothing(
    ws: Workspace, store: Store
) -> None:
    with pytest.raises(NotFoundError, match="Nope"):
        ws.enroll("Nope", ada())
    with store.unit_of_work() as uow:
        assert uow.contacts.list() == []


def test_activating_without_a_message_step_is_refused_and_changes_nothing(
    ws: Workspace
) -> None:
    ws.new_sequence("Welcome")
    ws.remove_step("Welcome", "s1")
    ws.remove_step("Welcome", "s3")
    with pytest.raises(ActivationError, match="has no message step"):
        ws.activate("Welcome")
    assert ws.sequence("Welcome").status is SequenceStatus.DRAFT
    assert ws.sequence("Welcome").version == 3


def test_pausing_a_draft_is_refused(ws: Workspace) -> None:
    ws.new_sequence("Welcome")
    with pytest.raises(ConflictError, match="is draft, not active"):
        ws.pause("Welcome")


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (lambda ws: ws.set_wait("Welcome", "s2", -1), ValidationError,
         r"steps\[1\]\.days: must be >= 0, got -1"),
        (lambda ws: ws.set_channel("Welcome", "s1", "fax"), ValidationError,
         r"unknown channel 'fax'"),
        (lambda ws: ws.add_message("Welcome", "pigeon"), ValidationError,
         r"unknown channel 'pigeon'"),
        (lambda ws: ws.add_branch("Welcome", {"kind": "attribute", "field": "shoe"}),
         ValidationError, r"unknown field 'shoe'"),
        (lambda ws: ws.remove_step("Welcome", "s9"), NotFoundError, r"has no step 's9'"),
        (lambda ws: ws.label_step("Missing", "s1", "x"), NotFoundError, r"Missing"),
    ],
)
def test_bad_edits_are_refused_and_change_nothing(ws, action, error, message) -> None:  # type: ignore[no-untyped-def]
    ws.new_sequence("Welcome")
    before = ws.sequence("Welcome")
    with pytest.raises(error, match=message):
        action(ws)
    assert ws.sequence("Welcome") == before
    assert len(ws.versions("Welcome")) == 1


def test_duplicate_sequence_name_is_refused(ws: Workspace) -> None:
    ws.new_sequence("Welcome")
    with pytest.raises(ConflictError, match="Welcome"):
        ws.new_sequence("Welcome")
    assert len(ws.sequences()) == 1


def test_an_edit_that_lost_a_race_is_applied_again_to_the_fresh_version(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.new_sequence("Welcome")
    real = SequenceRepository.get_for_update
    reads: list[int] = []

    def first_read_unlocked(sequences: SequenceRepository, key: str | int) -> Sequence:
        if reads:
            seq = real(sequences, key)
        else:  # read without the lock, and let another writer save before our save
            seq = sequences.get(key)
            with ws.store.unit_of_work() as other:
                theirs = other.sequences.get("Welcome")
                theirs.add_email("Theirs")
                other.sequences.save(theirs, datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
        reads.append(seq.version)
        return seq

    monkeypatch.setattr(SequenceRepository, "get_for_update", first_read_unlocked)
    step = ws.add_email("Welcome", "Mine")
    assert reads == [1, 2]
    assert step.id == "s5"
    assert [s.label for s in ws.sequence("Welcome").steps][3:] == ["Theirs", "Mine"]
    assert [v.version for v in ws.versions("Welcome")] == [1, 2, 3]


def test_an_edit_that_always_loses_gives_up_and_saves_nothing(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.new_sequence("Welcome")
    real = SequenceRepository.get_for_update
    reads: list[int] = []

    def always_stale(sequences: SequenceRepository, key: str | int) -> Sequence:
        seq = real(sequences, key)
        reads.append(seq.version)
        return seq.model_copy(update={"version": seq.version - 1})

    monkeypatch.setattr(SequenceRepository, "get_for_update", always_stale)
    with pytest.raises(StaleVersionError, match="nothing was saved"):
        ws.add_email("Welcome", "Mine")
    assert reads == [1] * EDIT_ATTEMPTS
    assert [v.version for v in ws.versions("Welcome")] == [1]


def test_default_labels_follow_the_values_until_labelled(ws: Workspace) -> None:
    ws.new_sequence("Welcome")
    ws.set_wait("Welcome", "s2", 4, 6)
    ws.add_message("Welcome", "sms")
    ws.set_channel("Welcome", "s4", "linkedin")
    ws.set_channel("Welcome", "s1", "sms")  # "Say hello" is the user's label: it stays
    assert [s.label for s in ws.sequence("Welcome").steps] == [
        "Say hello", "Wait 4 days 6 hours", "Follow up", "Linkedin message"]
    ws.label_step("Welcome", "s2", "Cool off")
    ws.set_wait("Welcome", "s2", 1)
    assert ws.sequence("Welcome").step("s2").label == "Cool off"
    ws.label_step("Welcome", "s2", "")  # back to the default, which follows again
    ws.set_wait("Welcome", "s2", 2)
    assert ws.sequence("Welcome").step("s2").label == "Wait 2 days"


@pytest.mark.parametrize(
    ("days", "hours", "message"),
    [(float("inf"), 0, "finite number"), (float("nan"), 0, "finite number"),
     (1e300, 0, "must be <= 3650"), (0, -1, "must be >= 0"), (0, 1e9, "must be <= 87600")],
)
def test_endless_or_negative_waits_are_refused(ws, days, hours, message) -> None:  # type: ignore[no-untyped-def]
    ws.new_sequence("Welcome")
    with pytest.raises(ValidationError, match=message):
        ws.add_wait("Welcome", days, hours)
    with pytest.raises(ValidationError, match=message):
        ws.set_wait("Welcome", "s2", days, hours)
    assert len(ws.versions("Welcome")) == 1


def test_resume_end_and_unenroll(ws: Workspace, store: Store) -> None:
    ws.new_sequence("Welcome")
    ws.enroll("Welcome", ada())
    ws.enroll("Welcome", Contact(name="Bob", email="bob@example.com"))
    with pytest.raises(ConflictError, match="not paused, so there is nothing to resume"):
        ws.resume("Welcome", "ada@example.com")
    with store.unit_of_work() as uow:
        uow.enrollments.update(1, status=EnrollmentStatus.PAUSED,
                              paused_at=datetime(2026, 3, 2, tzinfo=UTC))
    resumed = ws.resume("Welcome", "ADA@example.com")
    assert (resumed.status, resumed.paused_at) == (EnrollmentStatus.ACTIVE, None)
    ended = ws.end("Welcome", "ada@example.com")
    assert (ended.status, ended.ended_reason, ended.next_due_at) == (
        EnrollmentStatus.ENDED, "ended by the human", None)
    with pytest.raises(ConflictError, match="already ended"):
        ws.end("Welcome", "ada@example.com")
    assert ws.unenroll("Welcome", "bob@example.com").id == 2
    assert [e.id for e, _ in ws.enrollments("Welcome")] == [1]
    with pytest.raises(NotFoundError, match=r"bob@example\.com is not enrolled"):
        ws.unenroll("Welcome", "bob@example.com")


def test_a_removed_step_id_is_never_given_out_again(ws: Workspace) -> None:
    ws.new_sequence("Welcome")
    ws.remove_step("Welcome", "s3")
    assert ws.add_email("Welcome").id == "s4"  # not s3 again, also after a save and a reload
    ws.remove_step("Welcome", "s4")
    assert ws.add_wait("Welcome", 1).id == "s5"
    assert [s.id for s in ws.sequence("Welcome").steps] == ["s1", "s2", "s5"]
