"""The links frame: columns, dtypes, missing shadow fields, odd ids, and a speed smoke test."""

from __future__ import annotations

import time
from datetime import timedelta

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


_AWKWARD = [
    "",
    "plain",
    "a,b",
    'say "hi"',
    "line\nbreak\r\n",
    "tab\there",
    "back\\slash \\N \\.",
    "NULL",
    "\x01\x02\x7f control",
    "Ærø 😀 中文",
    '{"h": "json-looking"}',
    " leading and trailing ",
]


def _awkward_links(count: int) -> list[LinkWrite]:
    """Links whose ids and shadow values cycle through awkward text; some fields missing."""
    rows = []
    for i in range(count):
        shadow = {
            name: _AWKWARD[(i + offset) % len(_AWKWARD)]
            for offset, name in enumerate(FIELDS)
            if (i + offset) % 5 != 0  # every fifth value absent: NA in the frame
        }
        webcrm_id = f"{i}{_AWKWARD[i % len(_AWKWARD)]}"
        rows.append(LinkWrite(webcrm_id, f"c{i},{_AWKWARD[-i % len(_AWKWARD)]}", shadow, "match"))
    return rows


def test_frames_are_identical_on_sqlite_and_postgresql(sqlite_url: str, pg_url: str) -> None:
    """The same links give the same frame on both backends: rows, order, dtypes, NA vs ""."""
    rows = _awkward_links(300)
    frames = []
    for url in (sqlite_url, pg_url):
        with LinkStore(url) as store:
            store.add_links(PAIR, "contacts", rows[:200], "r1", now=NOW)
            store.add_links(PAIR, "contacts", rows[200:], "r2", now=NOW + timedelta(seconds=1.5))
            store.mark_orphaned(PAIR, [(rows[7].webcrm_id, rows[7].crmoffice_id, "webcrm")], "r3")
            asked = [*FIELDS, "notMapped"]
            frames.append([store.links_frame(PAIR, asked, status=s) for s in ("active", None)])
    (lite_active, lite_all), (pg_active, pg_all) = frames
    assert len(lite_all) == 300 and len(lite_active) == 299
    assert lite_all["givenName"].isna().any() and lite_all["givenName"].eq("").any()
    assert lite_all["webcrm_id"].tolist() == sorted(row.webcrm_id for row in rows)
    pd.testing.assert_frame_equal(pg_active, lite_active)
    pd.testing.assert_frame_equal(pg_all, lite_all)
