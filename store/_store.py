"""Opening a database (:class:`Store`) and working in it (:class:`UnitOfWork`).

Every read and write of teamsim goes through a unit of work; no other layer writes SQL.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeVar, cast

import pydantic
from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Select,
    Table,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import URL, Dialect, ExceptionContext
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    InternalError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.util import identity_key

from teamsim.model import (
    AutoApproveRule,
    ConflictError,
    Contact,
    DatabaseError,
    DuplicateEnrollmentError,
    Enrollment,
    EnrollmentStatus,
    NotFoundError,
    SchemaVersionError,
    Sequence,
    SequenceVersion,
    StaleVersionError,
    StoreError,
    Teammate,
    TeamsimError,
    ValidationError,
    format_errors,
)
from teamsim.store._events import EventLog
from teamsim.store._models import (
    AttentionRow,
    Base,
    ContactRow,
    DecisionRow,
    DraftRow,
    EnrollmentRow,
    EventRow,
    MessageRow,
    MetaRow,
    ReplyRow,
    ReviewRow,
    RuleRow,
    SequenceRow,
    SequenceVersionRow,
    TaskRow,
    TeammateRow,
)
from teamsim.store._pending import WriteBehind
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
    ReplyKind,
    ReplyRecord,
    ReviewRecord,
    TaskKind,
    TaskRecord,
)
from teamsim.store._types import require_utc
from teamsim.store._urls import mask_secrets, mask_url, parse_url

__all__ = ["DATABASE_URL_ENV", "DEFAULT_DATABASE", "SCHEMA_VERSION", "Store", "UnitOfWork"]

SCHEMA_VERSION: Final = 1
"""The version of the tables this teamsim writes; a database records the one it was made with."""
DATABASE_URL_ENV: Final = "TEAMSIM_DATABASE_URL"
"""Environment variable naming the database when :meth:`Store.open` gets none."""
DEFAULT_DATABASE: Final = "teamsim.db"
"""The SQLite file used when neither an argument nor the environment names a database."""

SQLITE_BUSY_TIMEOUT_MS: Final = 30_000
"""How long a SQLite connection waits for another writer's lock before giving up."""

_SCHEMA_KEY: Final = "schema_version"
_TASK_KINDS = frozenset({"step", "chat"})
_ATTENTION_KINDS = frozenset({"draft", "reply", "rule_suggestion"})
_ATTENTION_STATUSES = frozenset({"open", "resolved", "withdrawn"})
_ACTIONS = frozenset({"approve", "edit", "reject"})
_DECIDERS = frozenset({"human", "rule"})
_REPLY_KINDS = frozenset({"reply", "out_of_office", "bounce", "unsubscribe"})
_ENGAGEMENTS = frozenset({"opened", "clicked"})
_ENROLLMENT_FIELDS = frozenset(
    {"status", "current_step_id", "next_due_at", "paused_at", "ended_reason"}
)

_Row = TypeVar("_Row", bound=Base)
_NEVER = datetime.min.replace(tzinfo=UTC)

_TASKS = cast(Table, TaskRow.__table__)
_DRAFTS = cast(Table, DraftRow.__table__)
_REVIEWS = cast(Table, ReviewRow.__table__)
_ATTENTION = cast(Table, AttentionRow.__table__)
_DECISIONS = cast(Table, DecisionRow.__table__)
_MESSAGES = cast(Table, MessageRow.__table__)
_REPLIES = cast(Table, ReplyRow.__table__)

# Hot-path reads built once, with bound parameters, so SQLAlchemy compiles each one once.
_BY_ID: dict[type[Base], Select[Any]] = {
    model: select(table).where(table.c.id == bindparam("row_id_"))
    for model, table in (
        (TaskRow, _TASKS), (DraftRow, _DRAFTS), (ReviewRow, _REVIEWS),
        (AttentionRow, _ATTENTION), (DecisionRow, _DECISIONS), (MessageRow, _MESSAGES),
        (ReplyRow, _REPLIES),
    )
}
_OF_TASK: dict[type[Base], Select[Any]] = {
    model: select(table).where(table.c.task_id == bindparam("task_id")).order_by(table.c.id)
    for model, table in (
        (DraftRow, _DRAFTS), (ReviewRow, _REVIEWS), (DecisionRow, _DECISIONS),
        (MessageRow, _MESSAGES),
    )
}
_THREAD = (
    select(_MESSAGES)
    .join(_TASKS, _TASKS.c.id == _MESSAGES.c.task_id)
    .where(_MESSAGES.c.contact_id == bindparam("contact_id"), _MESSAGES.c.status == "sent")
    .order_by(_MESSAGES.c.sent_at, _MESSAGES.c.id)
)
_THREAD_IN_SEQUENCE = _THREAD.where(_TASKS.c.sequence_id == bindparam("sequence_id"))
_THREAD_IN_CHATS = _THREAD.where(_TASKS.c.sequence_id.is_(None))


class _Probe:
    """A ``SELECT`` compiled once for a dialect, to run on the DB-API cursor: its SQL, its
    parameters in the driver's order, and the values of its literal binds."""

    __slots__ = ("defaults", "names", "sql")

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names = list(compiled.positiontup or ()) if compiled.positional else None
        self.defaults = {name: bind.value for name, bind in compiled.binds.items()}

    def parameters(self, values: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **values}
        if self.names is None:
            return merged
        return tuple(merged[name] for name in self.names)


_PROBES: weakref.WeakKeyDictionary[Dialect, dict[Select[Any], _Probe]] = (
    weakref.WeakKeyDictionary())


def _one_of(value: str, allowed: frozenset[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(sorted(allowed))}; got {value!r}")
    return value


def _resolve_url(target: str | os.PathLike[str] | None) -> URL:
    if target is None:
        target = os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE
    return parse_url(target)


def _raise_store_errors(context: ExceptionContext) -> BaseException | None:
    """Turn a database failure in the middle of work (disk full, connection lost) into a
    :class:`DatabaseError` naming the real cause.

    SQLAlchemy's ``DBAPIError`` cannot be rebuilt from its ``args`` (its constructor takes
    the statement, the parameters and the driver's error), and SimPy re-raises a failed
    process's exception as ``type(err)(*err.args)``: a full disk during a run used to show as
    ``TypeError: DBAPIError.__init__() missing 2 required positional arguments``. Errors while
    connecting (no connection yet) and integrity errors are left to their callers; a write
    in a read-only store (PostgreSQL's ``InternalError``) is one of these too.
    """
    error = context.sqlalchemy_exception
    if context.connection is None or not isinstance(error, OperationalError | InternalError):
        return None
    original = context.original_exception
    reason = str(original).strip().splitlines()[0] if str(original).strip() else repr(original)
    url = context.engine.url if context.engine is not None else None
    if url is None:
        return DatabaseError(f"the database: {reason}", reason)
    reason = mask_secrets(reason, url)
    return DatabaseError(f"{mask_url(url)}: {reason}", reason)


class _NotPlain(Exception):
    """A value :func:`_plain_copy` leaves to the JSON round trip."""


_PLAIN_DEPTH: Final = 64


def _plain_copy(value: Any, depth: int) -> Any:
    """A fresh copy of plain JSON data (dicts with ``str`` keys, lists, tuples, ``str``,
    ``int``, ``bool``, finite ``float``, ``None``; exactly those types) as
    ``json.loads(json.dumps(value))`` would give it: containers copied, tuples turned into
    lists, scalars kept (immutable, and the round trip gives them back equal and of the same
    type). Anything else raises :class:`_NotPlain`."""
    kind = value.__class__
    if kind in _SCALARS:
        return value
    if kind is float:
        if value - value != 0.0:
            raise _NotPlain  # NaN and infinities: left to json, as before
        return value
    if depth > _PLAIN_DEPTH:
        raise _NotPlain  # deep (or circular) data: json's own checks apply
    if kind is dict:
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if key.__class__ is not str:
                raise _NotPlain  # json turns other keys into strings
            copied[key] = item if item.__class__ in _SCALARS else _plain_copy(item, depth + 1)
        return copied
    if kind is list or kind is tuple:
        return [item if item.__class__ in _SCALARS else _plain_copy(item, depth + 1)
                for item in value]
    raise _NotPlain


_SCALARS: Final = frozenset({str, int, bool, type(None)})
def _json_copy(value: dict[str, Any], what: str) -> dict[str, Any]:
    """``value`` as the database would give it back (a fresh copy; tuples become lists)."""
    try:
        # Plain data (the usual case) is copied structurally, with the same result as the
        # JSON round trip below and a fraction of its cost.
        plain: dict[str, Any] = _plain_copy(value, 0)
        return plain
    except _NotPlain:
        pass
    try:
        copied: dict[str, Any] = json.loads(json.dumps(value))
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what}: not JSON data ({err})") from None
    return copied


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Concurrent writers (two `teamsim seq` commands, say) wait for each other's write lock
    # instead of failing at once with "database is locked".
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # The write-behind buffer relies on foreign keys being enforced (see UnitOfWork._of_task).
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL + NORMAL keeps commits cheap for a simulator that commits often; a crash can lose
    # the last commits but never corrupts the file. (An in-memory database keeps its journal
    # in memory whatever is asked.)
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


class Store:
    """A teamsim database: open it, then work in it through units of work.

    Use :meth:`open`; the store is a context manager that closes itself.

    One writer per database: a unit of work numbers events and the rows of the pipeline
    tables (tasks, drafts, reviews, decisions, messages, replies, attention items) itself,
    from counters started at the largest stored id, and buffers those writes until it
    flushes. A second process writing the same database at the same time would collide on
    those ids and fail at flush (never interleave silently); readers are fine. Editing
    sequences and enrollments (:meth:`UnitOfWork.get_sequence_for_update`, then
    :meth:`UnitOfWork.save_sequence`) is safe from many processes at once.

    Durability: a commit is what is durable, and buffered writes only reach the database
    when the unit of work flushes or commits (the simulator commits once per simulated day).
    SQLite files run in WAL mode with ``synchronous=NORMAL`` and temporary tables in memory:
    a power cut or OS crash can lose the last commits but never corrupts the file; an
    application crash loses nothing committed. PostgreSQL keeps its server settings.
    """

    def __init__(self, engine: Engine, *, shown_url: str) -> None:
        """Wrap an engine whose schema was already checked; prefer :meth:`open`."""
        self._engine = engine
        self._shown_url = shown_url
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> Store:
        """Open (creating the tables if it is empty) the database at ``url``.

        Args:
            url: a file path (``./teamsim.db``, SQLite) or any SQLAlchemy URL, for example
                ``postgresql+psycopg://user@host:5432/db``. ``None`` means
                ``$TEAMSIM_DATABASE_URL``, or else ``./teamsim.db``.
            read_only: open an existing teamsim database for reading only: nothing is
                created, migrated or written (a SQLite file is opened with ``mode=ro`` and
                no journal-mode change; PostgreSQL transactions are read-only).

        Raises:
            StoreError: the URL is malformed, its driver is missing, or the database cannot
                be reached (or, read-only, does not exist or is empty).
            SchemaVersionError: the database was made by an incompatible teamsim, or is not a
                teamsim database.
        """
        resolved = _resolve_url(url)
        shown = mask_url(resolved)
        try:
            engine = (_read_only_engine(resolved, shown) if read_only
                      else create_engine(resolved))
        except (ArgumentError, NoSuchModuleError, ImportError, ValueError, TypeError) as err:
            raise StoreError(
                f"cannot use database URL {shown}: {mask_secrets(str(err), resolved)}; "
                "use sqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/dbname"
            ) from None
        if engine.dialect.name == "sqlite" and not read_only:
            event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "handle_error", _raise_store_errors)
        try:
            with engine.begin() as connection:
                _prepare_schema(connection, shown, create=not read_only)
        except (DBAPIError, DatabaseError) as err:
            engine.dispose()
            if isinstance(err, DBAPIError):
                reason = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
            else:
                reason = err.reason
            reason = mask_secrets(reason, resolved)
            raise DatabaseError(
                f"cannot open database {shown}: {reason}; check that the server is running "
                "and the URL (user, host, port, database name) is right, or that the file's "
                f"folder exists and is writable (set {DATABASE_URL_ENV} or pass a URL)",
                reason,
            ) from None
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, shown_url=shown)

    @property
    def url(self) -> str:
        """The database URL, password masked."""
        return self._shown_url

    @property
    def dialect(self) -> str:
        """The backend's name: ``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def unit_of_work(self) -> UnitOfWork:
        """Start a unit of work (one transaction at a time; use it as a context manager)."""
        return UnitOfWork(self._sessions(), where=self._shown_url)

    @contextmanager
    def single_transaction(self) -> Iterator[None]:
        """Make every unit of work started inside the block one database transaction,
        committed when the block ends normally and rolled back when it raises (or never
        committed at all when the process is killed).

        Inside, :meth:`UnitOfWork.commit` only sends the writes (the data stays invisible to
        other connections); reads in later units of work see them. One connection is held
        for the whole block: on SQLite that is the database's write lock.
        """
        with self._engine.connect() as connection:
            transaction = connection.begin()
            saved = self._sessions
            # rollback_only: a session's commit leaves the outer transaction open; its
            # rollback (an error) rolls the outer one back.
            self._sessions = sessionmaker(bind=connection, expire_on_commit=False,
                                          join_transaction_mode="rollback_only")
            try:
                yield
            except BaseException:
                if transaction.is_active:
                    transaction.rollback()
                raise
            else:
                if transaction.is_active:
                    transaction.commit()
            finally:
                self._sessions = saved

    @staticmethod
    def seal(path: str | os.PathLike[str]) -> None:
        """Fold a closed SQLite file's write-ahead log into it and switch it to a rollback
        journal, so that read-only readers need no ``-wal``/``-shm`` files beside it (a
        finished run's ``store.db``).

        Raises:
            DatabaseError: the file cannot be written (disk full...).
        """
        try:
            connection = sqlite3.connect(os.fspath(path))
            try:
                connection.execute("PRAGMA journal_mode=DELETE").fetchall()
            finally:
                connection.close()
        except sqlite3.Error as err:
            raise DatabaseError(f"{path}: {err}", str(err)) from None

    @staticmethod
    def remove_if_unused(path: str | os.PathLike[str]) -> bool:
        """Remove a SQLite file (and its ``-wal``, ``-shm`` and ``-journal`` files) made for
        a run that did not finish, unless it holds rows another process committed: only
        empty tables (and the ``meta`` table's own row) or none at all.

        The check and the removal happen under the file's exclusive lock; a file that is
        locked (in use) or unreadable is kept.

        Returns:
            Whether the file was removed.
        """
        try:
            connection = sqlite3.connect(os.fspath(path), timeout=0, isolation_level=None)
        except sqlite3.Error:
            return False
        try:
            connection.execute("BEGIN EXCLUSIVE")
            tables = [name for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                if table != MetaRow.__tablename__ and connection.execute(
                        f'SELECT 1 FROM "{table}" LIMIT 1').fetchone() is not None:
                    return False
            for suffix in ("", "-wal", "-shm", "-journal"):
                with suppress(OSError):
                    Path(f"{os.fspath(path)}{suffix}").unlink()
            return True
        except sqlite3.Error:
            return False
        finally:
            connection.close()

    def close(self) -> None:
        """Close every connection to the database."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        """Return the store itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()


def _read_only_engine(url: URL, shown: str) -> Engine:
    """An engine that can only read ``url``: SQLite through a ``mode=ro`` URI (the file must
    exist; no journal-mode change, so no -wal/-shm file appears beside a rollback-journal
    file), PostgreSQL with every transaction read-only."""
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:" or url.query.get("mode") == "memory":
            raise StoreError(f"cannot open {shown} read-only: it is an in-memory database")
        path = Path(database).expanduser().resolve()
        if not path.is_file():
            raise StoreError(f"cannot open database {shown} read-only: no such file; check "
                             "the path")
        uri = f"{path.as_uri()}?mode=ro"

        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            connection.execute("PRAGMA query_only=ON")
            return connection

        # The real URL (not "sqlite://"): a file pool rather than a per-thread singleton, and
        # errors that name the file.
        return create_engine(url, creator=connect)
    return create_engine(url, execution_options={"postgresql_readonly": True})


_SCHEMA_LOCK_KEY: Final = 0x7465616D73696D  # "teamsim": PostgreSQL's advisory lock for set-up


def _lock_for_set_up(connection: Connection) -> None:
    """Hold the database's set-up lock until the transaction ends, so that two processes
    opening a new database at once do not both create the tables (the second waits, then
    finds them). Taken only when the tables are missing: an existing database is opened
    without waiting for its writers."""
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK_KEY)))


def _prepare_schema(connection: Connection, shown: str, *, create: bool = True) -> None:
    tables = set(inspect(connection).get_table_names())
    if create and MetaRow.__tablename__ not in tables:
        _lock_for_set_up(connection)
        tables = set(inspect(connection).get_table_names())
    advice = (
        f"use a new database file or URL for this teamsim, or open this one with the teamsim "
        f"version that made it (this teamsim uses schema version {SCHEMA_VERSION})"
    )
    if MetaRow.__tablename__ in tables:
        found = connection.scalar(select(MetaRow.value).where(MetaRow.key == _SCHEMA_KEY))
        if found is None:
            raise SchemaVersionError(
                f"{shown}: the meta table records no schema_version, so teamsim cannot tell "
                f"which teamsim made it (expected {SCHEMA_VERSION}); {advice}"
            )
        if found != str(SCHEMA_VERSION):
            raise SchemaVersionError(
                f"{shown}: made with schema version {found}, this teamsim expects "
                f"{SCHEMA_VERSION}; nothing was changed. {advice[0].upper()}{advice[1:]}"
            )
        return
    if tables or not create:
        if not tables:
            raise SchemaVersionError(
                f"{shown}: holds no tables, so it is not a teamsim database; nothing was "
                "changed. Give the database a teamsim run was recorded in")
        listed = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise SchemaVersionError(
            f"{shown}: holds tables ({listed}) but no teamsim meta table, so it is not a "
            f"teamsim database (schema version found: none, expected {SCHEMA_VERSION}); "
            "nothing was changed. Use a new database file or URL for teamsim"
        )
    Base.metadata.create_all(connection)
    connection.execute(insert(MetaRow).values(key=_SCHEMA_KEY, value=str(SCHEMA_VERSION)))


class UnitOfWork:
    """One transaction's worth of reads and writes; commits on success, rolls back on error.

    ``with store.unit_of_work() as uow: ...`` commits when the block ends normally and rolls
    back (changing nothing) when it raises. A long run may keep one unit of work open and call
    :meth:`commit` from time to time.

    Writes to the pipeline tables (tasks, drafts, reviews, attention items, decisions,
    messages, replies) are write-behind, like the event log (:attr:`events`): the id is given
    at once from a per-table counter, the row is buffered, and the buffer is written with one
    executemany ``INSERT`` per table, parents first, at :meth:`flush`, :meth:`commit`, when a
    read needs the database to see it, or every 10,000 rows. Reads see buffered rows and
    buffered changes exactly as if they had been written. The API checks the usual conflicts
    (one message per task, resolving a closed attention item, delivering a message that is
    not queued, a thread id taken in this unit of work) when called;
    what only the database can check (a reference to a row that does not exist) raises
    :class:`~teamsim.model.errors.ConflictError` at the flush, and the unit of work should then be
    rolled back.
    """

    def __init__(self, session: Session, *, where: str = "the database") -> None:
        """Wrap ``session``; ``where`` names the database in error messages."""
        self._session = session
        self._where = where
        self._pending = WriteBehind(session, where=where)
        self.events = EventLog(session)
        """The append-only event log (see :class:`~teamsim.store.EventLog`)."""

    # -- transaction --------------------------------------------------------------------------

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

    # -- helpers ------------------------------------------------------------------------------

    def _insert(self, model: type[Base], values: dict[str, Any]) -> int:
        """Insert one row with a single ``INSERT ... RETURNING id`` (no ORM object, no re-read)."""
        # A Core INSERT on the table, values passed as parameters: SQLAlchemy compiles it once
        # per column set and caches it (an ORM insert with .values() is several times slower).
        table = cast(Table, model.__table__)
        return int(self._session.execute(
            insert(table).returning(table.c.id), values
        ).scalar_one())

    def _update(self, model: type[Base], row_id: int, values: dict[str, Any], *extra: Any) -> int:
        table = cast(Table, model.__table__)
        statement = update(table).where(table.c.id == bindparam("row_id_"), *extra).values(
            {name: bindparam(f"v_{name}") for name in values})
        parameters = {"row_id_": row_id, **{f"v_{k}": v for k, v in values.items()}}
        result = self._conn().execute(statement, parameters)
        return int(cast(CursorResult[Any], result).rowcount)

    def _conn(self) -> Connection:
        """The transaction's connection, for Core statements (no ORM identity-map work)."""
        return self._session.connection()

    def _load(self, model: type[Base], row_id: int, what: str) -> Mapping[str, Any]:
        """A pipeline row by id, buffered or written."""
        row = self._pending.tables[model].get(row_id)
        if row is not None:
            return row
        found = self._fetch(_BY_ID[model], {"row_id_": row_id})
        if not found:
            raise NotFoundError(f"{what} {row_id} does not exist in {self._where}")
        return found[0]

    def _fetch(
        self, statement: Select[Any], parameters: Mapping[str, Any] | None = None
    ) -> list[Mapping[str, Any]]:
        """The rows of a Core ``SELECT`` as mappings of column name to value."""
        rows = self._conn().execute(statement, parameters or {}).mappings().all()
        return cast("list[Mapping[str, Any]]", rows)

    def _any(self, statement: Select[Any], values: Mapping[str, Any]) -> bool:
        """Whether ``statement`` finds any row, asked of the DB-API cursor directly (a fifth
        of the cost of a SQLAlchemy execution); ``True`` whenever that cannot answer, so the
        caller then runs the statement the usual way (and gets its errors)."""
        connection = self._conn()
        dialect = connection.dialect
        probes = _PROBES.setdefault(dialect, {})
        probe = probes.get(statement)
        if probe is None:
            probe = probes[statement] = _Probe(statement, dialect)
        try:
            cursor = connection.connection.cursor()
            try:
                cursor.execute(probe.sql, probe.parameters(values))
                return cursor.fetchone() is not None
            finally:
                cursor.close()
        except Exception:
            return True

    def _of_task(self, model: type[Base], task_id: int) -> list[Mapping[str, Any]]:
        """The rows of ``model`` that belong to task ``task_id``, in id order."""
        rows: list[Mapping[str, Any]] = []
        # While a task is buffered no written row can refer to it (foreign keys are enforced
        # on both backends), so its rows are all in the buffer and the database need not be
        # asked.
        if task_id not in self._pending.tables[TaskRow].rows:
            rows.extend(self._fetch(_OF_TASK[model], {"task_id": task_id}))
        rows.extend(self._pending.tables[model].where("task_id", task_id))
        return rows

    def _written(self, query: Select[Any]) -> list[Mapping[str, Any]]:
        """Write the buffer, then run ``query`` (for reads the buffer cannot answer)."""
        self._pending.flush()
        return self._fetch(query)

    def _get(self, model: type[_Row], row_id: int, what: str) -> _Row:
        row = self._session.get(model, row_id)
        if row is None:
            raise NotFoundError(f"{what} {row_id} does not exist in {self._where}")
        return row

    def _get_by(
        self, model: type[_Row], key: int | str, column: Any, what: str, hint: str
    ) -> _Row:
        """A row by its id (an int) or by its natural key ``column`` (a str); ``what`` and
        ``hint`` word the error: ``no {what} {key!r} in <database>; {hint}``."""
        if isinstance(key, int):
            return self._get(model, key, what.split()[0])
        row = self._session.scalars(select(model).where(column == key)).one_or_none()
        if row is None:
            raise NotFoundError(f"no {what} {key!r} in {self._where}; {hint}")
        return row

    def _exists(self, model: type[Base], row_id: int) -> bool:
        table = model.__table__
        return self._session.scalar(select(table.c.id).where(table.c.id == row_id)) is not None

    # -- meta ---------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """The value stored under ``key`` in the meta table, or ``None``."""
        row = self._session.get(MetaRow, key)
        return None if row is None else row.value

    def set_meta(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` (not ``schema_version``, which the store owns)."""
        if key == _SCHEMA_KEY:
            raise ValueError("schema_version is managed by the store and cannot be set")
        row = self._session.get(MetaRow, key)
        if row is None:
            self._session.add(MetaRow(key=key, value=value))
        else:
            row.value = value

    # -- sequences ----------------------------------------------------------------------------

    def add_sequence(self, seq: Sequence, at: datetime) -> Sequence:
        """Store a new sequence and record it as version 1.

        Returns:
            The sequence as stored, with its ``id`` and ``version`` set.

        Raises:
            ValidationError: the sequence is invalid.
            ConflictError: a sequence with that name exists (also when another writer stored
                one at the same moment).
        """
        at = require_utc(at, "add_sequence(at=...)")
        checked = _validated_sequence(seq)
        self._check_sequence_name(checked.name, None)
        document = _sequence_document(checked)
        row = SequenceRow(
            name=checked.name, status=checked.status.value, version=1, document=document,
            created_at=at, updated_at=at,
        )
        row.versions.append(SequenceVersionRow(version=1, saved_at=at, snapshot=document))
        self._session.add(row)
        try:
            self._session.flush()
        except IntegrityError:
            # Only the unique name can clash: another writer stored that name after our check.
            raise ConflictError(
                f"a sequence named {checked.name!r} was just stored by another writer in "
                f"{self._where}; nothing was saved. Pick another name or edit that sequence"
            ) from None
        return checked.model_copy(update={"id": row.id, "version": 1})

    def save_sequence(self, seq: Sequence, at: datetime) -> Sequence:
        """Save changes to a stored sequence, recording the next version.

        The save is conditional (optimistic concurrency): it succeeds only while the stored
        current version is still ``seq.version``, the version the edit started from. To edit
        without ever meeting :class:`~teamsim.model.errors.StaleVersionError`, read the sequence
        with :meth:`get_sequence_for_update` in the same unit of work.

        Returns:
            The sequence as stored, with its new ``version``.

        Raises:
            ValidationError: the sequence is invalid.
            NotFoundError: no sequence has ``seq.id``.
            ConflictError: another sequence has the new name.
            StaleVersionError: someone saved the sequence since ``seq`` was read (nothing is
                saved; read it again and re-apply the edit).
        """
        at = require_utc(at, "save_sequence(at=...)")
        if seq.id is None:
            raise ValueError(
                f"save_sequence: sequence {seq.name!r} has no id; store it with add_sequence first"
            )
        checked = _validated_sequence(seq)
        sequences = cast(Table, SequenceRow.__table__)
        versions = cast(Table, SequenceVersionRow.__table__)
        connection = self._conn()
        stored = connection.execute(
            select(sequences.c.name, sequences.c.version).where(sequences.c.id == seq.id)
        ).one_or_none()
        if stored is None:
            raise NotFoundError(
                f"sequence {seq.id} does not exist in {self._where}; `teamsim seq list` shows "
                "the stored ones"
            )
        if stored.name != checked.name:
            self._check_sequence_name(checked.name, seq.id)
        document = _sequence_document(checked)
        new_version = seq.version + 1
        try:
            changed = connection.execute(
                update(sequences)
                .where(sequences.c.id == seq.id, sequences.c.version == seq.version)
                .values(name=checked.name, status=checked.status.value, version=new_version,
                        document=document, updated_at=at)
            )
            if cast(CursorResult[Any], changed).rowcount != 1:
                raise self._stale(checked.name, seq.id, seq.version)
            connection.execute(insert(versions).values(
                sequence_id=seq.id, version=new_version, saved_at=at, snapshot=document))
        except IntegrityError:
            raise ConflictError(
                f"sequence {checked.name!r} could not be saved: another writer stored a "
                f"conflicting name or version at the same moment in {self._where}; nothing was "
                "saved. Read it again and repeat the edit"
            ) from None
        self._forget_loaded(SequenceRow, [seq.id])
        return checked.model_copy(update={"version": new_version})

    def get_sequence_for_update(self, id_or_name: int | str) -> Sequence:
        """The current version of a sequence, locked against other writers until this unit of
        work ends: read-modify-write without lost updates.

        On SQLite this takes the database's write lock (``BEGIN IMMEDIATE``; other writers wait
        up to the busy timeout); on PostgreSQL it locks the sequence's row
        (``SELECT ... FOR UPDATE``). Call it first in the unit of work, before any write.
        """
        connection = self._conn()
        if connection.dialect.name == "sqlite":
            raw = connection.connection.dbapi_connection
            if raw is not None and not raw.in_transaction:
                try:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                except DatabaseError as err:  # the engine's error hook turned it into one
                    reason = err.reason
                    raise StoreError(
                        f"cannot lock {self._where} for writing ({reason}); nothing was "
                        "changed. If another teamsim is writing it, try again when it has "
                        "finished"
                    ) from None
        query = (select(SequenceRow).with_for_update()
                 .execution_options(populate_existing=True))
        if isinstance(id_or_name, int):
            query = query.where(SequenceRow.id == id_or_name)
        else:
            query = query.where(SequenceRow.name == id_or_name)
        row = self._session.scalars(query).one_or_none()
        if row is None:
            raise self._no_sequence(id_or_name)
        return _sequence_from_row(row)

    def _stale(self, name: str, sequence_id: int, read: int) -> TeamsimError:
        current = self._conn().scalar(
            select(SequenceRow.version).where(SequenceRow.id == sequence_id))
        if current is None:
            return NotFoundError(
                f"sequence {name!r} (id {sequence_id}) was deleted from {self._where}; "
                "`teamsim seq list` shows the stored ones"
            )
        return StaleVersionError(
            f"sequence {name!r} was saved by someone else since version {read} was read (it is "
            f"at version {current} now in {self._where}); nothing was saved. Read it again and "
            "repeat the edit"
        )

    def _no_sequence(self, key: int | str) -> NotFoundError:
        if isinstance(key, int):
            return NotFoundError(
                f"sequence {key} does not exist in {self._where}; `teamsim seq list` shows the "
                "stored ones"
            )
        return NotFoundError(
            f"no sequence named {key!r} in {self._where}; `teamsim seq list` shows the stored "
            "ones"
        )

    def get_sequence(self, id_or_name: int | str) -> Sequence:
        """The current version of a sequence, by id or by name."""
        return _sequence_from_row(self._sequence_row(id_or_name))

    def list_sequences(self) -> list[Sequence]:
        """Every sequence, in order of creation."""
        rows = self._session.scalars(select(SequenceRow).order_by(SequenceRow.id))
        return [_sequence_from_row(row) for row in rows]

    def sequence_versions(self, sequence_id: int) -> list[SequenceVersion]:
        """Every saved version of a sequence, oldest first."""
        self._sequence_row(sequence_id)
        rows = self._session.scalars(
            select(SequenceVersionRow)
            .where(SequenceVersionRow.sequence_id == sequence_id)
            .order_by(SequenceVersionRow.version)
        )
        return [_version_from_row(row) for row in rows]

    def sequence_version(self, sequence_id: int, version: int) -> SequenceVersion:
        """Version ``version`` of a sequence, as it was saved."""
        row = self._session.scalars(
            select(SequenceVersionRow).where(
                SequenceVersionRow.sequence_id == sequence_id,
                SequenceVersionRow.version == version,
            )
        ).one_or_none()
        if row is None:
            name = self._sequence_row(sequence_id).name
            raise NotFoundError(
                f"sequence {sequence_id} has no version {version} in {self._where}; "
                f"`teamsim seq versions {shlex.quote(name)}` lists the saved ones"
            )
        return _version_from_row(row)

    def _sequence_row(self, id_or_name: int | str) -> SequenceRow:
        if isinstance(id_or_name, int):
            row = self._session.get(SequenceRow, id_or_name)
        else:
            row = self._session.scalars(
                select(SequenceRow).where(SequenceRow.name == id_or_name)).one_or_none()
        if row is None:
            raise self._no_sequence(id_or_name)
        return row

    def _check_sequence_name(self, name: str, own_id: int | None) -> None:
        other = self._session.scalar(select(SequenceRow.id).where(SequenceRow.name == name))
        if other is not None and other != own_id:
            raise ConflictError(
                f"a sequence named {name!r} already exists (id {other}) in {self._where}; "
                "pick another name or edit that sequence"
            )

    # -- contacts -----------------------------------------------------------------------------

    def add_contact(self, contact: Contact) -> Contact:
        """Store a new contact; returns it with its ``id``.

        Raises:
            ConflictError: a contact with that email exists.
        """
        other = self._session.scalar(
            select(ContactRow.id).where(ContactRow.email == contact.email)
        )
        if other is not None:
            raise ConflictError(
                f"a contact with email {contact.email!r} already exists (id {other}) in "
                f"{self._where}; use that contact or another email"
            )
        data = contact.model_dump(mode="json", exclude={"id"})
        try:
            contact_id = self._insert(ContactRow, data)
        except IntegrityError:  # another writer added that email after the check above
            raise ConflictError(
                f"a contact with email {contact.email!r} was just added by another writer in "
                f"{self._where}; nothing was saved. Try again: that contact will be used"
            ) from None
        return contact.model_copy(update={"id": contact_id})

    def add_contacts(self, contacts: Iterable[Contact]) -> list[Contact]:
        """Store many new contacts with one multi-row ``INSERT``; returns them with their ids,
        in the order given (the simulator adds whole populations this way).

        Raises:
            ConflictError: an email is given twice, or a contact with it exists (nothing is
                written).
        """
        batch = list(contacts)
        counts = Counter(c.email for c in batch)
        twice = sorted(email for email, n in counts.items() if n > 1)
        if twice:
            raise ConflictError(
                f"add_contacts: email(s) {', '.join(map(repr, twice[:5]))} given more than once; "
                "every contact needs its own email"
            )
        table = cast(Table, ContactRow.__table__)
        emails = list(counts)
        for start in range(0, len(emails), 500):
            found = self._session.connection().execute(
                select(table.c.email).where(table.c.email.in_(emails[start:start + 500]))
            ).scalars().all()
            if found:
                raise ConflictError(
                    f"add_contacts: contact(s) with email {', '.join(map(repr, sorted(found)[:5]))}"
                    f" already exist in {self._where}; use them or other emails"
                )
        if not batch:
            return []
        rows = [c.model_dump(mode="json", exclude={"id"}) for c in batch]
        ids = self._session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        ).scalars().all()
        return [c.model_copy(update={"id": i}) for c, i in zip(batch, ids, strict=True)]

    def get_contact(self, id_or_email: int | str) -> Contact:
        """A contact, by id or by email."""
        key = id_or_email if isinstance(id_or_email, int) else id_or_email.lower()
        return _contact_from_row(
            self._get_by(ContactRow, key, ContactRow.email, "contact with email",
                         "`teamsim seq enroll SEQUENCE --email EMAIL` adds and enrolls a "
                         "contact"))

    def list_contacts(self) -> list[Contact]:
        """Every contact, in order of creation."""
        rows = self._session.scalars(select(ContactRow).order_by(ContactRow.id))
        return [_contact_from_row(row) for row in rows]

    # -- enrollments --------------------------------------------------------------------------

    def enroll(
        self,
        sequence_id: int,
        contact_id: int,
        at: datetime,
        *,
        current_step_id: str | None = None,
        next_due_at: datetime | None = None,
    ) -> Enrollment:
        """Put a contact on a sequence.

        Raises:
            NotFoundError: the sequence or the contact does not exist (nothing is written).
            DuplicateEnrollmentError: the contact is already on the sequence (nothing is
                written).
        """
        at = require_utc(at, "enroll(at=...)")
        if next_due_at is not None:
            next_due_at = require_utc(next_due_at, "enroll(next_due_at=...)")
        # One Core statement on the session's connection answers all three checks (the
        # simulator enrolls thousands of people; three ORM round trips cost four times more).
        connection = self._session.connection()
        sequences, contacts = cast(Table, SequenceRow.__table__), cast(Table, ContactRow.__table__)
        enrollments = cast(Table, EnrollmentRow.__table__)
        name, email, existing_id = connection.execute(select(
            select(sequences.c.name).where(sequences.c.id == sequence_id).scalar_subquery(),
            select(contacts.c.email).where(contacts.c.id == contact_id).scalar_subquery(),
            select(enrollments.c.id).where(
                enrollments.c.sequence_id == sequence_id,
                enrollments.c.contact_id == contact_id,
            ).scalar_subquery(),
        )).one()
        if name is None:
            raise NotFoundError(
                f"cannot enroll contact {contact_id} into sequence {sequence_id}: no such "
                f"sequence in {self._where}; `teamsim seq list` shows the stored ones"
            )
        if email is None:
            raise NotFoundError(
                f"cannot enroll contact {contact_id} into sequence {name!r} (id {sequence_id}): "
                f"no such contact in {self._where}; enroll by email with `teamsim seq enroll "
                "SEQUENCE --email EMAIL`, which adds the contact"
            )
        if existing_id is not None:
            status = str(connection.execute(
                select(enrollments.c.status).where(enrollments.c.id == existing_id)).scalar())
            raise DuplicateEnrollmentError(
                f"contact {email!r} (id {contact_id}) is already enrolled in sequence {name!r} "
                f"(id {sequence_id}) as enrollment {existing_id} ({status}) in "
                f"{self._where}; nothing was changed. {_enrollment_advice(name, email, status)}"
            )
        values = {
            "sequence_id": sequence_id, "contact_id": contact_id,
            "status": EnrollmentStatus.ACTIVE.value, "current_step_id": current_step_id,
            "next_due_at": next_due_at, "enrolled_at": at, "paused_at": None,
            "ended_reason": None,
        }
        try:
            enrollment_id = self._insert(EnrollmentRow, values)
        except IntegrityError:  # another writer enrolled them after the check above
            raise DuplicateEnrollmentError(
                f"contact {email!r} (id {contact_id}) was just enrolled in sequence {name!r} "
                f"(id {sequence_id}) by another writer in {self._where}; nothing was changed"
            ) from None
        return Enrollment(id=enrollment_id, sequence_id=sequence_id, contact_id=contact_id,
                          enrolled_at=at, current_step_id=current_step_id,
                          next_due_at=next_due_at)

    def get_enrollment(self, enrollment_id: int) -> Enrollment:
        """An enrollment, by id."""
        return _enrollment_from_row(self._get(EnrollmentRow, enrollment_id, "enrollment"))

    def list_enrollments(
        self,
        sequence_id: int | None = None,
        contact_id: int | None = None,
        status: EnrollmentStatus | str | None = None,
    ) -> list[Enrollment]:
        """The enrollments matching every filter given, in order of creation."""
        query = select(EnrollmentRow).order_by(EnrollmentRow.id)
        if sequence_id is not None:
            query = query.where(EnrollmentRow.sequence_id == sequence_id)
        if contact_id is not None:
            query = query.where(EnrollmentRow.contact_id == contact_id)
        if status is not None:
            query = query.where(EnrollmentRow.status == EnrollmentStatus(status).value)
        return [_enrollment_from_row(row) for row in self._session.scalars(query)]

    def update_enrollment(self, enrollment_id: int, **fields: Any) -> None:
        """Change an enrollment's ``status``, ``current_step_id``, ``next_due_at``,
        ``paused_at`` or ``ended_reason`` (one ``UPDATE``, no read).

        Raises:
            TypeError: a field that cannot be changed.
            NotFoundError: no such enrollment.
        """
        values = _enrollment_values(fields)
        if values and not self._update(EnrollmentRow, enrollment_id, values):
            raise NotFoundError(f"enrollment {enrollment_id} does not exist in {self._where}")
        self._forget_loaded(EnrollmentRow, [enrollment_id])

    def update_enrollments(self, changes: Mapping[int, Mapping[str, Any]]) -> None:
        """Apply many :meth:`update_enrollment` changes at once: one ``executemany`` per set
        of changed fields (the simulator writes its enrollments' state this way each day).

        Raises:
            TypeError: a field that cannot be changed.
            NotFoundError: an enrollment that does not exist (nothing is changed then only if
                the caller rolls back, as with any error inside a unit of work).
        """
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for enrollment_id, fields in changes.items():
            values = _enrollment_values(fields)
            if values:
                groups.setdefault(tuple(sorted(values)), []).append(
                    {"row_id_": enrollment_id, **{f"v_{k}": v for k, v in values.items()}})
        table = cast(Table, EnrollmentRow.__table__)
        for names, rows in groups.items():
            statement = update(table).where(table.c.id == bindparam("row_id_")).values(
                {name: bindparam(f"v_{name}") for name in names})
            result = self._session.execute(statement, rows)
            if cast(CursorResult[Any], result).rowcount != len(rows):
                raise NotFoundError(
                    f"some of enrollments {sorted(r['row_id_'] for r in rows)} do not exist in "
                    f"{self._where}"
                )
        self._forget_loaded(EnrollmentRow, list(changes))

    def remove_enrollment(self, enrollment_id: int) -> None:
        """Delete an enrollment that has not started: nothing (no task, message, reply or
        event) refers to it yet.

        Raises:
            NotFoundError: no such enrollment.
            ConflictError: the enrollment has started (nothing is deleted; end it instead).
        """
        self.flush()
        row = self._get(EnrollmentRow, enrollment_id, "enrollment")
        for model, what in ((TaskRow, "tasks"), (MessageRow, "messages"),
                            (ReplyRow, "replies"), (EventRow, "events")):
            table = cast(Table, model.__table__)
            used = self._session.scalar(
                select(func.count()).select_from(table)
                .where(table.c.enrollment_id == enrollment_id))
            if used:
                raise ConflictError(
                    f"enrollment {enrollment_id} has started ({used} {what} refer to it in "
                    f"{self._where}), so it cannot be removed; nothing was changed. End it "
                    "instead with `teamsim seq end SEQUENCE EMAIL`"
                )
        self._session.delete(row)
        self._session.flush()

    def _forget_loaded(self, model: type[Base], row_ids: Iterable[int]) -> None:
        """Expire ORM objects of rows just changed with a Core UPDATE, so reads are fresh."""
        for row_id in row_ids:
            loaded = self._session.identity_map.get(identity_key(model, row_id))
            if loaded is not None:
                self._session.expire(loaded)

    # -- teammates ----------------------------------------------------------------------------

    def add_teammate(self, teammate: Teammate) -> Teammate:
        """Store a new teammate; returns it with its ``id``.

        Raises:
            ConflictError: a teammate with that name exists.
        """
        other = self._session.scalar(
            select(TeammateRow.id).where(TeammateRow.name == teammate.name)
        )
        if other is not None:
            raise ConflictError(
                f"a teammate named {teammate.name!r} already exists (id {other}) in "
                f"{self._where}; pick another name"
            )
        data = teammate.model_dump(mode="json", exclude={"id"})
        return teammate.model_copy(update={"id": self._insert(TeammateRow, data)})

    def get_teammate(self, id_or_name: int | str) -> Teammate:
        """A teammate, by id or by name."""
        return _teammate_from_row(
            self._get_by(TeammateRow, id_or_name, TeammateRow.name, "teammate named",
                         "the scenario's `teammates:` list names the teammates"))

    def list_teammates(self) -> list[Teammate]:
        """Every teammate, in order of creation."""
        rows = self._session.scalars(select(TeammateRow).order_by(TeammateRow.id))
        return [_teammate_from_row(row) for row in rows]

    # -- pipeline tasks -----------------------------------------------------------------------

    def add_task(
        self,
        *,
        kind: TaskKind,
        thread_id: str,
        contact_id: int,
        teammate_id: int | None,
        at: datetime,
        enrollment_id: int | None = None,
        step_id: str | None = None,
        sequence_id: int | None = None,
        reviewer_id: int | None = None,
        brief: str = "",
        status: str = "open",
    ) -> int:
        """Record a new pipeline task (one LangGraph thread) and return its id.

        Raises:
            ConflictError: a task with that ``thread_id`` is buffered in this unit of work.
                (A clash with a task already written is refused by the database's unique
                constraint when the buffer is flushed, also as a ``ConflictError``; checking
                here would cost a query per task.)
        """
        _one_of(kind, _TASK_KINDS, "task kind")
        created_at = require_utc(at, "add_task(at=...)")
        other = next(self._pending.tables[TaskRow].where("thread_id", thread_id), None)
        if other is not None:
            raise ConflictError(
                f"a task with thread id {thread_id!r} already exists (id {other['id']}) in "
                f"{self._where}; every task needs a thread id of its own"
            )
        return self._pending.add(TaskRow, {
            "kind": kind, "thread_id": thread_id, "enrollment_id": enrollment_id,
            "sequence_id": sequence_id, "step_id": step_id, "contact_id": contact_id,
            "teammate_id": teammate_id, "reviewer_id": reviewer_id, "brief": brief,
            "status": status, "outcome": None, "created_at": created_at, "finished_at": None,
        })

    def get_task(self, task_id: int) -> TaskRecord:
        """A task, by id."""
        return _task_record(self._load(TaskRow, task_id, "task"))

    def task_by_thread(self, thread_id: str) -> TaskRecord:
        """A task, by its LangGraph thread id."""
        row = next(self._pending.tables[TaskRow].where("thread_id", thread_id), None)
        if row is not None:
            return _task_record(row)
        found = self._fetch(select(_TASKS).where(_TASKS.c.thread_id == thread_id))
        if not found:
            raise NotFoundError(f"no task with thread id {thread_id!r} in {self._where}")
        return _task_record(found[0])

    def list_tasks(
        self,
        *,
        enrollment_id: int | None = None,
        status: str | None = None,
        kind: TaskKind | None = None,
    ) -> list[TaskRecord]:
        """The tasks matching every filter given, in order of creation."""
        query = select(_TASKS).order_by(_TASKS.c.id)
        if enrollment_id is not None:
            query = query.where(_TASKS.c.enrollment_id == enrollment_id)
        if status is not None:
            query = query.where(_TASKS.c.status == status)
        if kind is not None:
            query = query.where(_TASKS.c.kind == kind)
        return [_task_record(row) for row in self._written(query)]

    def set_task_status(
        self, task_id: int, status: str, at: datetime, outcome: str | None = None
    ) -> None:
        """Set a task's status; giving an ``outcome`` also marks it finished at ``at``."""
        at = require_utc(at, "set_task_status(at=...)")
        values: dict[str, Any] = {"status": status}
        if outcome is not None:
            values.update(outcome=outcome, finished_at=at)
        self._change_task(task_id, values)

    def assign_reviewer(self, task_id: int, reviewer_id: int) -> None:
        """Record which teammate reviews a task."""
        self._change_task(task_id, {"reviewer_id": reviewer_id})

    def _change_task(self, task_id: int, values: dict[str, Any]) -> None:
        row = self._pending.tables[TaskRow].get(task_id)
        if row is not None:
            row.update(values)
        elif not self._update(TaskRow, task_id, values):
            raise NotFoundError(f"task {task_id} does not exist in {self._where}")

    def add_draft(
        self,
        *,
        task_id: int,
        revision: int,
        author_id: int | None,
        subject: str | None,
        body: str,
        minutes: int,
        at: datetime,
    ) -> int:
        """Record a draft (``revision`` 0) or a revision of a task's message; returns its id."""
        return self._pending.add(DraftRow, {
            "task_id": task_id, "revision": revision, "author_id": author_id,
            "subject": subject, "body": body, "minutes": minutes,
            "created_at": require_utc(at, "add_draft(at=...)"),
        })

    def get_draft(self, draft_id: int) -> DraftRecord:
        """A draft, by id."""
        return _draft_record(self._load(DraftRow, draft_id, "draft"))

    def list_drafts(self, task_id: int) -> list[DraftRecord]:
        """A task's drafts, first draft first."""
        rows = [_draft_record(row) for row in self._of_task(DraftRow, task_id)]
        rows.sort(key=lambda draft: (draft.revision, draft.id))
        return rows

    def add_review(
        self,
        *,
        task_id: int,
        draft_id: int,
        reviewer_id: int | None,
        verdict: str,
        notes: Iterable[str],
        minutes: int,
        at: datetime,
    ) -> int:
        """Record a peer review of a draft; returns its id."""
        return self._pending.add(ReviewRow, {
            "task_id": task_id, "draft_id": draft_id, "reviewer_id": reviewer_id,
            "verdict": verdict, "notes": list(notes), "minutes": minutes,
            "created_at": require_utc(at, "add_review(at=...)"),
        })

    def list_reviews(self, task_id: int) -> list[ReviewRecord]:
        """A task's reviews, oldest first."""
        return [_review_record(row) for row in self._of_task(ReviewRow, task_id)]

    # -- needs attention ----------------------------------------------------------------------

    def open_attention(
        self,
        *,
        kind: AttentionKind,
        at: datetime,
        task_id: int | None = None,
        reply_id: int | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> int:
        """Put an item in the Needs attention queue; returns its id."""
        _one_of(kind, _ATTENTION_KINDS, "attention kind")
        return self._pending.add(AttentionRow, {
            "kind": kind, "status": "open", "task_id": task_id, "reply_id": reply_id,
            "payload": _json_copy(dict(payload or {}), "open_attention(payload=...)"),
            "created_at": require_utc(at, "open_attention(at=...)"), "resolved_at": None,
        })

    def resolve_attention(
        self, item_id: int, *, status: AttentionStatus = "resolved", at: datetime
    ) -> None:
        """Close an open attention item as ``resolved`` or ``withdrawn``.

        Raises:
            NotFoundError: no such item.
            ConflictError: the item is not open.
        """
        _one_of(status, _ATTENTION_STATUSES - {"open"}, "resolve_attention status")
        values = {"status": status, "resolved_at": require_utc(at, "resolve_attention(at=...)")}
        row = self._pending.tables[AttentionRow].get(item_id)
        if row is not None:
            current: str | None = row["status"]
            if current == "open":
                row.update(values)
                return
        elif self._update(AttentionRow, item_id, values, _ATTENTION.c.status == "open"):
            return
        else:
            current = self._conn().scalar(
                select(_ATTENTION.c.status).where(_ATTENTION.c.id == item_id))
        if current is None:
            raise NotFoundError(f"attention item {item_id} does not exist in {self._where}")
        raise ConflictError(
            f"attention item {item_id} is already {current}; only open items can be {status}"
        )

    def get_attention(self, item_id: int) -> AttentionItem:
        """An attention item, by id."""
        return _attention_item(self._load(AttentionRow, item_id, "attention item"))

    def list_attention(
        self, status: AttentionStatus | None = "open", *, kind: AttentionKind | None = None
    ) -> list[AttentionItem]:
        """Attention items with ``status`` (``None``: any), oldest first."""
        query = select(_ATTENTION).order_by(_ATTENTION.c.id)
        if status is not None:
            query = query.where(_ATTENTION.c.status == status)
        if kind is not None:
            query = query.where(_ATTENTION.c.kind == kind)
        # Buffered ids are above every written one, so written rows then buffered rows is
        # id order.
        items = [_attention_item(row) for row in self._fetch(query)]
        items.extend(
            _attention_item(row) for row in self._pending.tables[AttentionRow].rows.values()
            if (status is None or row["status"] == status)
            and (kind is None or row["kind"] == kind)
        )
        return items

    def add_decision(
        self,
        *,
        task_id: int,
        draft_id: int | None,
        action: DecisionAction,
        by: DecidedBy,
        at: datetime,
        rule_id: int | None = None,
        note: str = "",
        subject: str | None = None,
        body: str | None = None,
    ) -> int:
        """Record a decision on a draft (and, when approved, the final text); returns its id."""
        _one_of(action, _ACTIONS, "decision action")
        _one_of(by, _DECIDERS, "decision by")
        if by == "rule" and rule_id is None:
            raise ValueError("a decision by a rule needs the rule_id of that rule")
        return self._pending.add(DecisionRow, {
            "task_id": task_id, "draft_id": draft_id, "action": action, "by": by,
            "rule_id": rule_id, "note": note, "subject": subject, "body": body,
            "decided_at": require_utc(at, "add_decision(at=...)"),
        })

    def list_decisions(
        self, task_id: int | None = None, *, rule_id: int | None = None
    ) -> list[DecisionRecord]:
        """Decisions (of one task, or of one rule), oldest first."""
        if task_id is not None:
            return [
                _decision_record(row) for row in self._of_task(DecisionRow, task_id)
                if rule_id is None or row["rule_id"] == rule_id
            ]
        query = select(_DECISIONS).order_by(_DECISIONS.c.id)
        if rule_id is not None:
            query = query.where(_DECISIONS.c.rule_id == rule_id)
        return [_decision_record(row) for row in self._written(query)]

    # -- messages and replies -----------------------------------------------------------------

    def send_message(
        self,
        *,
        task_id: int,
        contact_id: int,
        channel: str,
        subject: str | None,
        body: str,
        at: datetime,
        enrollment_id: int | None = None,
        step_id: str | None = None,
        teammate_id: int | None = None,
    ) -> tuple[int, bool]:
        """Queue a task's approved message for delivery, at most once per task.

        The message is ``queued`` at ``at``; :meth:`deliver_message` records that it went out
        and :meth:`cancel_message` that it never will.

        Returns:
            ``(message_id, True)`` when this call sent it; ``(first_message_id, False)`` when
            the task had already sent one (nothing is written). A unique constraint on
            ``task_id`` backs this up in the database.
        """
        at = require_utc(at, "send_message(at=...)")
        first = next(iter(self._of_task(MessageRow, task_id)), None)
        if first is not None:
            return int(first["id"]), False
        return self._pending.add(MessageRow, {
            "task_id": task_id, "enrollment_id": enrollment_id, "contact_id": contact_id,
            "step_id": step_id, "channel": channel, "subject": subject, "body": body,
            "teammate_id": teammate_id, "status": "queued", "queued_at": at, "sent_at": None,
            "cancelled_at": None, "cancel_reason": None, "opened_at": None, "clicked_at": None,
        }), True

    def deliver_message(self, message_id: int, *, at: datetime) -> None:
        """Record that a queued message was delivered to the contact at ``at``.

        Raises:
            NotFoundError: no such message.
            ConflictError: the message is not queued (already sent, or cancelled).
        """
        at = require_utc(at, "deliver_message(at=...)")
        self._change_queued(message_id, {"status": "sent", "sent_at": at}, "deliver")

    def cancel_message(self, message_id: int, *, reason: str, at: datetime) -> None:
        """Record that a queued message will never be delivered, and why.

        Raises:
            NotFoundError: no such message.
            ConflictError: the message is not queued (already sent, or cancelled).
        """
        at = require_utc(at, "cancel_message(at=...)")
        values = {"status": "cancelled", "cancelled_at": at, "cancel_reason": reason}
        self._change_queued(message_id, values, "cancel")

    def _change_queued(self, message_id: int, values: dict[str, Any], verb: str) -> None:
        row = self._pending.tables[MessageRow].get(message_id)
        if row is not None:
            status: str = row["status"]
            if status == "queued":
                row.update(values)
                return
        elif self._update(MessageRow, message_id, values, _MESSAGES.c.status == "queued"):
            return
        else:
            status = self._load(MessageRow, message_id, "message")["status"]
        raise ConflictError(
            f"cannot {verb} message {message_id}: it is {status}, not queued; only a "
            "queued message can be delivered or cancelled"
        )

    def mark_engagement(self, message_id: int, kind: Engagement, at: datetime) -> bool:
        """Record that a message was ``opened`` or ``clicked``; only the first time counts.

        Returns:
            ``True`` if recorded now, ``False`` if it had been already.
        """
        column = f"{_one_of(kind, _ENGAGEMENTS, 'engagement')}_at"
        at = require_utc(at, "mark_engagement(at=...)")
        row = self._pending.tables[MessageRow].get(message_id)
        if row is not None:
            if row[column] is not None:
                return False
            row[column] = at
            return True
        if self._update(MessageRow, message_id, {column: at}, _MESSAGES.c[column].is_(None)):
            return True
        if not self._exists(MessageRow, message_id):
            raise NotFoundError(f"message {message_id} does not exist in {self._where}")
        return False

    def get_message(self, message_id: int) -> MessageRecord:
        """A sent message, by id."""
        return _message_record(self._load(MessageRow, message_id, "message"))

    def message_for_task(self, task_id: int) -> MessageRecord | None:
        """The message a task sent, or ``None`` if it sent none."""
        row = next(iter(self._of_task(MessageRow, task_id)), None)
        return None if row is None else _message_record(row)

    def list_messages(
        self, *, contact_id: int | None = None, enrollment_id: int | None = None
    ) -> list[MessageRecord]:
        """Sent messages matching every filter given, in order of sending."""
        query = select(_MESSAGES).order_by(_MESSAGES.c.queued_at, _MESSAGES.c.id)
        if contact_id is not None:
            query = query.where(_MESSAGES.c.contact_id == contact_id)
        if enrollment_id is not None:
            query = query.where(_MESSAGES.c.enrollment_id == enrollment_id)
        return [_message_record(row) for row in self._written(query)]

    def thread_messages(self, contact_id: int, sequence_id: int | None) -> list[MessageRecord]:
        """Messages delivered to a contact in one sequence (``None``: in chats), oldest first."""
        tasks = self._pending.tables[TaskRow].rows
        buffered = [
            row for row in self._pending.tables[MessageRow].where("contact_id", contact_id)
            if row["status"] == "sent"
        ]
        if any(row["task_id"] not in tasks for row in buffered):
            # A buffered message of a task already written: let the database do the join.
            self._pending.flush()
            buffered = []
        if sequence_id is None:
            statement, values = _THREAD_IN_CHATS, {"contact_id": contact_id}
        else:
            statement = _THREAD_IN_SEQUENCE
            values = {"contact_id": contact_id, "sequence_id": sequence_id}
        # Most contacts have no delivered message yet: ask the driver directly whether any
        # row matches, and only then read the rows through SQLAlchemy (which converts them).
        written = self._fetch(statement, values) if self._any(statement, values) else []
        found = [_message_record(row) for row in written]
        mine = [
            _message_record(row) for row in buffered
            if tasks[row["task_id"]]["sequence_id"] == sequence_id
        ]
        if not mine:
            return found
        return sorted(found + mine, key=lambda message: (message.sent_at or _NEVER, message.id))

    def add_reply(
        self,
        *,
        contact_id: int,
        kind: ReplyKind,
        at: datetime,
        enrollment_id: int | None = None,
        message_id: int | None = None,
        body: str = "",
    ) -> int:
        """Record something that came back from a contact; returns its id."""
        return self._pending.add(ReplyRow, {
            "contact_id": contact_id, "enrollment_id": enrollment_id,
            "message_id": message_id, "kind": _one_of(kind, _REPLY_KINDS, "reply kind"),
            "body": body, "received_at": require_utc(at, "add_reply(at=...)"),
        })

    def get_reply(self, reply_id: int) -> ReplyRecord:
        """A reply, by id."""
        return _reply_record(self._load(ReplyRow, reply_id, "reply"))

    def list_replies(
        self, *, contact_id: int | None = None, enrollment_id: int | None = None
    ) -> list[ReplyRecord]:
        """Replies matching every filter given, in order of arrival."""
        query = select(_REPLIES).order_by(_REPLIES.c.received_at, _REPLIES.c.id)
        if contact_id is not None:
            query = query.where(_REPLIES.c.contact_id == contact_id)
        if enrollment_id is not None:
            query = query.where(_REPLIES.c.enrollment_id == enrollment_id)
        return [_reply_record(row) for row in self._written(query)]

    # -- auto-approve rules -------------------------------------------------------------------

    def add_rule(self, rule: AutoApproveRule) -> AutoApproveRule:
        """Store a new auto-approve rule; returns it with its ``id``.

        Raises:
            ConflictError: a rule with that name exists.
        """
        self._check_rule_name(rule.name, None)
        rule_id = self._insert(RuleRow, {
            "name": rule.name, "enabled": rule.enabled, "definition": _rule_definition(rule),
        })
        return rule.model_copy(update={"id": rule_id})

    def save_rule(self, rule: AutoApproveRule) -> AutoApproveRule:
        """Save changes to a stored rule (switching it on or off, changing caps...)."""
        if rule.id is None:
            raise ValueError(f"save_rule: rule {rule.name!r} has no id; store it with add_rule")
        row = self._get(RuleRow, rule.id, "rule")
        if row.name != rule.name:
            self._check_rule_name(rule.name, row.id)
        row.name = rule.name
        row.enabled = rule.enabled
        row.definition = _rule_definition(rule)
        self._session.flush()
        return rule

    def get_rule(self, id_or_name: int | str) -> AutoApproveRule:
        """A rule, by id or by name."""
        return _rule_from_row(
            self._get_by(RuleRow, id_or_name, RuleRow.name, "rule named",
                         "`teamsim rules list RUN_DIR` shows them"))

    def list_rules(self) -> list[AutoApproveRule]:
        """Every rule, in order of creation."""
        rows = self._session.scalars(select(RuleRow).order_by(RuleRow.id))
        return [_rule_from_row(row) for row in rows]

    def rule_approvals(self, rule_id: int, since: datetime | None = None) -> int:
        """How many drafts rule ``rule_id`` approved (at or after ``since``, if given)."""
        self._pending.flush()
        query = select(func.count()).select_from(DecisionRow).where(
            DecisionRow.rule_id == rule_id, DecisionRow.action.in_(("approve", "edit"))
        )
        if since is not None:
            query = query.where(
                DecisionRow.decided_at >= require_utc(since, "rule_approvals(since=...)")
            )
        return int(self._session.scalar(query) or 0)

    def _check_rule_name(self, name: str, own_id: int | None) -> None:
        other = self._session.scalar(select(RuleRow.id).where(RuleRow.name == name))
        if other is not None and other != own_id:
            raise ConflictError(
                f"a rule named {name!r} already exists (id {other}) in {self._where}; "
                "pick another name or edit that rule"
            )


# -- row <-> domain ---------------------------------------------------------------------------


def _enrollment_advice(sequence: str, email: str, status: str) -> str:
    """What a person already enrolled can do instead of enrolling again (real CLI commands)."""
    where = f"{shlex.quote(sequence)} {shlex.quote(email)}"
    if status == EnrollmentStatus.PAUSED.value:
        return (f"Resume it with `teamsim seq resume {where}` or end it with "
                f"`teamsim seq end {where}`")
    if status == EnrollmentStatus.ACTIVE.value:
        return (f"It is already running; end it with `teamsim seq end {where}`, or remove it "
                f"before it starts with `teamsim seq unenroll {where}`")
    return ("A contact goes through a sequence once; to reach them again, enroll them in "
            "another sequence (`teamsim seq new NAME` creates one)")


def _validated_sequence(seq: Sequence) -> Sequence:
    try:
        return Sequence.model_validate(seq.model_dump())
    except pydantic.ValidationError as err:
        raise ValidationError(format_errors(err, f"sequence {seq.name!r}")) from None


def _sequence_document(seq: Sequence) -> dict[str, Any]:
    return seq.model_dump(mode="json", exclude={"id", "version"})


def _sequence_from_row(row: SequenceRow) -> Sequence:
    return _stored_sequence(row.document, row.id, row.version)


def _version_from_row(row: SequenceVersionRow) -> SequenceVersion:
    return SequenceVersion(
        sequence_id=row.sequence_id, version=row.version, saved_at=row.saved_at,
        sequence=_stored_sequence(row.snapshot, row.sequence_id, row.version),
    )


def _stored_sequence(document: dict[str, Any], sequence_id: int, version: int) -> Sequence:
    """A stored sequence document as a domain model; one this teamsim no longer accepts (an
    infinite wait saved by an older teamsim, say) is a clear error, not a crash."""
    try:
        return Sequence.model_validate({**document, "id": sequence_id, "version": version})
    except pydantic.ValidationError as err:
        where = f"stored sequence {sequence_id} version {version}"
        raise StoreError(
            f"{format_errors(err, where)}; this teamsim refuses what is stored there, so "
            "edit the database with the teamsim that wrote it or start a new database"
        ) from None


def _contact_from_row(row: ContactRow) -> Contact:
    return Contact(
        id=row.id, name=row.name, email=row.email, company=row.company,
        timezone=row.timezone, attributes=row.attributes,
    )


def _enrollment_from_row(row: EnrollmentRow) -> Enrollment:
    return Enrollment(
        id=row.id, sequence_id=row.sequence_id, contact_id=row.contact_id,
        status=EnrollmentStatus(row.status), current_step_id=row.current_step_id,
        next_due_at=row.next_due_at, enrolled_at=row.enrolled_at, paused_at=row.paused_at,
        ended_reason=row.ended_reason,
    )


def _teammate_from_row(row: TeammateRow) -> Teammate:
    return Teammate.model_validate(
        {"id": row.id, "name": row.name, "roles": row.roles, "capacity": row.capacity}
    )


def _rule_definition(rule: AutoApproveRule) -> dict[str, Any]:
    return rule.model_dump(mode="json", exclude={"id", "name", "enabled"})


def _rule_from_row(row: RuleRow) -> AutoApproveRule:
    return AutoApproveRule.model_validate(
        {**row.definition, "id": row.id, "name": row.name, "enabled": row.enabled}
    )


def _task_record(row: Mapping[str, Any]) -> TaskRecord:
    return TaskRecord(**row)


def _draft_record(row: Mapping[str, Any]) -> DraftRecord:
    return DraftRecord(**row)


def _review_record(row: Mapping[str, Any]) -> ReviewRecord:
    return ReviewRecord(**{**row, "notes": tuple(row["notes"])})


def _attention_item(row: Mapping[str, Any]) -> AttentionItem:
    # A fresh payload each time, as a read from the database would give.
    return AttentionItem(**{**row, "payload": _json_copy(row["payload"], "attention payload")})


def _decision_record(row: Mapping[str, Any]) -> DecisionRecord:
    return DecisionRecord(**row)


def _enrollment_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Checked column values for an enrollment update."""
    unknown = set(fields) - _ENROLLMENT_FIELDS
    if unknown:
        raise TypeError(
            f"update_enrollment: cannot change {', '.join(sorted(unknown))}; "
            f"changeable fields are {', '.join(sorted(_ENROLLMENT_FIELDS))}"
        )
    values = dict(fields)
    if "status" in values:
        values["status"] = EnrollmentStatus(values["status"]).value
    for key in ("next_due_at", "paused_at"):
        if values.get(key) is not None:
            values[key] = require_utc(values[key], f"update_enrollment({key}=...)")
    return values


def _message_record(row: Mapping[str, Any]) -> MessageRecord:
    return MessageRecord(**row)


def _reply_record(row: Mapping[str, Any]) -> ReplyRecord:
    return ReplyRecord(**row)
