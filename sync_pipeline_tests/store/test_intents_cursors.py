"""Create intents (opened before a create, closed after) and extraction cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from sync_pipeline.store import LinkStore
from sync_pipeline_tests.store.conftest import NOW

PAIR = "persons_contacts"


def test_open_intents_for_returns_ids_in_order(store: LinkStore) -> None:
    """One intent per item, ids in the order given, readable with payload columns."""
    items = [(str(i), {"givenName": f"n{i}"}) for i in range(5)]
    ids = store.open_intents_for(PAIR, "to_crmoffice", items, "run-1", now=NOW)
    assert ids == sorted(ids) and len(set(ids)) == 5
    frame = store.open_intents(PAIR, ["givenName", "familyName"])
    assert frame["intent_id"].tolist() == ids
    assert frame["source_id"].tolist() == [str(i) for i in range(5)]
    assert frame["givenName"].tolist() == [f"n{i}" for i in range(5)]
    assert frame["familyName"].tolist() == [""] * 5
    assert frame["direction"].unique().tolist() == ["to_crmoffice"]
    assert str(frame["intent_id"].dtype) == "Int64"
    assert str(frame["created_at"].dtype) == "datetime64[ns, UTC]"
    assert frame["created_at"].iloc[0] == pd.Timestamp(NOW)


def test_no_items_no_intents(store: LinkStore) -> None:
    """Opening nothing writes nothing."""
    assert store.open_intents_for(PAIR, "to_webcrm", [], "r") == []
    assert store.open_intents(PAIR, []).empty


def test_close_intents_only_closes_open_ones(store: LinkStore) -> None:
    """Closed intents leave the open list; closing again is a no-op."""
    ids = store.open_intents_for(PAIR, "to_webcrm", [("c1", {}), ("c2", {})], "r", now=NOW)
    assert store.close_intents(ids[:1], "not_applied", now=NOW) == 1
    assert store.close_intents(ids, "applied", target_ids=["x", "42"], now=NOW) == 1
    assert store.close_intents(ids, "held") == 0
    assert store.open_intents(PAIR, []).empty


def test_close_intents_rejects_bad_status_and_lengths(store: LinkStore) -> None:
    """Only a closing status is accepted, and target ids must pair with ids."""
    ids = store.open_intents_for(PAIR, "to_webcrm", [("c1", {})], "r")
    with pytest.raises(ValueError, match="cannot close"):
        store.close_intents(ids, "open")
    with pytest.raises(ValueError, match="one to one"):
        store.close_intents(ids, "applied", target_ids=["a", "b"])


def test_intents_are_per_pair(store: LinkStore) -> None:
    """A pair's open intents do not include another pair's."""
    store.open_intents_for("users_contacts", "to_crmoffice", [("u1", {})], "r")
    assert store.open_intents(PAIR, []).empty


def test_cursor_round_trip_in_utc(store: LinkStore) -> None:
    """A cursor is stored as UTC and read back as the same instant; unset is None."""
    assert store.get_cursor("webcrm", "Persons") is None
    copenhagen = timezone(timedelta(hours=2))
    store.set_cursor("webcrm", "Persons", datetime(2024, 9, 14, 10, 0, 1, tzinfo=copenhagen))
    value = store.get_cursor("webcrm", "Persons")
    assert value == datetime(2024, 9, 14, 8, 0, 1, tzinfo=UTC)
    assert value is not None and value.utcoffset() == timedelta(0)
    store.set_cursor("webcrm", "Persons", NOW + timedelta(days=1))
    assert store.get_cursor("webcrm", "Persons") == NOW + timedelta(days=1)
    assert store.get_cursor("crmoffice", "Persons") is None


def test_naive_times_are_refused(store: LinkStore) -> None:
    """A datetime without offset is ambiguous and raises ValueError."""
    with pytest.raises(ValueError, match="naive"):
        store.set_cursor("webcrm", "Persons", datetime(2024, 1, 1))
