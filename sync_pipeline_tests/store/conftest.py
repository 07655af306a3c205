"""A fresh link store per test, on each backend: a real SQLite file and a real PostgreSQL server.

`store_url` runs each test twice (ids `sqlite`, `postgresql`); a test about SQLite's file itself
(WAL, pragmas, paths) takes `sqlite_url` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from sync_pipeline.local_postgres import LocalPostgres
from sync_pipeline.store import LinkStore
from sync_pipeline.store._engine import create_store_engine, write_transaction

NOW = datetime(2024, 9, 14, 8, 0, tzinfo=UTC)
FIELDS = ["givenName", "familyName", "mobilePhone", "directPhone"]


@pytest.fixture
def copy_url(store_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A second empty store on the same backend as `store_url` (an import target)."""
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'copy.sqlite'}"
    server: LocalPostgres = request.getfixturevalue("postgres_server")
    return server.create_database(store_url.rsplit("/", 1)[1][:50] + "_copy")


@pytest.fixture
def store(store_url: str) -> Iterator[LinkStore]:
    """An empty store, closed after the test."""
    with LinkStore(store_url) as opened:
        yield opened


def execute_sql(url: str, sql: str) -> None:
    """Run one statement on the store at `url` behind the store's back (a test's tampering)."""
    engine = create_store_engine(url)
    try:
        with write_transaction(engine) as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()
