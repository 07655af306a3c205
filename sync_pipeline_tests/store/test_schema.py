"""The store's database: pragmas, schema version and migrations, default location."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from sync_pipeline.store import SCHEMA_VERSION, LinkStore, SchemaVersionError, default_state_url
from sync_pipeline.store._engine import create_store_engine, read_transaction, redacted
from sync_pipeline.store._migrate import ensure_schema
from sync_pipeline_tests.store.conftest import execute_sql


def test_new_store_writes_schema_version(store: LinkStore, store_url: str) -> None:
    """Creating a store records the current schema version in `meta`, in one row."""
    engine = create_store_engine(store_url)
    with read_transaction(engine) as connection:
        rows = connection.execute(text("SELECT key, value FROM meta")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("schema_version", str(SCHEMA_VERSION))]
    assert store.schema_version == SCHEMA_VERSION == 5


def test_sqlite_runs_in_wal_mode_with_safe_pragmas(sqlite_url: str) -> None:
    """Connections use WAL, synchronous=NORMAL, foreign keys and a busy timeout (SQLite only)."""
    LinkStore(sqlite_url).close()
    engine = create_store_engine(sqlite_url)
    with read_transaction(engine) as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        "busy_timeout": 30000,
    }
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_reopening_keeps_data_and_version(store_url: str) -> None:
    """A store opened twice is the same store, not re-created."""
    with LinkStore(store_url) as first:
        first.open_intents_for("p", "to_crmoffice", [("1", {})], "run-1")
    with LinkStore(store_url) as second:
        assert second.schema_version == SCHEMA_VERSION
        assert len(second.open_intents("p", [])) == 1


def test_newer_schema_version_is_refused_with_one_line(store_url: str) -> None:
    """A store written by a newer version raises SchemaVersionError with a one-line message."""
    LinkStore(store_url).close()
    execute_sql(store_url, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError) as raised:
        LinkStore(store_url)
    message = str(raised.value)
    assert "\n" not in message
    assert "schema version 99" in message and f"supports ({SCHEMA_VERSION})" in message


def test_store_urls_in_messages_hide_the_password() -> None:
    """URLs shown in store errors never carry the password."""
    shown = redacted("postgresql://sync:hunter2@db.example/state")
    assert "hunter2" not in shown and "db.example/state" in shown


def test_older_store_is_migrated_step_by_step(store_url: str) -> None:
    """An older store runs each explicit migration step in order and records the new version."""
    LinkStore(store_url).close()
    ran: list[int] = []

    def step(version: int) -> object:
        def migrate(connection: Connection) -> None:
            ran.append(version)
            connection.execute(text(f"CREATE TABLE added_in_{version + 1} (x TEXT)"))

        return migrate

    engine = create_store_engine(store_url)
    now, target = SCHEMA_VERSION, SCHEMA_VERSION + 2
    steps = {now: step(now), now + 1: step(now + 1)}
    # why the ignore below: a hand-made migration step list for the test, not the real step type
    assert ensure_schema(engine, store_url, target=target, steps=steps) == target  # type: ignore[arg-type]
    assert ran == [now, now + 1]
    # why the ignore below: a hand-made migration step list for the test, not the real step type
    assert ensure_schema(engine, store_url, target=target, steps=steps) == target  # type: ignore[arg-type]
    assert ran == [now, now + 1]
    engine.dispose()
    with pytest.raises(SchemaVersionError):
        LinkStore(store_url)


def test_missing_migration_step_is_an_error(store_url: str) -> None:
    """Without a step for some version, opening fails instead of guessing."""
    LinkStore(store_url).close()
    engine = create_store_engine(store_url)
    message = f"no migration from schema version {SCHEMA_VERSION}"
    with pytest.raises(SchemaVersionError, match=message):
        ensure_schema(engine, store_url, target=SCHEMA_VERSION + 1, steps={})
    engine.dispose()


def test_default_state_url_prefers_dagster_home(tmp_path: Path) -> None:
    """The default store lives in $DAGSTER_HOME if given, else in .sync_state/ under cwd."""
    home = tmp_path / "home"
    assert default_state_url(str(home), tmp_path) == f"sqlite:///{home / 'sync_state.sqlite'}"
    expected = f"sqlite:///{tmp_path / '.sync_state' / 'sync_state.sqlite'}"
    assert default_state_url(None, tmp_path) == expected
    assert default_state_url("", tmp_path) == expected


def test_store_creates_missing_parent_directory(tmp_path: Path) -> None:
    """Opening the default URL creates `.sync_state/` when it does not exist."""
    with LinkStore(default_state_url(None, tmp_path)) as opened:
        assert opened.count_links("persons_contacts") == 0
    assert (tmp_path / ".sync_state" / "sync_state.sqlite").is_file()
