"""Ambiguous matches stay held in the store until an operator resolves them (issue 9, kind 7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from sync_pipeline.store import LinkStore
from sync_pipeline_tests.pipeline.conftest import BOTH_BACKENDS, Pipeline
from sync_pipeline_tests.pipeline.helpers import PERSON, contacts, partner, persons

PAIR = "persons_contacts"
TWIN = {k: v for k, v in PERSON.items() if k != "PersonTitle"}
CONTACT = {
    "givenName": PERSON["PersonFirstName"],
    "familyName": PERSON["PersonLastName"],
    "directPhone": PERSON["PersonDirectPhone"],
    "mobilePhone": PERSON["PersonMobilePhone"],
}


def _held(store: LinkStore) -> set[tuple[str, str]]:
    frame = store.holds_frame(PAIR)
    return set(zip(frame["side"], frame["record_id"], strict=True))


def _twins(pipeline: Pipeline) -> tuple[int, int, str]:
    """Two identical persons and one identical contact, made an hour ago (outside any later
    incremental window) and synced once: all three held."""
    sandbox = pipeline.sandbox
    before = datetime.now(UTC) - timedelta(hours=1)
    first = sandbox.webcrm.insert("Persons", dict(TWIN), at=before)
    second = sandbox.webcrm.insert("Persons", dict(TWIN), at=before)
    contact = sandbox.crmoffice.insert("contacts", dict(CONTACT), at=before)
    pipeline.sync()
    assert _held(pipeline.store()) == {
        ("webcrm", str(first)),
        ("webcrm", str(second)),
        ("crmoffice", contact),
    }
    return first, second, contact


def _assert_still_held(pipeline: Pipeline, first: int, contact: str) -> None:
    store = pipeline.store()
    assert len(contacts(pipeline.sandbox)) == 1 and len(persons(pipeline.sandbox)) == 2
    assert store.find_links(str(first)) == [] and store.find_links(contact) == []
    assert ("webcrm", str(first)) in _held(store)


def test_a_held_person_edited_alone_is_neither_created_nor_linked(pipeline: Pipeline) -> None:
    """An unmapped edit brings one held twin alone into a window: every kind of run keeps it
    held (no duplicate contact, no link), and the dry run shows the holds."""
    first, second, contact = _twins(pipeline)
    runs: tuple[tuple[tuple[str, ...], bool], ...] = (((), False), ((PAIR,), False), ((), True))
    for n, (pairs, full) in enumerate(runs):
        pipeline.sandbox.webcrm.edit("Persons", first, {"PersonTitle": f"Chef {n}"})
        pipeline.sync(*pairs, full=full)
        _assert_still_held(pipeline, first, contact)
    dry = pipeline.sync(dry_run=True)
    plan = dry.asset_value(dg.AssetKey([PAIR, "plan_links"])).plan
    assert {("webcrm", str(first)), ("webcrm", str(second)), ("crmoffice", contact)} <= set(
        zip(plan.held["side"], plan.held["id"], strict=True)
    )


@BOTH_BACKENDS
def test_a_resolved_hold_links_and_the_next_run_syncs_it(pipeline: Pipeline) -> None:
    """`resolve --link` links the held person to the contact on the next run, which then
    syncs its edits; the other twin stays held (never created)."""
    first, second, contact = _twins(pipeline)
    store = pipeline.store()
    ids = store.holds_frame(PAIR).set_index("record_id")["id"]
    store.resolve_hold(
        int(ids[str(first)]), "link", other_id=contact, crmoffice_entity={PAIR: "contacts"}
    )
    pipeline.sync(PAIR)
    assert partner(pipeline.store(), PAIR, first) == contact
    assert _held(pipeline.store()) == {("webcrm", str(second))}
    pipeline.sandbox.webcrm.edit("Persons", first, {"PersonFirstName": "Sørine"})
    pipeline.sync()
    assert [c["givenName"] for c in contacts(pipeline.sandbox)] == ["Sørine"]
    assert len(persons(pipeline.sandbox)) == 2
    assert pipeline.store().find_links(str(second)) == []
