"""Contacts, teammates, enrollments: uniqueness and errors that change nothing."""

from __future__ import annotations

import threading

import pytest

from teamsim.model import (
    ConflictError,
    Contact,
    DuplicateEnrollmentError,
    EnrollmentStatus,
    NotFoundError,
    Sequence,
    Teammate,
    TeammateRole,
)
from teamsim.store import Store

from ._helpers import T0, at, world


def test_contact_round_trips(store: Store) -> None:
    contact = Contact(name="Ann Lee", email="Ann@Example.com", company="Lee & Co",
                      timezone="Europe/Paris", attributes={"tier": 2, "vip": True, "x": 1.5})
    with store.unit_of_work() as uow:
        stored = uow.contacts.add(contact)
    with store.unit_of_work() as uow:
        assert uow.contacts.get(stored.id or 0) == stored
        assert uow.contacts.get("ann@example.com") == stored
        assert uow.contacts.list() == [stored]


def test_contact_emails_are_unique(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.contacts.add(Contact(name="Ann", email="ann@example.com"))
        with pytest.raises(ConflictError, match=r"'ann@example\.com' already exists"):
            uow.contacts.add(Contact(name="Other Ann", email="ANN@example.com"))


def test_teammate_round_trips(store: Store) -> None:
    with store.unit_of_work() as uow:
        stored = uow.teammates.add(Teammate(name="Rex", roles=[TeammateRole.REVIEWER], capacity=3))
    with store.unit_of_work() as uow:
        assert uow.teammates.get("Rex") == stored
        assert uow.teammates.get(stored.id or 0) == stored
        assert uow.teammates.list() == [stored]


def test_teammate_names_are_unique(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.teammates.add(Teammate(name="Ada"))
        with pytest.raises(ConflictError, match="teammate named 'Ada'"):
            uow.teammates.add(Teammate(name="Ada"))


def _seq_and_contact(store: Store) -> tuple[int, int]:
    with store.unit_of_work() as uow:
        seq = uow.sequences.add(Sequence.new("Welcome"), T0)
        contact = uow.contacts.add(Contact(name="Ann", email="ann@example.com"))
    assert seq.id is not None
    assert contact.id is not None
    return seq.id, contact.id


def test_enrollment_round_trips(store: Store) -> None:
    seq_id, contact_id = _seq_and_contact(store)
    with store.unit_of_work() as uow:
        enrollment = uow.enrollments.add(seq_id, contact_id, T0, current_step_id="s1",
                                         next_due_at=at(5))
    with store.unit_of_work() as uow:
        assert uow.enrollments.get(enrollment.id or 0) == enrollment
    assert enrollment.status is EnrollmentStatus.ACTIVE
    assert enrollment.next_due_at == at(5)


def test_enrolling_twice_is_refused_and_changes_nothing(store: Store) -> None:
    seq_id, contact_id = _seq_and_contact(store)
    with store.unit_of_work() as uow:
        first = uow.enrollments.add(seq_id, contact_id, T0)

    def enroll_again() -> None:
        with store.unit_of_work() as uow:
            uow.events.append_raw("contact.enrolled", at(1), {})
            uow.enrollments.add(seq_id, contact_id, at(1))

    with pytest.raises(
        DuplicateEnrollmentError,
        match=r"'ann@example\.com' \(id 1\) is already enrolled in sequence 'Welcome'",
    ):
        enroll_again()
    with store.unit_of_work() as uow:
        assert uow.enrollments.list() == [first]
        assert uow.events.count() == 0


def test_enrolling_into_a_missing_sequence_is_refused_and_changes_nothing(store: Store) -> None:
    _, contact_id = _seq_and_contact(store)

    def add_and_enroll() -> None:
        with store.unit_of_work() as uow:
            uow.contacts.add(Contact(name="Bob", email="bob@example.com"))
            uow.enrollments.add(99, contact_id, T0)

    with pytest.raises(NotFoundError, match=r"into sequence 99: no such sequence"):
        add_and_enroll()
    with store.unit_of_work() as uow:
        assert uow.enrollments.list() == []
        assert [c.email for c in uow.contacts.list()] == ["ann@example.com"]


def test_enrolling_a_missing_contact_is_not_found(store: Store) -> None:
    seq_id, _ = _seq_and_contact(store)
    with store.unit_of_work() as uow, pytest.raises(NotFoundError, match="no such contact"):
        uow.enrollments.add(seq_id, 77, T0)


def test_caught_enrollment_error_keeps_earlier_writes_of_the_unit(store: Store) -> None:
    seq_id, contact_id = _seq_and_contact(store)
    with store.unit_of_work() as uow:
        uow.enrollments.add(seq_id, contact_id, T0)
        with pytest.raises(DuplicateEnrollmentError):
            uow.enrollments.add(seq_id, contact_id, T0)
    with store.unit_of_work() as uow:
        assert len(uow.enrollments.list()) == 1


def test_enrollment_update_changes_only_the_fields_given(store: Store) -> None:
    seq_id, contact_id = _seq_and_contact(store)
    with store.unit_of_work() as uow:
        enrollment = uow.enrollments.add(seq_id, contact_id, T0, current_step_id="s1")
        uow.enrollments.update(enrollment.id or 0, status="paused", paused_at=at(30))
    with store.unit_of_work() as uow:
        loaded = uow.enrollments.get(enrollment.id or 0)
    assert loaded.status is EnrollmentStatus.PAUSED
    assert loaded.paused_at == at(30)
    assert loaded.current_step_id == "s1"


def test_enrollment_update_rejects_unknown_fields(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(TypeError, match="cannot change contact_id"):
        uow.enrollments.update(1, contact_id=3)


def test_enrollment_update_of_a_missing_enrollment_is_not_found(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(NotFoundError, match="enrollment 5"):
        uow.enrollments.update(5, status="ended")


def test_enrollments_filter_by_sequence_contact_and_status(store: Store) -> None:
    seq_id, contact_id = _seq_and_contact(store)
    with store.unit_of_work() as uow:
        other = uow.contacts.add(Contact(name="Bob", email="bob@example.com"))
        first = uow.enrollments.add(seq_id, contact_id, T0)
        second = uow.enrollments.add(seq_id, other.id or 0, T0)
        uow.enrollments.update(second.id or 0, status=EnrollmentStatus.COMPLETED)
        assert [e.id for e in uow.enrollments.list(sequence_id=seq_id)] == [first.id, second.id]
        assert [e.id for e in uow.enrollments.list(contact_id=other.id)] == [second.id]
        assert [e.id for e in uow.enrollments.list(status="active")] == [first.id]


def test_many_enrollment_updates_at_once_and_reads_are_fresh(store: Store) -> None:
    with store.unit_of_work() as uow:
        seq = uow.sequences.add(Sequence.new("Bulk"), T0)
        assert seq.id is not None
        ids = []
        for n in range(3):
            contact = uow.contacts.add(Contact(name=f"P {n}", email=f"p{n}@example.com"))
            assert contact.id is not None
            ids.append(uow.enrollments.add(seq.id, contact.id, T0, current_step_id="s1").id)
        assert uow.enrollments.get(ids[0]).current_step_id == "s1"
        uow.enrollments.update_many({
            ids[0]: {"current_step_id": "s2", "next_due_at": T0},
            ids[1]: {"current_step_id": "s3", "next_due_at": T0},
            ids[2]: {"status": "paused", "paused_at": T0},
        })
        assert uow.enrollments.get(ids[0]).current_step_id == "s2"
        uow.enrollments.update(ids[0], current_step_id="s3")
        assert uow.enrollments.get(ids[0]).current_step_id == "s3"
    with store.unit_of_work() as uow:
        got = [uow.enrollments.get(i) for i in ids]
        assert [e.current_step_id for e in got] == ["s3", "s3", "s1"]
        assert got[2].status.value == "paused"
        with pytest.raises(NotFoundError, match="do not exist"):
            uow.enrollments.update_many({999: {"current_step_id": "s2"}})
        with pytest.raises(TypeError, match="cannot change contact_id"):
            uow.enrollments.update_many({ids[0]: {"contact_id": 3}})


def test_many_contacts_at_once_keep_their_order_and_refuse_clashes(store: Store) -> None:
    with store.unit_of_work() as uow:
        added = uow.contacts.add_many(
            Contact(name=f"P {n}", email=f"p{n}@example.com") for n in range(3))
        assert [c.email for c in added] == ["p0@example.com", "p1@example.com", "p2@example.com"]
        assert [uow.contacts.get(c.email).id for c in added] == [c.id for c in added]
        with pytest.raises(ConflictError, match=r"'p1@example\.com' already exist"):
            uow.contacts.add_many([Contact(name="X", email="x@example.com"),
                              Contact(name="Y", email="p1@example.com")])
        with pytest.raises(ConflictError, match="given more than once"):
            uow.contacts.add_many([Contact(name="Z", email="z@example.com")] * 2)
        assert len(uow.contacts.list()) == 3


def test_an_enrollment_that_has_not_started_can_be_removed(store: Store) -> None:
    seq_id, contact_id = _seq_and_contact(store)
    with store.unit_of_work() as uow:
        enrollment = uow.enrollments.add(seq_id, contact_id, T0, current_step_id="s1")
    with store.unit_of_work() as uow:
        uow.enrollments.remove(enrollment.id or 0)
    with store.unit_of_work() as uow:
        assert uow.enrollments.list() == []
        with pytest.raises(NotFoundError, match="enrollment 1 does not exist"):
            uow.enrollments.remove(enrollment.id or 0)
        again = uow.enrollments.add(seq_id, contact_id, at(1))  # enroll again
        assert again.contact_id == contact_id


def test_a_started_enrollment_is_not_removed(store: Store) -> None:
    with store.unit_of_work() as uow:
        made = world(uow)  # a task of step s1 refers to the enrollment
    with store.unit_of_work() as uow, pytest.raises(
        ConflictError, match=r"has started \(1 tasks refer to it.*`teamsim seq end SEQUENCE EMAIL`"
    ):
        uow.enrollments.remove(made.enrollment_id)
    with store.unit_of_work() as uow:
        assert [e.id for e in uow.enrollments.list()] == [made.enrollment_id]


def test_an_enrollment_with_events_is_not_removed(store: Store) -> None:
    seq_id, contact_id = _seq_and_contact(store)
    with store.unit_of_work() as uow:
        enrollment = uow.enrollments.add(seq_id, contact_id, T0, current_step_id="s1")
        uow.events.append_raw("contact.enrolled", T0, {}, enrollment_id=enrollment.id)
    with store.unit_of_work() as uow, pytest.raises(ConflictError, match=r"1 events refer to it"):
        uow.enrollments.remove(enrollment.id or 0)


def test_enrolling_twice_names_the_commands_that_help(store: Store) -> None:
    seq_id, contact_id = _seq_and_contact(store)
    with store.unit_of_work() as uow:
        first = uow.enrollments.add(seq_id, contact_id, T0)
        uow.enrollments.update(first.id or 0, status=EnrollmentStatus.PAUSED, paused_at=T0)
    with store.unit_of_work() as uow:
        with pytest.raises(DuplicateEnrollmentError,
                           match=r"`teamsim seq resume Welcome ann@example\.com`"):
            uow.enrollments.add(seq_id, contact_id, T0)
        uow.enrollments.update(first.id or 0, status=EnrollmentStatus.COMPLETED)
        with pytest.raises(DuplicateEnrollmentError, match=r"`teamsim seq new NAME`"):
            uow.enrollments.add(seq_id, contact_id, T0)


def test_two_writers_adding_one_email_get_a_conflict_not_a_crash(store_url: str) -> None:
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with Store.open(store_url) as other, other.unit_of_work() as uow:
                uow.contacts.add(Contact(name="Ann too", email="ann@example.com"))
        except BaseException as err:  # the test inspects what was raised
            errors.append(err)

    with Store.open(store_url) as store:
        with store.unit_of_work() as uow:
            uow.contacts.add(Contact(name="Ann", email="ann@example.com"))
            thread = threading.Thread(target=second_writer)
            thread.start()  # it checks the email (not there yet) and waits to insert
            thread.join(timeout=0.5)
        thread.join(timeout=20)
        assert not thread.is_alive()
        [error] = errors
        assert isinstance(error, ConflictError), repr(error)
        assert "'ann@example.com'" in str(error)
        with store.unit_of_work() as uow:
            assert [c.name for c in uow.contacts.list()] == ["Ann"]
