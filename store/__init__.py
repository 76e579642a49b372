"""teamsim.store: the persistence layer.

Open a database with :meth:`Store.open` and read and write through a
:class:`UnitOfWork` (``with store.unit_of_work() as uow: ...``). SQLite by default, any
SQLAlchemy URL (PostgreSQL through psycopg 3) otherwise. The unit of work is the transaction;
its data hangs off it in repositories: ``uow.sequences``, ``uow.contacts``,
``uow.enrollments``, ``uow.teammates``, ``uow.rules``, ``uow.tasks``, ``uow.drafts``,
``uow.attention``, ``uow.messages``, ``uow.replies``, ``uow.events`` (the event log),
``uow.meta`` and ``uow.runs`` (the runs recorded in the database, each with its own rows).
Reads return :mod:`teamsim.model` models or the frozen records defined here.
"""

from teamsim.model import EventRecord
from teamsim.model import public_home as _public_home
from teamsim.store._attention import AttentionRepository
from teamsim.store._contacts import ContactRepository
from teamsim.store._drafts import DraftRepository
from teamsim.store._enrollments import EnrollmentRepository
from teamsim.store._event_view import StoredEvents
from teamsim.store._events import EventLog, canonical_line, events_digest
from teamsim.store._messages import MessageRepository
from teamsim.store._meta import MetaRepository
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
from teamsim.store._replies import ReplyRepository
from teamsim.store._rules import RuleRepository
from teamsim.store._runs import NewRun, RunRecord, RunRepository, RunStatus, StopRecord
from teamsim.store._sequences import SequenceRepository
from teamsim.store._store import DATABASE_URL_ENV, DEFAULT_DATABASE, SCHEMA_VERSION, Store
from teamsim.store._tasks import TaskRepository
from teamsim.store._teammates import TeammateRepository
from teamsim.store._uow import UnitOfWork
from teamsim.store._urls import absolute_url, mask_secrets, mask_url, parse_url

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE",
    "SCHEMA_VERSION",
    "AttentionItem",
    "AttentionKind",
    "AttentionRepository",
    "AttentionStatus",
    "ContactRepository",
    "DecidedBy",
    "DecisionAction",
    "DecisionRecord",
    "DraftRecord",
    "DraftRepository",
    "Engagement",
    "EnrollmentRepository",
    "EventLog",
    "EventRecord",
    "MessageRecord",
    "MessageRepository",
    "MessageStatus",
    "MetaRepository",
    "NewRun",
    "ReplyKind",
    "ReplyRecord",
    "ReplyRepository",
    "ReviewRecord",
    "RuleRepository",
    "RunRecord",
    "RunRepository",
    "RunStatus",
    "SequenceRepository",
    "StopRecord",
    "Store",
    "StoredEvents",
    "TaskKind",
    "TaskRecord",
    "TaskRepository",
    "TeammateRepository",
    "UnitOfWork",
    "absolute_url",
    "canonical_line",
    "events_digest",
    "mask_secrets",
    "mask_url",
    "parse_url",
]

_public_home(__name__, globals())
