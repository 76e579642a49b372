"""The unit of work: one transaction, and the repositories that read and write in it.

Every read and write of teamsim goes through a unit of work; no other layer writes SQL.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from teamsim.store._attention import AttentionRepository
from teamsim.store._contacts import ContactRepository
from teamsim.store._drafts import DraftRepository
from teamsim.store._enrollments import EnrollmentRepository
from teamsim.store._events import EventLog
from teamsim.store._messages import MessageRepository
from teamsim.store._meta import MetaRepository
from teamsim.store._pending import WriteBehind
from teamsim.store._replies import ReplyRepository
from teamsim.store._rules import RuleRepository
from teamsim.store._runs import RunRepository
from teamsim.store._sequences import SequenceRepository
from teamsim.store._tasks import TaskRepository
from teamsim.store._teammates import TeammateRepository

__all__ = ["UnitOfWork"]


class UnitOfWork:
    """One transaction's worth of reads and writes; commits on success, rolls back on error.

    ``with store.unit_of_work() as uow: ...`` commits when the block ends normally and rolls
    back (changing nothing) when it raises. A long run may keep one unit of work open and call
    :meth:`commit` from time to time.

    The unit of work owns the transaction; the data hangs off it in repositories, one per
    kind of record: :attr:`sequences`, :attr:`contacts`, :attr:`enrollments`,
    :attr:`teammates`, :attr:`rules`, :attr:`tasks`, :attr:`drafts` (with their reviews and
    decisions), :attr:`attention`, :attr:`messages`, :attr:`replies`, :attr:`events`,
    :attr:`meta` and :attr:`runs` (the runs recorded in the database): ``uow.tasks.add(...)``,
    ``uow.messages.thread(...)``.

    Writes to the pipeline tables (tasks, drafts, reviews, attention items, decisions,
    messages, replies) are write-behind, like the event log: the id is given at once from a
    per-table counter, the row is buffered, and the buffer is written with one executemany
    ``INSERT`` per table, parents first, at :meth:`flush`, :meth:`commit`, when a read needs
    the database to see it, or every 10,000 rows. Reads see buffered rows and buffered changes
    exactly as if they had been written. The API checks the usual conflicts (one message per
    task, resolving a closed attention item, delivering a message that is not queued, a
    thread id taken in this unit of work) when called; what only the database can check (a
    reference to a row that does not exist) raises
    :class:`~teamsim.model.errors.ConflictError` at the flush, and the unit of work should
    then be rolled back.
    """

    def __init__(self, session: Session, *, where: str = "the database") -> None:
        """Wrap ``session``; ``where`` names the database in error messages."""
        self._session = session
        self._where = where
        self._pending = pending = WriteBehind(session, where=where)
        self.events = EventLog(session)
        """The append-only event log (see :class:`~teamsim.store.EventLog`)."""
        self.meta = MetaRepository(session, where=where)
        """The meta table: the run's :class:`~teamsim.model.RunMeta` and other facts."""
        self.sequences = SequenceRepository(session, pending, where=where)
        """Sequences and their versions."""
        self.contacts = ContactRepository(session, pending, where=where)
        """Contacts."""
        self.enrollments = EnrollmentRepository(session, pending, where=where, flush=self.flush)
        """Contacts on sequences."""
        self.teammates = TeammateRepository(session, pending, where=where)
        """The AI teammates."""
        self.rules = RuleRepository(session, pending, where=where)
        """Auto-approve rules."""
        self.tasks = TaskRepository(session, pending, where=where)
        """Pipeline tasks."""
        self.drafts = DraftRepository(session, pending, where=where)
        """Drafts, their reviews and the decisions on them."""
        self.attention = AttentionRepository(session, pending, where=where)
        """The Needs attention queue."""
        self.messages = MessageRepository(session, pending, where=where)
        """Messages and their delivery."""
        self.replies = ReplyRepository(session, pending, where=where)
        """What came back from contacts."""
        self.runs = RunRepository(session, where=where)
        """The runs recorded in the database, their metrics and their rows."""

    def __enter__(self) -> Self:
        """Return the unit of work itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Commit if the block ended normally, else roll back; then close."""
        try:
            if exc_type is None:
                try:
                    self.commit()
                except BaseException:
                    self.rollback()
                    raise
            else:
                self.rollback()
        finally:
            self.close()

    @property
    def pending(self) -> int:
        """How many pipeline rows are buffered, not yet written (events not counted)."""
        return self._pending.pending

    def flush(self) -> None:
        """Send pending writes (buffered rows and events included) without committing.

        Raises:
            ConflictError: the database refused buffered rows; roll back.
        """
        self._session.flush()
        self._pending.flush()
        self.events.flush()

    def connection(self) -> Connection:
        """The transaction's connection, pending writes sent (for copying a run's rows)."""
        self.flush()
        return self._session.connection()

    def commit(self) -> None:
        """Make everything written so far durable; the unit of work stays usable."""
        self._pending.flush()
        self.events.flush()
        self._session.commit()

    def rollback(self) -> None:
        """Undo everything since the last commit, buffered rows and events included."""
        self._session.rollback()
        self._pending.discard()
        self.events.discard()

    def close(self) -> None:
        """Release the connection; uncommitted writes are discarded."""
        self._pending.discard()
        self.events.discard()
        self._session.close()
