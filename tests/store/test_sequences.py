"""Sequences: stored as a JSON step tree, every save recorded as a version."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from teamsim.model import (
    BranchStep,
    ConflictError,
    NotFoundError,
    SendWindow,
    Sequence,
    SequenceStatus,
    StaleVersionError,
    StoreError,
    ValidationError,
)
from teamsim.store import Store
from teamsim.store import _store as store_module

from ._helpers import T0, at


def _rich_sequence() -> Sequence:
    seq = Sequence.new("Welcome new renovation leads", "Leads from the fair")
    seq.add_branch({"kind": "engagement", "step_id": "s1", "event": "opened", "within_days": 2})
    seq.add_email("Thanks for reading", parent="s4", brief="Thank them")
    seq.send_window = SendWindow(weekdays=[0, 2], start="08:30", end="12:00")
    seq.daily_cap_per_teammate = 40
    return seq


def test_sequence_round_trips_with_its_step_tree(store: Store) -> None:
    original = _rich_sequence()
    with store.unit_of_work() as uow:
        stored = uow.sequences.add(original, T0)
    with store.unit_of_work() as uow:
        loaded = uow.sequences.get(stored.id or 0)
    assert loaded == stored
    assert loaded.model_dump(exclude={"id", "version"}) == original.model_dump(
        exclude={"id", "version"}
    )
    assert isinstance(loaded.steps[3], BranchStep)


def test_added_sequence_gets_an_id_and_version_one(store: Store) -> None:
    with store.unit_of_work() as uow:
        stored = uow.sequences.add(Sequence.new("Welcome"), T0)
    assert stored.id is not None
    assert stored.version == 1


def test_sequence_is_found_by_name(store: Store) -> None:
    with store.unit_of_work() as uow:
        stored = uow.sequences.add(Sequence.new("Welcome"), T0)
        assert uow.sequences.get("Welcome") == stored


def test_every_save_records_a_readable_version(store: Store) -> None:
    with store.unit_of_work() as uow:
        seq = uow.sequences.add(Sequence.new("Welcome"), T0)
        seq.add_wait(days=2)
        seq = uow.sequences.save(seq, at(10))
        seq.status = SequenceStatus.ACTIVE
        seq = uow.sequences.save(seq, at(20))
        assert seq.id is not None
        versions = uow.sequences.versions(seq.id)
        assert [v.version for v in versions] == [1, 2, 3]
        assert [v.saved_at for v in versions] == [T0, at(10), at(20)]
        assert [len(v.sequence.steps) for v in versions] == [3, 4, 4]
        assert uow.sequences.version(seq.id, 1).sequence.status is SequenceStatus.DRAFT
        assert uow.sequences.get(seq.id).version == 3


def test_missing_version_is_not_found(store: Store) -> None:
    with store.unit_of_work() as uow:
        seq = uow.sequences.add(Sequence.new("Welcome"), T0)
        with pytest.raises(NotFoundError, match="sequence 1 has no version 7"):
            uow.sequences.version(seq.id or 0, 7)


def test_sequence_names_are_unique(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.sequences.add(Sequence.new("Welcome"), T0)
        with pytest.raises(ConflictError, match="sequence named 'Welcome' already exists"):
            uow.sequences.add(Sequence.new("Welcome"), T0)


def test_renaming_onto_another_sequence_is_refused(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.sequences.add(Sequence.new("Welcome"), T0)
        second = uow.sequences.add(Sequence.new("Nurture"), T0)
        second.name = "Welcome"
        with pytest.raises(ConflictError, match="'Welcome' already exists"):
            uow.sequences.save(second, at(1))


def test_invalid_sequence_is_not_saved(store: Store) -> None:
    with store.unit_of_work() as uow:
        seq = uow.sequences.add(Sequence.new("Welcome"), T0)
        broken = Sequence.model_construct(**{**seq.__dict__, "daily_cap_per_teammate": 0})
        with pytest.raises(ValidationError, match="daily_cap_per_teammate"):
            uow.sequences.save(broken, at(1))
        assert len(uow.sequences.versions(seq.id or 0)) == 1


def test_unknown_sequence_is_not_found(store: Store) -> None:
    with store.unit_of_work() as uow:
        with pytest.raises(NotFoundError, match="sequence 42 does not exist"):
            uow.sequences.get(42)
        with pytest.raises(NotFoundError, match="no sequence named 'Nope'"):
            uow.sequences.get("Nope")


def test_sequences_are_listed_in_creation_order(store: Store) -> None:
    with store.unit_of_work() as uow:
        for name in ("B", "A", "C"):
            uow.sequences.add(Sequence.new(name), T0)
        assert [s.name for s in uow.sequences.list()] == ["B", "A", "C"]


def test_stored_step_tree_is_a_json_document(store_url: str) -> None:
    with Store.open(store_url) as store, store.unit_of_work() as uow:
        uow.sequences.add(Sequence.new("Welcome"), T0)
    engine = create_engine(store_url)
    with engine.connect() as connection:
        document = connection.execute(text("SELECT document FROM sequences")).scalar_one()
    engine.dispose()
    if isinstance(document, str):  # SQLite hands JSON back as text, psycopg parses it
        document = json.loads(document)
    assert [step["label"] for step in document["steps"]] == ["Say hello", "Wait 3 days",
                                                             "Follow up"]


def test_saving_a_stale_version_is_refused_and_saves_nothing(store: Store) -> None:
    with store.unit_of_work() as uow:
        first = uow.sequences.add(Sequence.new("Welcome"), T0)
    mine, theirs = first.model_copy(deep=True), first.model_copy(deep=True)
    with store.unit_of_work() as uow:
        theirs.add_email("Theirs")
        uow.sequences.save(theirs, at(1))
    with store.unit_of_work() as uow:
        mine.add_email("Mine")
        with pytest.raises(StaleVersionError, match=r"since version 1 was read \(it is at "
                           r"version 2 now"):
            uow.sequences.save(mine, at(2))
    with store.unit_of_work() as uow:
        assert [s.label for s in uow.sequences.get("Welcome").steps][3:] == ["Theirs"]
        assert [v.version for v in uow.sequences.versions(first.id or 0)] == [1, 2]


def test_a_sequence_read_for_update_keeps_other_writers_waiting(store_url: str) -> None:
    with Store.open(store_url) as setup, setup.unit_of_work() as uow:
        uow.sequences.add(Sequence.new("Welcome"), T0)
    second_saw: list[int] = []

    def second_writer() -> None:
        with Store.open(store_url) as other, other.unit_of_work() as uow:
            seq = uow.sequences.get_for_update("Welcome")  # waits for the first writer
            second_saw.append(seq.version)
            seq.add_email("Second")
            uow.sequences.save(seq, at(2))

    with Store.open(store_url) as store:
        with store.unit_of_work() as uow:
            seq = uow.sequences.get_for_update("Welcome")
            thread = threading.Thread(target=second_writer)
            thread.start()
            thread.join(timeout=0.5)
            assert thread.is_alive()  # blocked behind our lock
            seq.add_email("First")
            uow.sequences.save(seq, at(1))
        thread.join(timeout=20)
        assert not thread.is_alive()
        assert second_saw == [2]  # it read what the first writer saved
        with store.unit_of_work() as uow:
            assert [s.label for s in uow.sequences.get("Welcome").steps][3:] == ["First", "Second"]


def test_reading_a_missing_sequence_for_update_names_the_list_command(store: Store) -> None:
    with store.unit_of_work() as uow:
        with pytest.raises(NotFoundError, match=r"no sequence named 'Nope'.*`teamsim seq list`"):
            uow.sequences.get_for_update("Nope")
        with pytest.raises(NotFoundError, match=r"sequence 7 does not exist.*`teamsim seq list`"):
            uow.sequences.get_for_update(7)


def test_a_stored_sequence_this_teamsim_refuses_is_a_store_error(store_url: str) -> None:
    with Store.open(store_url) as store, store.unit_of_work() as uow:
        uow.sequences.add(Sequence.new("Welcome"), T0)
    engine = create_engine(store_url)
    with engine.begin() as connection:  # as an older teamsim would have stored an endless wait
        document = connection.execute(text("SELECT document FROM sequences")).scalar_one()
        if isinstance(document, str):
            document = json.loads(document)
        document["steps"][1]["days"] = 1e300
        connection.execute(text("UPDATE sequences SET document = :d"),
                           {"d": json.dumps(document)})
    engine.dispose()
    with Store.open(store_url) as store, store.unit_of_work() as uow, pytest.raises(
        StoreError, match=r"stored sequence 1 version 1: steps\[1\]\.days: must be <= 3650"
    ):
        uow.sequences.get("Welcome")


def test_a_writer_that_cannot_get_the_sqlite_lock_in_time_gets_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "SQLITE_BUSY_TIMEOUT_MS", 100)
    path = tmp_path / "busy.db"
    with Store.open(path) as store, store.unit_of_work() as uow:
        uow.sequences.add(Sequence.new("Welcome"), T0)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    try:
        with Store.open(path) as store, store.unit_of_work() as uow, pytest.raises(
            StoreError, match=r"cannot lock .*busy\.db for writing \(database is locked\); "
            "nothing was changed"
        ):
            uow.sequences.get_for_update("Welcome")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.parametrize("sequence_id", [2**63, 10**30])
def test_an_id_no_row_can_have_is_no_sequence(store: Store, sequence_id: int) -> None:
    with store.unit_of_work() as uow, pytest.raises(NotFoundError, match=f"{sequence_id}"):
        uow.sequences.get(sequence_id)
