"""One test per rule of DESIGN.md section 2, end to end through Dagster against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from sync_pipeline_tests.pipeline.conftest import BOTH_BACKENDS, Pipeline
from sync_pipeline_tests.pipeline.helpers import (
    PERSON,
    contact,
    contacts,
    partner,
    person,
    persons,
)


def _linked(pipeline: Pipeline) -> tuple[int, str]:
    person_id = pipeline.sandbox.webcrm.insert("Persons", dict(PERSON))
    pipeline.sync("persons_contacts")
    return person_id, partner(pipeline.store(), "persons_contacts", person_id)


@BOTH_BACKENDS
def test_conflict_newest_edit_wins_and_is_recorded(pipeline: Pipeline) -> None:
    """Both sides changed the same field differently: the more recently updated record wins."""
    person_id, contact_id = _linked(pipeline)
    now = datetime.now(UTC)
    pipeline.sandbox.webcrm.edit(
        "Persons", person_id, {"PersonLastName": "Older"}, at=now - timedelta(seconds=30)
    )
    pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"familyName": "Newer"}, at=now)
    pipeline.sync("persons_contacts")
    assert person(pipeline.sandbox, person_id)["PersonLastName"] == "Newer"
    assert contact(pipeline.sandbox, contact_id)["familyName"] == "Newer"
    history = pipeline.store().history_frame(pair="persons_contacts", webcrm_id=str(person_id))
    assert "conflict" in set(history["kind"])


def test_conflict_non_empty_beats_empty(pipeline: Pipeline) -> None:
    """A newer clear loses to an older non-empty edit of the same field."""
    person_id, contact_id = _linked(pipeline)
    now = datetime.now(UTC)
    pipeline.sandbox.webcrm.edit(
        "Persons",
        person_id,
        {"PersonMobilePhone": "+45 55 55 55 55"},
        at=now - timedelta(seconds=30),
    )
    pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"mobilePhone": None}, at=now)
    pipeline.sync("persons_contacts")
    assert contact(pipeline.sandbox, contact_id)["mobilePhone"] == "+45 55 55 55 55"
    assert person(pipeline.sandbox, person_id)["PersonMobilePhone"] == "+45 55 55 55 55"


def test_clear_propagates(pipeline: Pipeline) -> None:
    """Emptying a field on one side, the other unchanged, empties it on the other side."""
    person_id, contact_id = _linked(pipeline)
    pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"directPhone": None})
    pipeline.sync("persons_contacts")
    assert person(pipeline.sandbox, person_id)["PersonDirectPhone"] in ("", None)


def test_empty_values_never_flap(pipeline: Pipeline) -> None:
    """`""` in WebCRM and null/whitespace in CRMOffice are one value: no write, run after run."""
    person_id = pipeline.sandbox.webcrm.insert(
        "Persons", {"PersonFirstName": "Ib", "PersonLastName": "Ås", "PersonDirectPhone": ""}
    )
    pipeline.sync("persons_contacts")
    contact_id = partner(pipeline.store(), "persons_contacts", person_id)
    pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"directPhone": "   "})
    pipeline.sync("persons_contacts")
    before = pipeline.writes()
    pipeline.sync("persons_contacts")
    pipeline.sync("persons_contacts")
    assert pipeline.writes() == before


@BOTH_BACKENDS
def test_second_run_writes_nothing(pipeline: Pipeline) -> None:
    """Right after a sync, another sync writes nothing to either API (no echo)."""
    for n in range(5):
        pipeline.sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": f"P{n}"})
        pipeline.sandbox.crmoffice.insert("contacts", {"givenName": f"C{n}", "familyName": "Berg"})
    pipeline.sandbox.webcrm.insert("Users", {"UserName": "U", "UserMobilePhone": "+45 12 12 12 12"})
    pipeline.sandbox.webcrm.insert("Products", {"ProductCombined": "Øl"})
    pipeline.sync(full=True)
    before = pipeline.writes()
    pipeline.sync()
    pipeline.sync(full=True)
    assert pipeline.writes() == before


def test_unmapped_fields_survive_updates_on_both_sides(pipeline: Pipeline) -> None:
    """Updates touch only mapped fields: PersonEmail/PersonTitle and a contact's email survive."""
    person_id, contact_id = _linked(pipeline)
    pipeline.sandbox.crmoffice.edit(
        "contacts", contact_id, {"email": "k@example.no", "title": "CFO"}
    )
    pipeline.sync("persons_contacts")
    pipeline.sandbox.webcrm.edit("Persons", person_id, {"PersonFirstName": "Sørine"})
    pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"mobilePhone": "+45 21 21 21 21"})
    pipeline.sync("persons_contacts")
    updated_person = person(pipeline.sandbox, person_id)
    updated_contact = contact(pipeline.sandbox, contact_id)
    assert updated_person["PersonEmail"] == PERSON["PersonEmail"]
    assert updated_person["PersonTitle"] == PERSON["PersonTitle"]
    assert updated_person["PersonMobilePhone"] == "+45 21 21 21 21"
    assert (updated_contact["email"], updated_contact["title"]) == ("k@example.no", "CFO")
    assert updated_contact["givenName"] == "Sørine"


def test_user_linked_contact_never_spawns_a_person(pipeline: Pipeline) -> None:
    """A contact created from (or matched to) a user is never turned into a WebCRM person."""
    pipeline.sandbox.webcrm.insert("Users", {"UserName": "A", "UserMobilePhone": "+45 31 31 31 31"})
    pipeline.sandbox.crmoffice.insert("contacts", {"mobilePhone": "+45 32 32 32 32"})
    pipeline.sandbox.webcrm.insert("Users", {"UserName": "B", "UserMobilePhone": "+45 32 32 32 32"})
    pipeline.sync(full=True)
    pipeline.sync()
    pipeline.sync(full=True)
    assert persons(pipeline.sandbox) == []
    assert len(contacts(pipeline.sandbox)) == 2


def test_deleted_records_are_not_resurrected(pipeline: Pipeline) -> None:
    """Deleting a linked contact re-creates nothing; a full run marks the link orphaned."""
    person_id, contact_id = _linked(pipeline)
    pipeline.sandbox.crmoffice.delete("contacts", contact_id)
    pipeline.sandbox.webcrm.edit("Persons", person_id, {"PersonFirstName": "Still here"})
    pipeline.sync("persons_contacts")
    pipeline.sync("persons_contacts", full=True)
    pipeline.sync("persons_contacts")
    assert contacts(pipeline.sandbox) == []
    links = pipeline.store().find_links(str(person_id))
    assert [link["status"] for link in links] == ["orphaned"]


def test_initial_matching_links_and_reports_ambiguity(pipeline: Pipeline) -> None:
    """Equal match keys link pre-existing records; two candidates for one key link nothing."""
    sandbox = pipeline.sandbox
    unique = {
        "PersonFirstName": "Lone",
        "PersonLastName": "Dahl",
        "PersonMobilePhone": "+45 26 26 26 26",
    }
    twin = {
        "PersonFirstName": "Ole",
        "PersonLastName": "Hansen",
        "PersonMobilePhone": "+45 27 27 27 27",
    }
    lone = sandbox.webcrm.insert("Persons", unique)
    ole = sandbox.webcrm.insert("Persons", twin)
    lone_contact = sandbox.crmoffice.insert(
        "contacts", {"givenName": "lone ", "familyName": "DAHL", "mobilePhone": "+4526262626"}
    )
    for _ in range(2):
        sandbox.crmoffice.insert(
            "contacts",
            {"givenName": "Ole", "familyName": "Hansen", "mobilePhone": "+45 27 27 27 27"},
        )
    dry = pipeline.sync(dry_run=True)
    plan = dry.asset_value(dg.AssetKey(["persons_contacts", "plan_links"])).plan
    assert plan.counts()["matches"] == 1 and plan.counts()["held"] >= 3
    pipeline.sync(full=True)
    store = pipeline.store()
    assert partner(store, "persons_contacts", lone) == lone_contact
    assert store.find_links(str(ole)) == []
    assert len(persons(sandbox)) == 2 and len(contacts(sandbox)) == 3


def test_dry_run_changes_nothing(pipeline: Pipeline) -> None:
    """A dry run plans creates but writes nothing to either CRM or the link store."""
    pipeline.sandbox.webcrm.insert("Persons", dict(PERSON))
    pipeline.sandbox.crmoffice.insert("contacts", {"givenName": "Kari", "familyName": "Berg"})
    result = pipeline.sync(dry_run=True)
    plan = result.asset_value(dg.AssetKey(["persons_contacts", "plan_links"])).plan
    assert plan.counts()["creates_to_crmoffice"] == 1
    assert plan.counts()["creates_to_webcrm"] == 1
    assert pipeline.writes() == {"webcrm": 0, "crmoffice": 0}
    assert pipeline.store().count_links("persons_contacts") == 0


def test_bad_rows_are_quarantined_while_the_rest_syncs(pipeline: Pipeline) -> None:
    """An unprintable phone number quarantines its row; the good rows still sync."""
    sandbox = pipeline.sandbox
    for n in range(20):
        sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": f"God {n}"})
    bad = sandbox.webcrm.insert("Persons", {**PERSON, "PersonMobilePhone": "ring mig\x07"})
    pipeline.sync("persons_contacts")
    assert len(contacts(sandbox)) == 20
    quarantine = pipeline.store().quarantine_frame("persons_contacts")
    assert str(bad) in set(quarantine["record_id"])
    assert pipeline.store().find_links(str(bad)) == []


def test_contact_a_user_pair_holds_never_spawns_a_person(pipeline: Pipeline) -> None:
    """A contact that two users could own (ambiguous) is held: no person is made from it."""
    sandbox = pipeline.sandbox
    for name in ("A", "B"):
        sandbox.webcrm.insert("Users", {"UserName": name, "UserMobilePhone": "+45 50 50 50 50"})
    sandbox.crmoffice.insert("contacts", {"mobilePhone": "+45 50 50 50 50"})
    pipeline.sync(full=True)
    assert persons(sandbox) == []
    assert pipeline.store().count_links("users_contacts") == 0
