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
