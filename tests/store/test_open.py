"""Opening databases: schema creation, schema versions, URLs."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError

from teamsim.model import DatabaseError, RunMeta, SchemaVersionError, StoreError
from teamsim.store import DATABASE_URL_ENV, SCHEMA_VERSION, Store


def test_new_database_records_the_schema_version(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.meta.get("schema_version") == str(SCHEMA_VERSION)


def test_reopening_a_database_keeps_its_data(store_url: str) -> None:
    with Store.open(store_url) as store, store.unit_of_work() as uow:
        uow.meta.set("note", "kept")
    with Store.open(store_url) as store, store.unit_of_work() as uow:
        assert uow.meta.get("note") == "kept"


def test_other_schema_version_is_refused_naming_both_versions(store_url: str) -> None:
    Store.open(store_url).close()
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE meta SET value = '999' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(SchemaVersionError, match=rf"version 999.*expects {SCHEMA_VERSION}.*new"):
        Store.open(store_url)


def test_database_with_foreign_tables_is_refused_and_left_alone(store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    with pytest.raises(SchemaVersionError, match=r"invoices.*not a teamsim database"):
        Store.open(store_url)
    with engine.connect() as connection:
        tables = connection.execute(
            text(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_name = 'meta' AND table_schema = current_schema()"
            )
            if engine.dialect.name == "postgresql"
            else text("SELECT count(*) FROM sqlite_master WHERE name = 'meta'")
        ).scalar_one()
    engine.dispose()
    assert tables == 0


def test_schema_version_cannot_be_overwritten(store: Store) -> None:
    with store.unit_of_work() as uow, pytest.raises(ValueError, match="schema_version"):
        uow.meta.set("schema_version", "2")


def test_plain_path_opens_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    with Store.open(str(path)) as store:
        assert store.dialect == "sqlite"
    with sqlite3.connect(path) as connection:
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert row == (str(SCHEMA_VERSION),)


def test_environment_variable_names_the_default_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, f"sqlite:///{tmp_path / 'env.db'}")
    with Store.open() as store:
        assert store.url.endswith("env.db")
    assert (tmp_path / "env.db").exists()


def test_unknown_driver_is_a_store_error_naming_the_url() -> None:
    with pytest.raises(StoreError, match=r"nosuchdb://u:\*\*\*@h/d.*postgresql\+psycopg"):
        Store.open("nosuchdb://u:secret@h/d")


def test_unreachable_server_is_a_store_error_with_the_password_masked() -> None:
    url = "postgresql+psycopg://user:secret@127.0.0.1:1/nowhere?connect_timeout=2"
    masked = r"user:\*\*\*@127\.0\.0\.1:1/nowhere.*server is running"
    with pytest.raises(StoreError, match=masked) as info:
        Store.open(url)
    assert "secret" not in str(info.value)


def test_missing_folder_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no-such-dir.*writable"):
        Store.open(str(tmp_path / "no-such-dir" / "x.db"))


# ---------------------------------------------------------------------------------------------
# read-only opening, masked URLs, failures in the middle of work


def test_read_only_open_never_creates_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"missing.db read-only: no such file"):
        Store.open(tmp_path / "missing.db", read_only=True)
    assert list(tmp_path.iterdir()) == []


def test_read_only_open_refuses_an_empty_database_and_writes_nothing(store_url: str) -> None:
    empty = create_engine(store_url)
    empty.connect().close()  # an empty database (SQLite: an empty file)
    empty.dispose()
    with pytest.raises(SchemaVersionError, match=r"holds no tables"):
        Store.open(store_url, read_only=True)
    engine = create_engine(store_url)
    with engine.connect() as connection:
        assert connection.dialect.get_table_names(connection) == []
    engine.dispose()


def test_read_only_store_reads_and_refuses_writes(store_url: str) -> None:
    with Store.open(store_url) as store, store.unit_of_work() as uow:
        uow.meta.set("note", "kept")
    with Store.open(store_url, read_only=True) as store:
        with store.unit_of_work() as uow:
            assert uow.meta.get("note") == "kept"
        with pytest.raises(StoreError), store.unit_of_work() as uow:
            uow.meta.set("note", "changed")
    with Store.open(store_url) as store, store.unit_of_work() as uow:
        assert uow.meta.get("note") == "kept"


def test_read_only_open_of_a_sealed_file_leaves_no_files_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with Store.open(path) as store, store.unit_of_work() as uow:
        uow.meta.set("note", "kept")
    Store.seal(path)
    before = path.read_bytes()
    with Store.open(path, read_only=True) as store, store.unit_of_work() as uow:
        assert uow.meta.get("note") == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.db"]
    assert path.read_bytes() == before


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql+psycopg://u:pw@h:5432/db", "postgresql+psycopg://u:***@h:5432/db"),
    ("postgresql+psycopg://u@h/db?password=S3CRET&sslmode=require",
     "postgresql+psycopg://u@h/db?password=***&sslmode=require"),
    ("postgresql+psycopg://u@h/db?PASSWORD=S3CRET", "postgresql+psycopg://u@h/db?PASSWORD=***"),
    ("postgresql+psycopg://u@h/db?sslpassword=S3CRET&passfile=/x/.pgpass",
     "postgresql+psycopg://u@h/db?passfile=***&sslpassword=***"),
    ("postgresql+psycopg://u:pw@h:notaport/db?password=S3CRET",
     "postgresql+psycopg://u:***@h:notaport/db?password=***"),
    ("./teamsim.db", "./teamsim.db"),
])
def test_mask_url_hides_every_credential(url: str, shown: str) -> None:
    from teamsim.store._urls import mask_url

    masked = mask_url(url).replace("%2A", "*")
    assert masked == shown


def test_a_password_in_the_query_is_masked_in_open_errors() -> None:
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql+psycopg://u@127.0.0.1:1/test?password=S3CRET")
    assert "S3CRET" not in str(caught.value)
    assert "password=***" in str(caught.value).replace("%2A", "*")


def test_a_port_that_is_not_a_number_is_a_store_error() -> None:
    with pytest.raises(StoreError, match=r"u:\*\*\*@127.0.0.1:notaport/test \(the port is not "
                                         r"a number\)"):
        Store.open("postgresql+psycopg://u:pw@127.0.0.1:notaport/test")


def test_a_full_database_raises_a_database_error_that_survives_re_raising(
    tmp_path: Path
) -> None:
    from teamsim.model import DatabaseError

    path = tmp_path / "full.db"
    with Store.open(path) as store:
        with store.unit_of_work() as uow:
            page_count = uow._session.connection().exec_driver_sql(
                "PRAGMA page_count").scalar_one()
            uow._session.connection().exec_driver_sql(
                f"PRAGMA max_page_count={page_count + 1}")
        with pytest.raises(DatabaseError) as caught, store.unit_of_work() as uow:
            uow.meta.set("big", "x" * 100_000)
    error = caught.value
    assert error.reason == "database or disk is full"
    assert str(error).endswith("full.db: database or disk is full")
    copied = type(error)(*error.args)  # what SimPy does to a failed process's exception
    assert str(copied) == str(error)


_WITH_PASSWORD = "postgresql+psycopg://u:S3CRET@127.0.0.1:1/test"


def test_a_driver_message_quoting_the_password_is_masked_when_the_url_is_refused(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from teamsim.store import _store

    def refuse(url: Any, **kwargs: Any) -> Any:
        raise ValueError(f"bad option in {url.render_as_string(hide_password=False)}")

    monkeypatch.setattr(_store, "create_engine", refuse)
    with pytest.raises(StoreError) as raised:
        Store.open(_WITH_PASSWORD)
    assert "S3CRET" not in str(raised.value)
    assert "u:***@127.0.0.1:1/test" in str(raised.value)


@pytest.mark.parametrize("from_environment", [False, True])
def test_a_driver_message_quoting_the_password_is_masked_when_opening_fails(
    monkeypatch: pytest.MonkeyPatch, from_environment: bool
) -> None:
    from teamsim.store import _store

    real_create_engine = _store.create_engine

    def failing_schema(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("x", 'password "S3CRET" for user "u" is wrong')

    # The server is stood in for by an in-memory SQLite database whose set-up fails.
    monkeypatch.setattr(_store, "create_engine", lambda url, **kw: real_create_engine("sqlite://"))
    monkeypatch.setattr(_store, "_prepare_schema", failing_schema)
    monkeypatch.setenv(DATABASE_URL_ENV, _WITH_PASSWORD)
    with pytest.raises(DatabaseError) as raised:
        Store.open(None if from_environment else _WITH_PASSWORD)
    assert "S3CRET" not in str(raised.value)
    assert 'password "***" for user' in str(raised.value)


def test_a_driver_message_quoting_the_password_is_masked_in_the_middle_of_work() -> None:
    from teamsim.store._store import _raise_store_errors

    engine = SimpleNamespace(url=make_url(_WITH_PASSWORD))
    context = SimpleNamespace(
        connection=object(), engine=engine, original_exception=Exception("lost S3CRET"),
        sqlalchemy_exception=OperationalError("SELECT 1", {}, Exception("lost S3CRET")))
    error = _raise_store_errors(cast(ExceptionContext, context))
    assert isinstance(error, DatabaseError)
    assert "S3CRET" not in str(error)
    assert "S3CRET" not in error.reason
    assert str(error) == "postgresql+psycopg://u:***@127.0.0.1:1/test: lost ***"


def test_a_read_only_sqlite_store_names_its_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with Store.open(path) as store, store.unit_of_work() as uow:
        uow.meta.set("note", "kept")
    with Store.open(path, read_only=True) as store:
        with pytest.raises(DatabaseError) as raised, store.unit_of_work() as uow:
            uow.meta.set("note", "changed")
        assert str(raised.value).startswith(f"sqlite:///{path}: ")
        assert type(store._engine.pool).__name__ == "QueuePool"


def test_the_run_meta_round_trips_under_the_run_keys(store: Store) -> None:
    run = RunMeta(world="demo", seed=7, start="2025-01-06T09:00:00+00:00", tick_minutes=15,
                  human_timezone="Europe/Paris")
    with store.unit_of_work() as uow:
        assert uow.meta.run() is None
        uow.meta.save_run(run)
    with store.unit_of_work() as uow:
        assert uow.meta.run() == run
        assert uow.meta.get("run.seed") == "7"
        assert uow.meta.get("run.tick_minutes") == "15"


def test_a_partial_run_meta_is_an_error(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.meta.set("run.start", "2025-01-06T09:00:00+00:00")
        with pytest.raises(StoreError, match=r"incomplete \(no run.world, run.seed"):
            uow.meta.run()


def test_a_sqlite_url_with_arguments_its_driver_ignores_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}?password=S3CRET"
    with pytest.raises(StoreError, match=r"SQLite's driver takes no 'password' and would "
                                         r"ignore it\); remove it, or add uri=true") as caught:
        Store.open(url)
    assert "S3CRET" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []
