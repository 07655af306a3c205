"""Plan rules about record lifecycles: orphans, ownership, intents, matching, creates."""

from __future__ import annotations

from datetime import timedelta

from sync_pipeline.core import text_column
from sync_pipeline_tests.core.maps import sandbox_field_map
from sync_pipeline_tests.core.world import World

FM = sandbox_field_map()
PERSONS = FM.pairs["persons_contacts"]
PRODUCTS = FM.pairs["products_companies"]


def linked_world() -> World:
    """Person 1 linked to contact c1."""
    w = World(PERSONS)
    w.put("webcrm", "1", givenName="Anne", familyName="Hansen")
    w.put("crmoffice", "c1", givenName="Anne", familyName="Hansen")
    w.link("1", "c1")
    return w


def test_unlinked_records_are_created_both_ways() -> None:
    """persons_contacts creates in both directions with the mapped values: the source's text
    to write, its canonical form for the shadow."""
    w = World(PERSONS)
    w.put("webcrm", "7", givenName="Per", mobilePhone="+47 22 33 44 55")
    w.put("crmoffice", "c7", givenName="Kari", familyName="Nordmann")
    plan = w.plan()
    columns = ["source_id", "givenName", "mobilePhone", text_column("mobilePhone")]
    assert plan.creates["to_crmoffice"][columns].values.tolist() == [
        ["7", "Per", "+4722334455", "+47 22 33 44 55"]
    ]
    assert plan.creates["to_webcrm"][["source_id", "familyName"]].values.tolist() == [
        ["c7", "Nordmann"]
    ]


def test_user_owned_contacts_never_spawn_persons() -> None:
    """Contacts linked to a user (another pair) are excluded from person creates and matching."""
    w = World(PERSONS)
    w.put("crmoffice", "c5", mobilePhone="+45 11 11 11 11")
    w.put("webcrm", "5", mobilePhone="+45 11 11 11 11")
    plan = w.plan(excluded_crmoffice_ids=frozenset({"c5"}))
    assert plan.creates["to_webcrm"].empty
    assert plan.links.empty
    assert plan.creates["to_crmoffice"]["source_id"].tolist() == ["5"]


def test_missing_from_incremental_snapshot_is_unchanged() -> None:
    """A linked record absent from an incremental read is unchanged: no write, no orphan."""
    w = linked_world()
    w.put("crmoffice", "c1", givenName="Annie")
    del w.webcrm["1"]
    plan = w.plan(complete=False)
    assert plan.orphans.empty
    assert plan.updates["to_webcrm"]["givenName"].tolist() == ["Annie"]


def test_orphans_only_on_complete_snapshot() -> None:
    """A linked record missing from a full read orphans the link; nothing is written for it."""
    w = linked_world()
    w.put("crmoffice", "c1", givenName="Annie")
    del w.webcrm["1"]
    plan = w.plan(complete=True)
    assert plan.orphans.values.tolist() == [["1", "c1", "webcrm"]]
    assert plan.updates["to_webcrm"].empty and plan.creates["to_webcrm"].empty


def test_orphaned_link_record_is_never_recreated() -> None:
    """The surviving record of an orphaned link is not created again on the other side."""
    w = linked_world()
    del w.webcrm["1"]
    w.apply(w.plan(complete=True))
    assert w.orphaned == {("1", "c1")}
    plan = w.plan(complete=True, orphaned_crmoffice_ids=frozenset({"c1"}))
    assert plan.is_empty


def test_quarantined_linked_record_is_not_orphaned() -> None:
    """A linked record missing only because it was quarantined is not an orphan."""
    w = linked_world()
    del w.webcrm["1"]
    plan = w.plan(complete=True, quarantined_webcrm_ids=frozenset({"1"}))
    assert plan.is_empty


def crashed_world() -> World:
    """Person 9 was created as contact c1001 but the run died before the link write."""
    w = World(PERSONS)
    w.put("webcrm", "9", givenName="Ole", familyName="Dam")
    w.apply(w.plan(), crash_after_create=True)
    assert len(w.intents) == 1 and not w.links
    return w


def test_open_intent_is_adopted_not_recreated() -> None:
    """After a crash between create and link, the next plan adopts the created record."""
    w = crashed_world()
    plan = w.plan()
    assert plan.creates["to_crmoffice"].empty and plan.creates["to_webcrm"].empty
    assert plan.links[["webcrm_id", "crmoffice_id", "action"]].values.tolist() == [
        ["9", "c1001", "adopt"]
    ]
    assert plan.links["intent_id"].tolist() == [1001]
    w.apply(plan)
    assert w.plan().is_empty and len(w.crmoffice) == 1


def test_intent_without_candidate_is_closed_and_retried_in_same_plan() -> None:
    """An intent whose create never landed is closed and its source created again at once."""
    w = crashed_world()
    del w.crmoffice["c1001"]
    plan = w.plan()
    assert plan.intents_not_applied[["intent_id", "source_id"]].values.tolist() == [[1001, "9"]]
    assert plan.creates["to_crmoffice"]["source_id"].tolist() == ["9"]


def test_ambiguous_intent_holds_source_and_candidates() -> None:
    """More unlinked records match an intent than there are intents: hold, create nothing."""
    w = crashed_world()
    w.put("crmoffice", "c2", givenName="Ole", familyName="Dam")
    plan = w.plan()
    assert sorted(plan.held[["side", "id"]].values.tolist()) == [
        ["crmoffice", "c1001"],
        ["crmoffice", "c2"],
        ["webcrm", "9"],
    ]
    assert plan.held["reason"].str.startswith("ambiguous intent").all()
    assert plan.creates["to_crmoffice"].empty and plan.creates["to_webcrm"].empty
    assert plan.links.empty


def test_intent_candidate_older_than_intent_is_ignored() -> None:
    """A record last updated well before the intent was written is not its result."""
    w = crashed_world()
    w.crmoffice["c1001"].updated_at -= timedelta(hours=1)
    plan = w.plan()
    assert "adopt" not in set(plan.links["action"])  # its source is free again: it may match
    assert plan.intents_not_applied["intent_id"].tolist() == [1001]


def test_initial_match_links_and_merges() -> None:
    """Unique key on both sides links the records; differing fields are merged (non-empty wins)."""
    w = World(PERSONS)
    w.put(
        "webcrm",
        "1",
        givenName="Anne",
        familyName="Hansen",
        mobilePhone="+45 11 22 33 44",
        directPhone="33 33 33 33",
    )
    w.put("crmoffice", "c1", givenName="anne", familyName="HANSEN", mobilePhone="0045 11223344")
    plan = w.plan()
    assert plan.links[["webcrm_id", "crmoffice_id", "action"]].values.tolist() == [
        ["1", "c1", "match"]
    ]
    assert plan.creates["to_crmoffice"].empty and plan.creates["to_webcrm"].empty
    assert plan.updates["to_crmoffice"]["directPhone"].tolist() == ["33333333"]
    assert plan.updates["to_crmoffice"][text_column("directPhone")].tolist() == ["33 33 33 33"]
    w.apply(plan)
    w.apply(w.plan())
    assert w.plan().is_empty and w.disagreements() == []


def test_ambiguous_match_is_held_and_reported() -> None:
    """A key shared by two records on one side is never auto-linked; all are held."""
    w = World(PERSONS)
    w.put("webcrm", "1", givenName="Anne", familyName="Hansen", mobilePhone="11")
    w.put("webcrm", "2", givenName="Anne", familyName="Hansen", mobilePhone="11")
    w.put("crmoffice", "c1", givenName="Anne", familyName="Hansen", mobilePhone="11")
    plan = w.plan()
    assert plan.links.empty
    assert plan.held[["side", "id"]].values.tolist() == [
        ["crmoffice", "c1"],
        ["webcrm", "1"],
        ["webcrm", "2"],
    ]
    assert plan.held["reason"].str.startswith("ambiguous match: 2 webcrm and 1 crmoffice").all()
    assert plan.creates["to_crmoffice"].empty and plan.creates["to_webcrm"].empty


def test_all_empty_key_is_unmatchable() -> None:
    """Records with an empty match key are created, never matched to each other."""
    w = World(PERSONS)
    w.put("webcrm", "1", directPhone="1")
    w.put("crmoffice", "c1", directPhone="2")
    plan = w.plan()
    assert plan.links.empty
    assert len(plan.creates["to_crmoffice"]) == 1 and len(plan.creates["to_webcrm"]) == 1


def test_products_pair_is_link_only_and_creates_one_way() -> None:
    """products_companies creates companies from products, never products from companies."""
    w = World(PRODUCTS)
    w.put("webcrm", "p1")
    w.put("crmoffice", "co1")
    plan = w.plan()
    assert plan.creates["to_crmoffice"].columns.tolist() == ["source_id"]
    assert plan.creates["to_crmoffice"]["source_id"].tolist() == ["p1"]
    assert plan.creates["to_webcrm"].empty
    w.apply(plan)
    assert w.plan().is_empty


def test_users_pair_never_creates_users() -> None:
    """users_contacts creates contacts from users only."""
    w = World(FM.pairs["users_contacts"])
    w.put("webcrm", "u1", mobilePhone="+45 99")
    w.put("crmoffice", "c1", mobilePhone="+45 88")
    plan = w.plan()
    assert plan.creates["to_crmoffice"]["source_id"].tolist() == ["u1"]
    assert plan.creates["to_webcrm"].empty


def test_claimed_contacts_of_users_pair_are_kept_from_persons_pair() -> None:
    """A contact the users pair adopts or matches this run is neither matched nor created from
    by the persons pair when its claimed ids are passed as excluded."""
    users = World(FM.pairs["users_contacts"])
    users.put("webcrm", "u1", mobilePhone="+45 12")
    users.put("crmoffice", "c1", mobilePhone="+45 12")
    claimed = users.plan().claimed_ids("crmoffice")
    assert claimed == {"c1"}
    persons = World(PERSONS)
    persons.put("crmoffice", "c1", mobilePhone="+45 12")
    assert persons.plan().creates["to_webcrm"]["source_id"].tolist() == ["c1"]
    assert persons.plan(excluded_crmoffice_ids=claimed).creates["to_webcrm"].empty
