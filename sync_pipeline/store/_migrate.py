"""The schema version: created with a new store, checked on open, migrated by explicit steps.

Opening is serialised so that concurrent first opens of one database create the schema once:
SQLite by the write transaction itself (`BEGIN IMMEDIATE`), PostgreSQL by a transaction-level
advisory lock taken before the version is read (`pg_advisory_xact_lock`, released at commit or
rollback; PostgreSQL docs, "Advisory Lock Functions").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import Connection, Engine, inspect, select, text

from sync_pipeline.store._engine import (
    create_store_engine,
    read_transaction,
    redacted,
    write_transaction,
)
from sync_pipeline.store._errors import SchemaVersionError
from sync_pipeline.store._schema import (
    SCHEMA_VERSION,
    holds,
    hook_events,
    locks,
    meta,
    metadata,
    rate_budgets,
    rate_grants,
)

Migration = Callable[[Connection], None]

# The advisory lock key of schema creation and migration: any fixed 64-bit number, unique
# among the advisory locks this database's users take ("sync_pip" in ASCII).
SCHEMA_LOCK_KEY = 0x73796E635F706970


def _add_holds(connection: Connection) -> None:
    """Version 2: the `holds` table (records held for an operator; see `_schema.holds`)."""
    holds.create(connection)


def _add_hook_events(connection: Connection) -> None:
    """Version 3: the `hook_events` table (WebCRM hook events received; see `_schema`)."""
    hook_events.create(connection, checkfirst=True)


def _add_rate_budgets(connection: Connection) -> None:
    """Version 4: the shared request budgets (`_schema.rate_budgets`, `_schema.rate_grants`).

    `checkfirst`: a store created at an older target by this code already has every table."""
    rate_budgets.create(connection, checkfirst=True)
    rate_grants.create(connection, checkfirst=True)


def _lease_locks(connection: Connection) -> None:
    """Version 5: pair locks become leases with a fencing token (see `_schema.locks`).

    Locks are transient (a lock of an older run cannot outlive the upgrade meaningfully),
    so the table is recreated empty; the first acquisition of each pair gets token 1.
    """
    connection.exec_driver_sql("DROP TABLE IF EXISTS locks")
    locks.create(connection)


# MIGRATIONS[v] turns a version-v store into a version-(v + 1) one. Version 1 is the first.
MIGRATIONS: Mapping[int, Migration] = {
    1: _add_holds,
    2: _add_hook_events,
    3: _add_rate_budgets,
    4: _lease_locks,
}


def stored_version(connection: Connection) -> int | None:
    """The store's schema version, or None for an empty database."""
    if not inspect(connection).has_table("meta"):
        return None
    value = connection.execute(select(meta.c.value).where(meta.c.key == "schema_version"))
    text = value.scalar_one_or_none()
    return None if text is None else int(text)


def _serialise_schema_changes(connection: Connection) -> None:
    """On PostgreSQL, wait for any other opener's schema transaction to end (SQLite already
    holds its write lock). Must be the transaction's first statement: the version check after
    it then sees what the previous holder committed (READ COMMITTED)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})


def ensure_schema(
    engine: Engine,
    url: str,
    *,
    target: int = SCHEMA_VERSION,
    steps: Mapping[int, Migration] = MIGRATIONS,
) -> int:
    """Create a new store at `target`, migrate an older one step by step; return the version.

    Raises SchemaVersionError for a store newer than `target` or a missing migration step.
    """
    with write_transaction(engine) as connection:
        _serialise_schema_changes(connection)
        version = stored_version(connection)
        if version is None:
            metadata.create_all(connection)
            connection.execute(meta.insert().values(key="schema_version", value=str(target)))
            return target
        if version > target:
            raise SchemaVersionError(
                f"sync state at {redacted(url)} has schema version {version}, newer than this "
                f"sync_pipeline supports ({target}); upgrade sync_pipeline or use another store"
            )
        for step_from in range(version, target):
            if step_from not in steps:
                raise SchemaVersionError(f"no migration from schema version {step_from}")
            steps[step_from](connection)
        if version < target:
            connection.execute(
                meta.update().where(meta.c.key == "schema_version").values(value=str(target))
            )
        return target


def migrate_store(url: str) -> tuple[int | None, int]:
    """`sync-pipeline state migrate`: create or migrate the store at `url` now (each open
    would too; this runs it once, e.g. before a deployment's runs start).

    Returns (the version found, None for an empty database; the version now). Raises
    SchemaVersionError as `ensure_schema` does.
    """
    engine = create_store_engine(url)
    try:
        with read_transaction(engine) as connection:
            before = stored_version(connection)
        return before, ensure_schema(engine, url)
    finally:
        engine.dispose()
