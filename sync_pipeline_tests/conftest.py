"""One real PostgreSQL server for the whole test session, and a fresh database per test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipeline.local_postgres import LocalPostgres, temporary_server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A PostgreSQL server of Debian's package in a temporary folder, stopped at the end.

    `make test` installs the package when missing (`make postgres`); see
    `sync_pipeline.local_postgres.temporary_server` for where the server lives.
    """
    with temporary_server() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: LocalPostgres, request: pytest.FixtureRequest) -> str:
    """The `postgresql://` URL of a new empty database named after the test."""
    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:50]
    return postgres_server.create_database(f"t_{name}")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a SQLite store file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'state' / 'sync_state.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """The URL of an empty store on each backend (ids `sqlite`, `postgresql`): a SQLite file,
    or a new database on the session's PostgreSQL server (`pg_url`)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return sqlite_url
