"""Holds: records held for an operator live in the store until resolved."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect, text

from sync_pipeline.store import SCHEMA_VERSION, HoldError, HoldWrite, LinkStore, LinkWrite
from sync_pipeline.store._engine import create_store_engine, write_transaction
from sync_pipeline.store._migrate import ensure_schema
from sync_pipeline_tests.store.conftest import NOW

PAIR = "persons_contacts"
ENTITIES = {PAIR: "contacts"}
WHY = "ambiguous match: 2 webcrm and 1 crmoffice records share the key"


def _hold(side: str, record_id: str, name: str = "Ole") -> HoldWrite:
    return HoldWrite(side, record_id, "ambiguous_match", WHY, {"givenName": name}, NOW)


def test_holds_are_kept_with_their_values_until_resolved(store: LinkStore) -> None:
    """Held records are stored once per record, refreshed when held again, listed while open."""
    store.save_holds(PAIR, [_hold("webcrm", "1"), _hold("crmoffice", "c1")], [], "r1", now=NOW)
    store.save_holds(PAIR, [_hold("webcrm", "1", "Olé")], [], "r2")
    held = store.holds_frame(PAIR)
    assert held[["side", "record_id", "kind", "status"]].values.tolist() == [
        ["webcrm", "1", "ambiguous_match", "open"],
        ["crmoffice", "c1", "ambiguous_match", "open"],
    ]
    assert json.loads(held["payload"].iloc[0]) == {"givenName": "Olé"}
    assert held["since"].iloc[0] == NOW


def test_resolving_records_the_answer_and_refuses_what_breaks_a_rule(store: LinkStore) -> None:
    """`resolve` answers an open hold once; unknown ids and links to linked records are errors."""
    store.save_holds(PAIR, [_hold("webcrm", "1"), _hold("webcrm", "2")], [], "r1", now=NOW)
    store.add_links(PAIR, "contacts", [LinkWrite("9", "c9", {}, "match")], "r1")
    first, second = (int(i) for i in store.holds_frame(PAIR)["id"])
    with pytest.raises(HoldError, match="no hold 999"):
        store.resolve_hold(999, "ignore", crmoffice_entity=ENTITIES)
    with pytest.raises(HoldError, match="already linked"):
        store.resolve_hold(first, "link", other_id="c9", crmoffice_entity=ENTITIES)
    answer = store.resolve_hold(first, "link", other_id="c1", crmoffice_entity=ENTITIES)
    assert answer["status"] == "link" and answer["other_id"] == "c1"
    with pytest.raises(HoldError, match="already promised"):
        store.resolve_hold(second, "link", other_id="c1", crmoffice_entity=ENTITIES)
    with pytest.raises(HoldError, match="not open"):
        store.resolve_hold(first, "ignore", crmoffice_entity=ENTITIES)
    assert store.holds_frame(PAIR)["record_id"].tolist() == ["2"]


def test_linked_records_settle_their_holds(store: LinkStore) -> None:
    """A hold whose record got linked is `done` and no longer listed."""
    store.save_holds(PAIR, [_hold("webcrm", "1"), _hold("crmoffice", "c1")], [], "r1", now=NOW)
    store.save_holds(PAIR, [], [("webcrm", "1"), ("crmoffice", "c1")], "r2", now=NOW)
    assert store.holds_frame(PAIR).empty
    assert set(store.holds_frame(PAIR, statuses=None)["status"]) == {"done"}


def test_version_1_store_is_migrated_to_holds(store_url: str) -> None:
    """A store made before holds existed gains the holds table through its migration step."""
    engine = create_store_engine(store_url)
    ensure_schema(engine, store_url, target=1, steps={})
    with write_transaction(engine) as connection:
        connection.execute(text("DROP TABLE holds"))
    engine.dispose()
    with LinkStore(store_url) as store:
        assert store.schema_version == SCHEMA_VERSION
        store.save_holds(PAIR, [_hold("webcrm", "1")], [], "r1", now=NOW)
        assert len(store.holds_frame(PAIR)) == 1
    engine = create_store_engine(store_url)
    assert inspect(engine).has_table("holds")
    engine.dispose()
