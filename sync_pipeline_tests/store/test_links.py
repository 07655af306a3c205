"""Writing links: creates/matches with intents, shadow merges, orphans, id sets."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from sync_pipeline.store import LinkStore, LinkWrite, ShadowWrite
from sync_pipeline_tests.store.conftest import FIELDS, NOW

PAIR = "persons_contacts"


def _link(webcrm_id: str, crmoffice_id: str, **shadow: str) -> LinkWrite:
    return LinkWrite(webcrm_id, crmoffice_id, shadow, "create", "to_crmoffice")


def _intent_statuses(store: LinkStore) -> list[tuple[str, str | None]]:
    engine = store._engine
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT status, target_id FROM intents ORDER BY id")
        return [(status, target) for status, target in rows]


def test_add_links_writes_link_shadow_and_history(store: LinkStore) -> None:
    """A new link is active with its shadow, synced_at = now, and a history row of its kind."""
    outcomes = store.add_links(
        PAIR,
        "contacts",
        [_link("1", "c1", givenName="Åse", familyName="", mobilePhone="", directPhone="")],
        "run-1",
        now=NOW,
    )
    assert [o.ok for o in outcomes] == [True]
    frame = store.links_frame(PAIR, FIELDS)
    assert frame.to_dict("records") == [
        {
            "webcrm_id": "1",
            "crmoffice_id": "c1",
            "status": "active",
            "synced_at": NOW,
            "givenName": "Åse",
            "familyName": "",
            "mobilePhone": "",
            "directPhone": "",
        }
    ]
    history = store.history_frame(PAIR)
    assert list(history["kind"]) == ["create"]
    assert list(history["run_id"]) == ["run-1"]
    assert list(history["direction"]) == ["to_crmoffice"]


def test_add_links_closes_intents_as_applied_with_target(store: LinkStore) -> None:
    """The intent a create fulfils is closed as applied with the created record's id."""
    [to_crm] = store.open_intents_for(
        PAIR, "to_crmoffice", [("1", {"givenName": "A"})], "r", now=NOW
    )
    [to_web] = store.open_intents_for(PAIR, "to_webcrm", [("c2", {"givenName": "B"})], "r", now=NOW)
    rows = [
        LinkWrite("1", "c1", {"givenName": "A"}, "create", "to_crmoffice", to_crm),
        LinkWrite("2", "c2", {"givenName": "B"}, "create", "to_webcrm", to_web),
    ]
    store.add_links(PAIR, "contacts", rows, "r", now=NOW)
    assert _intent_statuses(store) == [("applied", "c1"), ("applied", "2")]
    assert store.open_intents(PAIR, FIELDS).empty


def test_duplicate_claims_are_refused_per_row_without_losing_others(store: LinkStore) -> None:
    """A row linking an already-linked record is refused; the other rows of the call are kept."""
    store.add_links(PAIR, "contacts", [_link("1", "c1")], "r1", now=NOW)
    [intent] = store.open_intents_for(PAIR, "to_crmoffice", [("3", {})], "r2", now=NOW)
    rows = [
        _link("1", "c9"),  # webcrm 1 already linked in this pair
        _link("2", "c2"),
        LinkWrite("3", "c1", {}, "create", "to_crmoffice", intent),  # contact c1 taken
        _link("4", "c2"),  # c2 claimed earlier in this same batch
    ]
    outcomes = store.add_links(PAIR, "contacts", rows, "r2", now=NOW)
    assert [o.ok for o in outcomes] == [False, True, False, False]
    assert outcomes[0].reason == f"already linked: webcrm 1 to contacts c1 in {PAIR}"
    assert outcomes[2].reason == f"already linked: contacts c1 to webcrm 1 in {PAIR}"
    assert outcomes[3].reason.startswith("already linked: contacts c2")
    assert store.linked_webcrm_ids(PAIR) == {"1", "2"}
    assert _intent_statuses(store) == [("held", "c1")]
    kinds = store.history_frame(PAIR).sort_values("id")["kind"].tolist()
    assert kinds == ["create", "skip", "create", "skip", "skip"]


def test_a_contact_belongs_to_one_link_across_pairs(store: LinkStore) -> None:
    """A contact linked in persons_contacts cannot be linked again in users_contacts."""
    store.add_links(PAIR, "contacts", [_link("1", "c1")], "r", now=NOW)
    [outcome] = store.add_links("users_contacts", "contacts", [_link("7", "c1")], "r", now=NOW)
    assert not outcome.ok
    assert outcome.reason == f"already linked: contacts c1 to webcrm 1 in {PAIR}"
    [other] = store.add_links("products_companies", "companies", [_link("7", "c1")], "r", now=NOW)
    assert other.ok


def test_database_enforces_one_link_per_crmoffice_record(store: LinkStore) -> None:
    """The UNIQUE constraint itself rejects a second claim, whatever the code path."""
    store.add_links(PAIR, "contacts", [_link("1", "c1")], "r", now=NOW)
    with store._engine.connect() as connection, pytest.raises(IntegrityError, match=r"(?i)unique"):
        connection.exec_driver_sql(
            "INSERT INTO links VALUES ('users_contacts','9','contacts','c1','active','{}',"
            "'x','x','r')"
        )


def test_update_shadows_merges_only_given_fields(store: LinkStore) -> None:
    """Only the fields passed change; synced_at moves; history records old and new values."""
    store.add_links(
        PAIR, "contacts", [_link("1", "c1", givenName="A", familyName="B")], "r1", now=NOW
    )
    later = NOW + timedelta(hours=1)
    unknown = store.update_shadows(
        PAIR,
        [
            ShadowWrite("1", {"familyName": "C"}, "update", "to_webcrm"),
            ShadowWrite("9", {}, "update"),
        ],
        "r2",
        now=later,
    )
    assert unknown == ["9"]
    [row] = store.links_frame(PAIR, FIELDS).to_dict("records")
    assert (row["givenName"], row["familyName"], row["synced_at"]) == ("A", "C", later)
    latest = store.history_frame(PAIR, webcrm_id="1").iloc[0]
    assert (latest["kind"], latest["run_id"]) == ("update", "r2")
    assert json.loads(latest["detail"]) == {"familyName": ["B", "C"]}


def test_update_shadows_keeps_caller_detail_and_kinds(store: LinkStore) -> None:
    """Conflict and shadow_move rows land in history with the caller's detail."""
    store.add_links(PAIR, "contacts", [_link("1", "c1")], "r1", now=NOW)
    conflict = {"field": "givenName", "winner": "webcrm", "rule": "newest"}
    store.update_shadows(
        PAIR,
        [
            ShadowWrite("1", {"givenName": "X"}, "conflict", "to_crmoffice", conflict),
            ShadowWrite("1", {"mobilePhone": "1"}, "shadow_move"),
        ],
        "r2",
        now=NOW,
    )
    history = store.history_frame(PAIR).sort_values("id")
    assert history["kind"].tolist() == ["create", "conflict", "shadow_move"]
    assert json.loads(history.iloc[1]["detail"]) == conflict
    [row] = store.links_frame(PAIR, FIELDS).to_dict("records")
    assert (row["givenName"], row["mobilePhone"]) == ("X", "1")


def test_update_shadows_clears_failures_of_written_records(store: LinkStore) -> None:
    """A successful write settles the source record's failure in that direction only."""
    store.add_links(PAIR, "contacts", [_link("1", "c1")], "r1", now=NOW)
    store.record_failures(PAIR, "to_crmoffice", [("1", "422 bad")], "r1", now=NOW)
    store.record_failures(PAIR, "to_webcrm", [("c1", "400 bad")], "r1", now=NOW)
    store.update_shadows(
        PAIR, [ShadowWrite("1", {"givenName": "A"}, "update", "to_crmoffice")], "r2"
    )
    assert store.failures_frame(PAIR)["direction"].tolist() == ["to_webcrm"]


def test_mark_orphaned_keeps_links_and_records_history(store: LinkStore) -> None:
    """Orphaned links stay in the store with status orphaned; marking twice changes nothing."""
    store.add_links(PAIR, "contacts", [_link("1", "c1"), _link("2", "c2")], "r1", now=NOW)
    assert store.mark_orphaned(PAIR, [("1", "c1", "crmoffice")], "r2", now=NOW) == 1
    assert store.mark_orphaned(PAIR, [("1", "c1", "crmoffice")], "r3", now=NOW) == 0
    assert store.count_links(PAIR) == 1
    assert store.count_links(PAIR, "orphaned") == 1
    assert store.count_links(PAIR, None) == 2
    orphans = store.links_frame(PAIR, FIELDS, status="orphaned")
    assert orphans["webcrm_id"].tolist() == ["1"]
    assert len(store.links_frame(PAIR, FIELDS, status=None)) == 2
    [event] = store.history_frame(PAIR, webcrm_id="1", limit=1).to_dict("records")
    assert (event["kind"], json.loads(event["detail"])) == ("orphan", {"missing_side": "crmoffice"})


def test_linked_id_sets(store: LinkStore) -> None:
    """linked_ids excludes the asking pair; linked_webcrm_ids filters by status."""
    store.add_links(PAIR, "contacts", [_link("1", "c1"), _link("2", "c2")], "r", now=NOW)
    store.add_links("users_contacts", "contacts", [_link("1", "c3")], "r", now=NOW)
    store.mark_orphaned(PAIR, [("2", "c2", "webcrm")], "r", now=NOW)
    assert store.linked_ids("contacts") == {"c1", "c2", "c3"}
    assert store.linked_ids("contacts", exclude_pair=PAIR) == {"c3"}
    assert store.linked_ids("contacts", exclude_pair="users_contacts") == {"c1", "c2"}
    assert store.linked_ids("companies") == set()
    assert store.linked_webcrm_ids(PAIR) == {"1", "2"}
    assert store.linked_webcrm_ids(PAIR, "active") == {"1"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_links_frame_by_ids_reads_only_the_links_holding_them(
    backend: str, store_url: str, request: pytest.FixtureRequest
) -> None:
    """A targeted run's links: those whose WebCRM or CRMOffice id is named, on both backends."""
    url = store_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    with LinkStore(url) as opened:
        links = [_link(str(n), f"c{n}", givenName=f"N{n}") for n in range(5)]
        opened.add_links(PAIR, "contacts", links, "run-1", now=NOW)
        frame = opened.links_frame(PAIR, FIELDS, ids=(["1", "9"], ["c3"]))
        assert sorted(frame["webcrm_id"]) == ["1", "3"]
        assert sorted(frame["givenName"]) == ["N1", "N3"]
        assert opened.links_frame(PAIR, FIELDS, ids=([], [])).empty
