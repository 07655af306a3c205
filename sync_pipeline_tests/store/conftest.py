"""A fresh link store on a real SQLite file per test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync_pipeline.store import LinkStore

NOW = datetime(2024, 9, 14, 8, 0, tzinfo=UTC)
FIELDS = ["givenName", "familyName", "mobilePhone", "directPhone"]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """The URL of a store file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'state' / 'sync_state.sqlite'}"


@pytest.fixture
def store(store_url: str) -> Iterator[LinkStore]:
    """An empty store, closed after the test."""
    with LinkStore(store_url) as opened:
        yield opened
