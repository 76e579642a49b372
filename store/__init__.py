"""teamsim.store: the persistence layer.

Open a database with :meth:`Store.open` and read and write through a
:class:`UnitOfWork` (``with store.unit_of_work() as uow: ...``). SQLite by default, any
SQLAlchemy URL (PostgreSQL through psycopg 3) otherwise. Reads return :mod:`teamsim.model.domain`
models or the frozen records defined here; the event log is ``uow.events``.
"""

from teamsim.model import EventRecord
from teamsim.store._events import EventLog, canonical_line, events_digest
from teamsim.store._records import (
    AttentionItem,
    AttentionKind,
    AttentionStatus,
    DecidedBy,
    DecisionAction,
    DecisionRecord,
    DraftRecord,
    Engagement,
    MessageRecord,
    MessageStatus,
    ReplyKind,
    ReplyRecord,
    ReviewRecord,
    TaskKind,
    TaskRecord,
)
from teamsim.store._store import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE,
    SCHEMA_VERSION,
    Store,
)
from teamsim.store._uow import UnitOfWork

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE",
    "SCHEMA_VERSION",
    "AttentionItem",
    "AttentionKind",
    "AttentionStatus",
    "DecidedBy",
    "DecisionAction",
    "DecisionRecord",
    "DraftRecord",
    "Engagement",
    "EventLog",
    "EventRecord",
    "MessageRecord",
    "MessageStatus",
    "ReplyKind",
    "ReplyRecord",
    "ReviewRecord",
    "Store",
    "TaskKind",
    "TaskRecord",
    "UnitOfWork",
    "canonical_line",
    "events_digest",
]
