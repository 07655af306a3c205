"""`plan_inputs` scoped to a partial read: the links it can touch, not the whole table."""

from __future__ import annotations

from sync_pipeline.store import LinkStore, LinkWrite
from sync_pipeline.store._pair_state import SCOPE_MAX_IDS
from sync_pipeline_tests.store.conftest import FIELDS, NOW
from sync_pipeline_tests.store.test_holds import _hold

PAIR = "persons_contacts"


def _linked(store: LinkStore, count: int) -> None:
    links = [LinkWrite(str(i), f"c{i}", dict.fromkeys(FIELDS, ""), "match") for i in range(count)]
    store.add_links(PAIR, "contacts", links, "r", now=NOW)
    store.add_links("users_contacts", "contacts", [LinkWrite("u1", "c99", {}, "match")], "r")


def test_a_scope_reads_the_links_of_the_records_read_held_and_intended(store: LinkStore) -> None:
    """An incremental read's plan gets the links of the records it read (either side), of the
    records its holds name and of its open intents' sources; `links_complete` says so, and the
    other pairs' links are looked up among those CRMOffice ids only."""
    _linked(store, 50)
    store.save_holds(PAIR, [_hold("webcrm", "20")], [], "r1", now=NOW)
    store.open_intents_for(PAIR, "to_webcrm", [("c30", dict.fromkeys(FIELDS, "x"))], "r1", now=NOW)
    inputs = store.plan_inputs(PAIR, FIELDS, "contacts", {}, scope=(["3", "404"], ["c7", "c99"]))
    assert sorted(inputs.links["webcrm_id"]) == ["20", "3", "30", "7"]
    assert not inputs.links_complete
    assert inputs.linked_elsewhere == {"c99"}


def test_no_scope_or_too_wide_a_scope_reads_every_link(store: LinkStore) -> None:
    """A full read's plan, or a scope past `SCOPE_MAX_IDS`, reads the pair's whole table."""
    _linked(store, 50)
    assert len(store.plan_inputs(PAIR, FIELDS, "contacts", {}).links) == 50
    wide = [str(i) for i in range(SCOPE_MAX_IDS + 1)]
    inputs = store.plan_inputs(PAIR, FIELDS, "contacts", {}, scope=(wide, []))
    assert len(inputs.links) == 50 and inputs.links_complete


def test_a_targeted_runs_ids_read_exactly_their_links(store: LinkStore) -> None:
    """A targeted run's ids are exact: holds and intents add no links (its plan is complete
    over what it read, so an extra link would look deleted)."""
    _linked(store, 50)
    store.save_holds(PAIR, [_hold("webcrm", "20")], [], "r1", now=NOW)
    inputs = store.plan_inputs(PAIR, FIELDS, "contacts", {}, (["3"], []))
    assert sorted(inputs.links["webcrm_id"]) == ["3"]
    assert not inputs.links_complete
