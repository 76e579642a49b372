"""Opening a database (:class:`Store`): URLs, the schema check and its set-up lock, and
handing out units of work (:class:`~teamsim.store.UnitOfWork`)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InternalError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.orm import sessionmaker

from teamsim.model import DatabaseError, SchemaVersionError, StoreError
from teamsim.store import _archive  # noqa: F401 - registers the run_* tables in Base.metadata
from teamsim.store._meta import SCHEMA_KEY as _SCHEMA_KEY
from teamsim.store._models import Base, MetaRow
from teamsim.store._uow import UnitOfWork
from teamsim.store._urls import mask_secrets, mask_url, parse_url, sqlite_file

__all__ = ["DATABASE_URL_ENV", "DEFAULT_DATABASE", "SCHEMA_VERSION", "Store"]

SCHEMA_VERSION: Final = 2
"""The version of the tables this teamsim writes; a database records the one it was made with.

Version 2 added the runs (``runs``, ``run_metrics`` and the ``run_*`` tables). A version 1
database is upgraded when opened for writing (the new tables are added; nothing else
changes) and read as it is when opened read-only (an older run folder's ``store.db``).
"""

READABLE_VERSIONS: Final = frozenset({1, SCHEMA_VERSION})
"""The schema versions this teamsim reads: version 1 lacks only the runs tables."""


DATABASE_URL_ENV: Final = "TEAMSIM_DATABASE_URL"
"""Environment variable naming the database when :meth:`Store.open` gets none."""


DEFAULT_DATABASE: Final = "teamsim.db"
"""The SQLite file used when neither an argument nor the environment names a database."""


SQLITE_BUSY_TIMEOUT_MS: Final = 30_000
"""How long a SQLite connection waits for another writer's lock before giving up."""


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Concurrent writers (two `teamsim seq` commands, say) wait for each other's write lock
    # instead of failing at once with "database is locked".
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # The write-behind buffer relies on foreign keys being enforced (see Repository._of_task).
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL + NORMAL keeps commits cheap for a simulator that commits often; a crash can lose
    # the last commits but never corrupts the file. (An in-memory database keeps its journal
    # in memory whatever is asked.)
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


_WAL_RETRY_PAUSE_S: Final = 0.005


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Put the file in WAL mode (once: the mode is kept in the file), waiting out another
    connection's lock for up to the busy timeout.

    SQLite does not call the busy handler for a journal-mode change: when several processes
    open a new database at the same moment, the ones that lose the race get "database is
    locked" at once (CI saw one opener in four fail). Asking for the mode first skips the
    change on a file already in WAL mode; otherwise the change is retried for as long as a
    write would wait.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() in ("wal", "memory"):
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() >= deadline:
                raise
            time.sleep(_WAL_RETRY_PAUSE_S)


class Store:
    """A teamsim database: open it, then work in it through units of work.

    Use :meth:`open`; the store is a context manager that closes itself.

    One writer per database: a unit of work numbers events and the rows of the pipeline
    tables (tasks, drafts, reviews, decisions, messages, replies, attention items) itself,
    from counters started at the largest stored id, and buffers those writes until it
    flushes. A second process writing the same database at the same time would collide on
    those ids and fail at flush (never interleave silently); readers are fine. Editing
    sequences and enrollments (``uow.sequences.get_for_update``, then
    ``uow.sequences.save``) is safe from many processes at once, and so is recording runs
    (``uow.runs.record``: each run gets its id from the database, its rows are keyed by it).

    Durability: a commit is what is durable, and buffered writes only reach the database
    when the unit of work flushes or commits (the simulator commits once per simulated day).
    SQLite files run in WAL mode with ``synchronous=NORMAL`` and temporary tables in memory:
    a power cut or OS crash can lose the last commits but never corrupts the file; an
    application crash loses nothing committed. PostgreSQL keeps its server settings.
    """

    def __init__(self, engine: Engine, *, shown_url: str,
                 schema_version: int = SCHEMA_VERSION) -> None:
        """Wrap an engine whose schema was already checked; prefer :meth:`open`."""
        self._engine = engine
        self._shown_url = shown_url
        self._schema_version = schema_version
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._closed = False

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
                version = _prepare_schema(connection, shown, create=not read_only)
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
        return cls(engine, shown_url=shown, schema_version=version)

    @property
    def schema_version(self) -> int:
        """The schema version of the database (1 only for an older one opened read-only)."""
        return self._schema_version

    @property
    def holds_runs(self) -> bool:
        """Whether the database has the runs tables (``uow.runs`` works)."""
        return self._schema_version >= 2

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
    def claim_new_file(target: str | os.PathLike[str] | None) -> Path | None:
        """The SQLite file ``target`` names, created empty here when it did not exist yet
        (SQLite takes an empty file as a new database); ``None`` when it existed, is not a
        file, or cannot be made (:meth:`open` then says why).

        The create is exclusive: of two processes starting at once with the same new file,
        only one is told it made it, and only that one may take it away again with
        :meth:`remove_if_unused` when its work fails.
        """
        if target is None:
            return None
        try:
            path = sqlite_file(parse_url(target))
        except (StoreError, RuntimeError):
            return None
        if path is None:
            return None
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except OSError:
            return None  # there already, or its folder is missing
        return path

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
        self._closed = True
        self._engine.dispose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (an in-memory database is then gone)."""
        return self._closed

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
        try:
            found = path.is_file()
        except OSError as exc:  # a name too long, a folder we may not enter
            raise StoreError(f"cannot open database {shown} read-only: "
                             f"{exc.strerror or exc}; check the path") from None
        if not found:
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


def _prepare_schema(connection: Connection, shown: str, *, create: bool = True) -> int:
    """Check (creating or upgrading it when ``create``) the schema; return its version."""
    tables = set(inspect(connection).get_table_names())
    if create and MetaRow.__tablename__ not in tables:
        _lock_for_set_up(connection)
        tables = set(inspect(connection).get_table_names())
    advice = (
        f"use a new database file or URL for this teamsim, or open this one with the teamsim "
        f"version that made it (this teamsim uses schema version {SCHEMA_VERSION})"
    )
    if MetaRow.__tablename__ in tables:
        found = _stored_version(connection)
        if found is None:
            raise SchemaVersionError(
                f"{shown}: the meta table records no schema_version, so teamsim cannot tell "
                f"which teamsim made it (expected {SCHEMA_VERSION}); {advice}"
            )
        if found == str(SCHEMA_VERSION):
            return SCHEMA_VERSION
        if found.isdigit() and int(found) in READABLE_VERSIONS:
            if not create:
                return int(found)
            _lock_for_set_up(connection)
            if _stored_version(connection) != str(SCHEMA_VERSION):
                _upgrade(connection)
            return SCHEMA_VERSION
        raise SchemaVersionError(
            f"{shown}: made with schema version {found}, this teamsim expects "
            f"{SCHEMA_VERSION}; nothing was changed. {advice[0].upper()}{advice[1:]}"
        )
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
    return SCHEMA_VERSION


def _stored_version(connection: Connection) -> str | None:
    return connection.scalar(select(MetaRow.value).where(MetaRow.key == _SCHEMA_KEY))


def _upgrade(connection: Connection) -> None:
    """Version 1 to 2: add the runs tables (the others are unchanged), in the set-up lock's
    transaction. Rows an older ``teamsim run --db`` wrote stay in the main tables, where
    ``teamsim seq`` and an older run folder's ``--db`` find them."""
    Base.metadata.create_all(connection, checkfirst=True)
    connection.execute(update(MetaRow).where(MetaRow.key == _SCHEMA_KEY)
                       .values(value=str(SCHEMA_VERSION)))
