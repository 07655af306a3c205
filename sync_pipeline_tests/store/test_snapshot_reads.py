"""Reads that must be consistent see one snapshot, whatever other connections commit meanwhile."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from sync_pipeline.store import LinkStore, LinkWrite
from sync_pipeline.store._engine import read_transaction
from sync_pipeline.store._history import history_frame
from sync_pipeline.store._reads import count_links
from sync_pipeline_tests.store.conftest import NOW

PAIR = "persons_contacts"


def _link(store: LinkStore, webcrm_id: str) -> None:
    row = LinkWrite(webcrm_id, f"c{webcrm_id}", {"givenName": "A"}, "match")
    store.add_links(PAIR, "contacts", [row], "r", now=NOW)


def test_read_transaction_does_not_see_commits_made_while_it_reads(store: LinkStore) -> None:
    """Links read, then another connection commits a link + history, then history read: the
    history still matches the links read first (one snapshot, not one per statement)."""
    _link(store, "1")
    with read_transaction(store._engine) as reader:
        linked = count_links(reader, PAIR, None)
        _link(store, "2")  # its own write transaction, committed here
        history = history_frame(reader, PAIR, None, None, None)
        assert count_links(reader, PAIR, None) == linked == 1
    assert len(history) == linked
    assert store.count_links(PAIR, None) == 2


def test_read_transaction_is_read_only_on_postgresql(pg_url: str) -> None:
    """On PostgreSQL a write inside a read transaction is refused by the server."""
    with LinkStore(pg_url) as store:
        with (
            pytest.raises(DBAPIError, match="read-only transaction"),
            read_transaction(store._engine) as reader,
        ):
            reader.execute(text("DELETE FROM links"))
        _link(store, "1")  # the pooled connection is writable again afterwards
        assert store.count_links(PAIR) == 1
