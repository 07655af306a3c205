"""One real PostgreSQL server for the whole test session, and a fresh database per test."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipeline.local_postgres import LocalPostgres
from sync_pipeline.processes import free_port


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A PostgreSQL server of Debian's package in a temporary folder, stopped at the end.

    `make test` installs the package when missing (`make postgres`). The folder is made
    directly under the system's temp folder: pytest's own is private to the test user, and
    the server may run as another (see `sync_pipeline.local_postgres`).
    """
    folder = Path(tempfile.mkdtemp(prefix="sync-pipeline-pg-"))
    server = LocalPostgres(folder, free_port())
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


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
