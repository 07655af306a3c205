"""The links frame: columns, dtypes, missing shadow fields, odd ids, and a speed smoke test."""

from __future__ import annotations

import time

import pandas as pd

from sync_pipeline.store import LinkStore, LinkWrite
from sync_pipeline_tests.store.conftest import FIELDS, NOW

PAIR = "persons_contacts"


def _links(count: int, **shadow: str) -> list[LinkWrite]:
    return [LinkWrite(str(i), f"c{i}", shadow, "match") for i in range(count)]


def test_columns_and_dtypes(store: LinkStore) -> None:
    """Ids/status/fields are pandas `str`, synced_at is datetime64[ns, UTC]."""
    shadow = dict.fromkeys(FIELDS, "") | {"givenName": "Ærlig"}
    store.add_links(PAIR, "contacts", _links(3, **shadow), "r", now=NOW)
    frame = store.links_frame(PAIR, FIELDS)
    assert list(frame.columns) == ["webcrm_id", "crmoffice_id", "status", "synced_at", *FIELDS]
    assert str(frame["synced_at"].dtype) == "datetime64[ns, UTC]"
    for column in ["webcrm_id", "crmoffice_id", "status", *FIELDS]:
        assert frame[column].dtype == pd.StringDtype(na_value=float("nan")), column
    assert frame["givenName"].tolist() == ["Ærlig"] * 3
    assert not frame.isna().any().any()


def test_empty_store_gives_typed_empty_frame(store: LinkStore) -> None:
    """With no links the frame is empty but has the same columns and dtypes."""
    frame = store.links_frame(PAIR, FIELDS)
    assert frame.empty
    assert list(frame.columns) == ["webcrm_id", "crmoffice_id", "status", "synced_at", *FIELDS]
    assert str(frame["synced_at"].dtype) == "datetime64[ns, UTC]"
    assert frame["givenName"].dtype == pd.StringDtype(na_value=float("nan"))


def test_link_only_pair_has_no_field_columns(store: LinkStore) -> None:
    """A pair without mapped fields (products_companies) still gets its links."""
    store.add_links("products_companies", "companies", _links(2), "r", now=NOW)
    frame = store.links_frame("products_companies", [])
    assert list(frame.columns) == ["webcrm_id", "crmoffice_id", "status", "synced_at"]
    assert sorted(frame["webcrm_id"]) == ["0", "1"]


def test_fields_missing_from_shadow_are_na_and_extra_ones_ignored(store: LinkStore) -> None:
    """A field the shadow lacks (added to the map since) reads as NA, an agreed empty as "";
    shadow fields not asked for are left out."""
    rows = [LinkWrite("1", "c1", {"givenName": "A", "mobilePhone": "", "name": "x"}, "match")]
    store.add_links(PAIR, "contacts", rows, "r", now=NOW)
    [row] = store.links_frame(PAIR, ["givenName", "familyName", "mobilePhone"]).to_dict("records")
    assert (row["givenName"], row["mobilePhone"]) == ("A", "")
    assert pd.isna(row["familyName"])
    assert "name" not in row


def test_awkward_ids_and_values_survive(store: LinkStore) -> None:
    """Quotes, backslashes, newlines, emoji and JSON-looking text round-trip exactly."""
    odd_id = 'c"\\\n{"x": 1}'
    value = 'Robert"); DROP TABLE links;-- \\ \t 😀 {"a":"b"}'
    store.add_links(PAIR, "contacts", [LinkWrite("ø1", odd_id, {"givenName": value}, "match")], "r")
    [row] = store.links_frame(PAIR, FIELDS).to_dict("records")
    assert (row["webcrm_id"], row["crmoffice_id"], row["givenName"]) == ("ø1", odd_id, value)


def test_only_the_asked_pair_and_status(store: LinkStore) -> None:
    """Links of other pairs never leak into a pair's frame."""
    store.add_links(PAIR, "contacts", _links(2), "r", now=NOW)
    store.add_links("users_contacts", "contacts", [LinkWrite("9", "u9", {}, "match")], "r")
    assert store.links_frame("users_contacts", FIELDS)["crmoffice_id"].tolist() == ["u9"]
    store.mark_orphaned(PAIR, [("0", "c0", "webcrm")], "r")
    assert store.links_frame(PAIR, FIELDS)["webcrm_id"].tolist() == ["1"]


def test_hundred_thousand_links_load_fast(store: LinkStore) -> None:
    """100,000 links with four shadow fields load in well under the budget (smoke, not a bench)."""
    shadow = {
        "givenName": "Åse",
        "familyName": "Østergård",
        "mobilePhone": "+45 12 34 56 78",
        "directPhone": "",
    }
    store.add_links(PAIR, "contacts", _links(100_000, **shadow), "r", now=NOW)
    started = time.perf_counter()
    frame = store.links_frame(PAIR, FIELDS)
    elapsed = time.perf_counter() - started
    assert len(frame) == 100_000
    assert frame["familyName"].eq("Østergård").all() and frame["directPhone"].eq("").all()
    assert elapsed < 3.0, f"links_frame took {elapsed:.2f}s for 100k links"
