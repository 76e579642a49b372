"""Any series of toolbar operations keeps a stored sequence valid and every version readable.

A Hypothesis state machine drives the Workspace (add, move, remove, label, set, activate,
pause, and enroll/resume/end/unenroll) with good and bad arguments alike, and applies the same
edit to its own copy of the sequence through the domain model. After every operation: the
workspace and the copy agree (a refused edit is refused by both and saves nothing), the stored
sequence re-validates, step ids are unique and never reused, and every saved version reads back
exactly as it was saved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from teamsim.model import (
    ConflictError,
    Contact,
    EnrollmentStatus,
    Sequence,
    SequenceStatus,
    TeamsimError,
    channels,
)
from teamsim.store import Store
from teamsim.workspace import Workspace

from .test_workspace import Ticking

NAME = "Welcome"
EMAILS = ("ada@example.com", "bob@example.com")
CHANNELS = [*channels(), "pigeon"]
WAITS = st.one_of(
    st.floats(min_value=0, max_value=30, allow_nan=False),
    st.sampled_from([-1.0, 4000.0, 1e300, float("inf"), float("nan")]),
)
LABELS = st.text(min_size=0, max_size=12)


class SequenceEditing(RuleBasedStateMachine):
    """The toolbar against a model: a copy of the sequence edited through the domain model."""

    def __init__(self) -> None:
        super().__init__()
        self.store = Store.open("sqlite://")
        self.ws = Workspace(self.store, clock=Ticking())
        self.expected = self.ws.new_sequence(NAME)
        self.saved: dict[int, Sequence] = {1: self.expected}
        self.ids_ever = {s.id for s in self.expected.iter_steps()}
        self.people: dict[str, EnrollmentStatus | None] = dict.fromkeys(EMAILS)

    def teardown(self) -> None:
        try:
            versions = self.ws.versions(NAME)  # all of them, once (the invariant reads the last)
            assert [v.version for v in versions] == sorted(self.saved)
            for saved in versions:
                assert saved.sequence == self.saved[saved.version]
        finally:
            self.store.close()

    # -- the oracle ---------------------------------------------------------------------------

    def edit(self, action: Callable[[Workspace], Any], same: Callable[[Sequence], Any]) -> None:
        """Run ``action`` on the workspace and ``same`` on a copy of the expected sequence;
        both succeed alike or both refuse alike (and then nothing is saved)."""
        copy = self.expected.model_copy(deep=True)
        try:
            same(copy)
            wanted: type[Exception] | None = None
        except TeamsimError as err:
            wanted = type(err)
        try:
            action(self.ws)
            got: type[Exception] | None = None
        except TeamsimError as err:
            got = type(err)
        assert got is wanted
        current = self.ws.sequence(NAME)
        if wanted is not None:
            assert current == self.expected
            return
        assert current.version == self.expected.version + 1
        assert current.model_dump(exclude={"version"}) == copy.model_dump(exclude={"version"})
        new_ids = {s.id for s in current.iter_steps()} - {s.id for s in self.expected.iter_steps()}
        assert not new_ids & self.ids_ever, "a step id was used again"
        self.ids_ever |= new_ids
        self.expected = current
        self.saved[current.version] = current

    def step_id(self, data: st.DataObject) -> str:
        ids = [s.id for s in self.expected.iter_steps()]
        return data.draw(st.sampled_from([*ids, "s99"]) if ids else st.just("s99"))

    # -- the toolbar --------------------------------------------------------------------------

    @rule(channel=st.sampled_from(CHANNELS), label=LABELS, data=st.data(),
          position=st.none() | st.integers(-1, 6))
    def add_message(self, channel: str, label: str, data: st.DataObject,
                    position: int | None) -> None:
        parent = data.draw(st.none() | st.just(self.step_id(data)))
        where: dict[str, Any] = {"position": position, "parent": parent}
        self.edit(lambda ws: ws.add_message(NAME, channel, label, **where),
                  lambda seq: seq.add_message(channel, label, **where))

    @rule(days=WAITS, hours=WAITS, label=LABELS, position=st.none() | st.integers(-1, 6))
    def add_wait(self, days: float, hours: float, label: str, position: int | None) -> None:
        self.edit(lambda ws: ws.add_wait(NAME, days, hours, label, position=position),
                  lambda seq: seq.add_wait(days, hours, label, position=position))

    @rule(data=st.data(), engaged=st.booleans())
    def add_branch(self, data: st.DataObject, engaged: bool) -> None:
        condition: dict[str, Any] = (
            {"kind": "engagement", "step_id": self.step_id(data), "event": "opened"} if engaged
            else {"kind": "attribute", "field": "company", "op": "equals", "value": "Acme"})
        self.edit(lambda ws: ws.add_branch(NAME, condition),
                  lambda seq: seq.add_branch(condition))

    @rule(data=st.data(), to=st.integers(-1, 6))
    def move(self, data: st.DataObject, to: int) -> None:
        step = self.step_id(data)
        self.edit(lambda ws: ws.move_step(NAME, step, to), lambda seq: seq.move_step(step, to))

    @rule(data=st.data(), up=st.booleans())
    def move_one(self, data: st.DataObject, up: bool) -> None:
        step = self.step_id(data)
        if up:
            self.edit(lambda ws: ws.move_up(NAME, step), lambda seq: seq.move_up(step))
        else:
            self.edit(lambda ws: ws.move_down(NAME, step), lambda seq: seq.move_down(step))

    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        step = self.step_id(data)
        self.edit(lambda ws: ws.remove_step(NAME, step), lambda seq: seq.remove_step(step))

    @rule(data=st.data(), label=LABELS)
    def label(self, data: st.DataObject, label: str) -> None:
        step = self.step_id(data)
        self.edit(lambda ws: ws.label_step(NAME, step, label),
                  lambda seq: seq.label_step(step, label))

    @rule(data=st.data(), days=WAITS, hours=WAITS)
    def set_wait(self, data: st.DataObject, days: float, hours: float) -> None:
        step = self.step_id(data)
        self.edit(lambda ws: ws.set_wait(NAME, step, days, hours),
                  lambda seq: seq.set_wait(step, days, hours))

    @rule(data=st.data(), channel=st.sampled_from(CHANNELS))
    def set_channel(self, data: st.DataObject, channel: str) -> None:
        step = self.step_id(data)
        self.edit(lambda ws: ws.set_channel(NAME, step, channel),
                  lambda seq: seq.set_channel(step, channel))

    @rule()
    def activate(self) -> None:
        def same(seq: Sequence) -> None:
            seq.check_activatable()
            seq.status = SequenceStatus.ACTIVE

        self.edit(lambda ws: ws.activate(NAME), same)

    @rule()
    def pause(self) -> None:
        def same(seq: Sequence) -> None:
            if seq.status is not SequenceStatus.ACTIVE:
                raise ConflictError("not active")
            seq.status = SequenceStatus.PAUSED

        self.edit(lambda ws: ws.pause(NAME), same)

    # -- the people on it ---------------------------------------------------------------------

    @rule(email=st.sampled_from(EMAILS))
    def enroll(self, email: str) -> None:
        before = self.people[email]
        try:
            self.ws.enroll(NAME, Contact(name="Someone", email=email))
        except ConflictError:
            assert before is not None
            return
        assert before is None
        self.people[email] = EnrollmentStatus.ACTIVE

    @rule(email=st.sampled_from(EMAILS), action=st.sampled_from(["resume", "end", "unenroll"]))
    def change_enrollment(self, email: str, action: str) -> None:
        before = self.people[email]
        allowed = {"resume": before is EnrollmentStatus.PAUSED,
                   "end": before in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED),
                   "unenroll": before is not None}[action]
        try:
            getattr(self.ws, action)(NAME, email)
        except TeamsimError:
            assert not allowed
            return
        assert allowed
        self.people[email] = {"resume": EnrollmentStatus.ACTIVE, "end": EnrollmentStatus.ENDED,
                              "unenroll": None}[action]

    @precondition(lambda self: self.people[EMAILS[0]] is EnrollmentStatus.ACTIVE)
    @rule()
    def reply_pauses(self) -> None:
        """What a reply does to a person (the simulator's doing, not the toolbar's)."""
        with self.store.unit_of_work() as uow:
            [enrollment] = uow.enrollments.list(
                contact_id=uow.contacts.get(EMAILS[0]).id, sequence_id=self.expected.id)
            uow.enrollments.update(enrollment.id or 0, status=EnrollmentStatus.PAUSED)
        self.people[EMAILS[0]] = EnrollmentStatus.PAUSED

    # -- what always holds --------------------------------------------------------------------

    @invariant()
    def stored_sequence_is_valid(self) -> None:
        current = self.ws.sequence(NAME)
        assert current == self.expected
        assert Sequence.model_validate(current.model_dump()) == current
        ids = [s.id for s in current.iter_steps()]
        assert len(ids) == len(set(ids))

    @invariant()
    def the_last_version_reads_back_as_saved(self) -> None:
        with self.store.unit_of_work() as uow:
            last = uow.sequences.version(self.expected.id or 0, self.expected.version)
        assert last.sequence == self.saved[self.expected.version] == self.expected

    @invariant()
    def enrollments_are_as_expected(self) -> None:
        stored = {contact.email: e.status for e, contact in self.ws.enrollments(NAME)}
        assert stored == {k: v for k, v in self.people.items() if v is not None}


SequenceEditing.TestCase.settings = settings(
    SequenceEditing.TestCase.settings, max_examples=50, stateful_step_count=30, deadline=None
)
test_sequence_editing = SequenceEditing.TestCase
