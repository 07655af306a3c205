"""Many processes opening one new store at once: one creates the schema, the others wait."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import text

from sync_pipeline.store import SCHEMA_VERSION, LinkStore
from sync_pipeline.store._engine import create_store_engine, read_transaction

OPENERS = 12


def _open(url: str, start: threading.Barrier) -> int:
    start.wait(60)
    with LinkStore(url) as store:
        return store.schema_version


def test_concurrent_first_opens_all_succeed(store_url: str) -> None:
    """12 first opens of an empty database at once all succeed, with one version row."""
    start = threading.Barrier(OPENERS)
    with ThreadPoolExecutor(OPENERS) as pool:
        versions = list(pool.map(lambda _i: _open(store_url, start), range(OPENERS)))
    assert versions == [SCHEMA_VERSION] * OPENERS
    engine = create_store_engine(store_url)
    with read_transaction(engine) as connection:
        rows = connection.execute(text("SELECT key, value FROM meta")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("schema_version", str(SCHEMA_VERSION))]


def test_a_new_store_opened_while_another_connection_writes_waits_for_it(
    sqlite_url: str,
) -> None:
    """Switching a new database to WAL needs its exclusive lock, and SQLite refuses at once
    ("database is locked", no busy timeout) while another connection writes: the open waits
    for the writer instead of failing."""
    path = sqlite_url.removeprefix("sqlite:///")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE earlier_writer (x)")
    opened: list[int] = []
    failed: list[BaseException] = []

    def open_store() -> None:
        try:
            with LinkStore(sqlite_url) as store:
                opened.append(store.schema_version)
        except BaseException as error:  # reported below, with its message
            failed.append(error)

    thread = threading.Thread(target=open_store)
    thread.start()
    thread.join(0.5)
    writer.execute("COMMIT")
    writer.close()
    thread.join(30)
    assert not failed, f"opening failed: {failed[0]}"
    assert opened == [SCHEMA_VERSION]
