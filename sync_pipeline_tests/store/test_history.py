"""Per-record lineage: find a link by either side's id, and filter the history."""

from __future__ import annotations

from datetime import timedelta

from sync_pipeline.store import LinkStore, LinkWrite, ShadowWrite
from sync_pipeline_tests.store.conftest import NOW

PAIR = "persons_contacts"


def test_find_links_by_either_id_across_pairs(store: LinkStore) -> None:
    """A WebCRM id linked in two pairs finds both links; a CRMOffice id finds its one link."""
    store.add_links(
        PAIR, "contacts", [LinkWrite("5", "c1", {"givenName": "A"}, "match")], "r1", now=NOW
    )
    store.add_links(
        "users_contacts", "contacts", [LinkWrite("5", "c2", {}, "create")], "r1", now=NOW
    )
    store.update_shadows(
        PAIR,
        [ShadowWrite("5", {"givenName": "B"}, "update", "to_crmoffice")],
        "r2",
        now=NOW + timedelta(minutes=5),
    )
    found = store.find_links("5")
    assert [(link["pair"], link["crmoffice_id"]) for link in found] == [
        (PAIR, "c1"),
        ("users_contacts", "c2"),
    ]
    [link] = store.find_links("c1")
    assert link["shadow"] == {"givenName": "B"}
    assert link["created_at"] == NOW and link["created_run_id"] == "r1"
    assert link["synced_at"] == NOW + timedelta(minutes=5)
    events = link["history"]
    assert isinstance(events, list)
    assert [(e["kind"], e["run_id"]) for e in events] == [("match", "r1"), ("update", "r2")]
    assert events[1]["detail"] == {"givenName": ["A", "B"]}
    assert store.find_links("nope") == []


def test_history_frame_filters_newest_first(store: LinkStore) -> None:
    """history_frame filters by pair and ids and returns newest first up to the limit."""
    rows = [LinkWrite(str(i), f"c{i}", {}, "match") for i in range(3)]
    store.add_links(PAIR, "contacts", rows, "r1", now=NOW)
    store.add_links("users_contacts", "contacts", [LinkWrite("9", "c9", {}, "create")], "r1")
    assert store.history_frame(PAIR)["webcrm_id"].tolist() == ["2", "1", "0"]
    assert len(store.history_frame()) == 4
    assert store.history_frame(PAIR, limit=1)["webcrm_id"].tolist() == ["2"]
    assert store.history_frame(crmoffice_id="c9")["pair"].tolist() == ["users_contacts"]
    frame = store.history_frame(PAIR, webcrm_id="1")
    assert list(frame.columns) == [
        "id",
        "pair",
        "webcrm_id",
        "crmoffice_id",
        "run_id",
        "at",
        "kind",
        "direction",
        "detail",
    ]
    assert str(frame["id"].dtype) == "Int64" and str(frame["at"].dtype) == "datetime64[ns, UTC]"
    assert frame["direction"].tolist() == [""]
