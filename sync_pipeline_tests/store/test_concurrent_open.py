"""Many processes opening one new store at once: one creates the schema, the others wait."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

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
