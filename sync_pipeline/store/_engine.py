"""Engines and transactions: SQLite (WAL) by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import backoff
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url

BUSY_TIMEOUT_MS = 30_000
_WRITE = "sync_pipeline_write"


def default_state_url(dagster_home: str | None, cwd: Path) -> str:
    """The SQLite URL of the default store: under `dagster_home` if set, else `cwd/.sync_state/`."""
    folder = Path(dagster_home) if dagster_home else cwd / ".sync_state"
    return f"sqlite:///{(folder / 'sync_state.sqlite').absolute()}"


def redacted(url: str) -> str:
    """`url` without its password, fit for messages."""
    return make_url(url).render_as_string(hide_password=True)


def normalised_url(url: str) -> URL:
    """`url` with PostgreSQL's driver made explicit: `postgresql://` means psycopg2 here.

    SQLAlchemy 2.1 reads a bare `postgresql://` as psycopg 3, which is not installed; psycopg2
    is the driver `dagster-postgres` uses, so one driver serves the store and the instance.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg2")
    return parsed


def create_store_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, `synchronous=NORMAL`, foreign keys, busy timeout."""
    parsed = normalised_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN is too late
    # and too weak: a deferred transaction that later writes can fail without waiting).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _contended(error: Exception) -> bool:
    return "locked" in str(error) or "busy" in str(error)


@backoff.on_exception(
    backoff.expo,
    sqlite3.OperationalError,
    max_time=BUSY_TIMEOUT_MS / 1000,
    giveup=lambda error: not _contended(error),
    factor=0.01,
    max_value=0.5,
    logger=None,
)
def _use_wal(cursor: Any) -> None:
    """`PRAGMA journal_mode=WAL`, tried again (for up to the busy timeout) while another
    connection writes: switching a new database's journal mode needs its exclusive lock, and
    SQLite answers "database is locked" at once, without waiting on the busy timeout, when
    waiting could deadlock (https://www.sqlite.org/c3ref/busy_handler.html). Several processes
    opening a new store together (`make dev` starts three) met it: one creates the schema while
    another switches to WAL. Once a database is in WAL mode the pragma is a no-op."""
    cursor.execute("PRAGMA journal_mode=WAL")


def _on_sqlite_begin(connection: Connection) -> None:
    # Writers take the write lock up front, so they queue on busy_timeout instead of failing.
    immediate = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE: True})
        with connection.begin():
            yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """One read transaction: a consistent snapshot for the block.

    SQLite (WAL) keeps the snapshot of the transaction's first read. PostgreSQL's default READ
    COMMITTED takes a new snapshot per statement, so the block runs REPEATABLE READ (one
    snapshot from its first statement) and READ ONLY (a write raises; a read-only repeatable
    read never fails to serialise); PostgreSQL docs, "Transaction Isolation". The connection
    gets its defaults back when it returns to the pool.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        with connection.begin():
            yield connection
