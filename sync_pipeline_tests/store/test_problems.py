"""The quarantine and per-record write failures."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd

from sync_pipeline.store import LinkStore
from sync_pipeline_tests.store.conftest import NOW

PAIR = "persons_contacts"


def _bad(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["record_id", "reason", "payload"])


def test_quarantine_upsert_refreshes_reason_and_last_seen(store: LinkStore) -> None:
    """A record quarantined again keeps first_seen and gets the new reason and last_seen."""
    store.quarantine_rows(PAIR, "webcrm", _bad(("1", "too long", "{}")), "r1", now=NOW)
    later = NOW + timedelta(hours=1)
    written = store.quarantine_rows(
        PAIR, "webcrm", _bad(("1", "bad phone", "{}"), ("2", "no id", "{}")), "r2", now=later
    )
    assert written == 2
    frame = store.quarantine_frame(PAIR).set_index("record_id")
    assert frame.loc["1", "reason"] == "bad phone"
    assert frame.loc["1", "first_seen"] == pd.Timestamp(NOW)
    assert frame.loc["1", "last_seen"] == pd.Timestamp(later)
    assert frame.loc["1", "run_id"] == "r2"
    assert str(frame["first_seen"].dtype) == "datetime64[ns, UTC]"


def test_records_without_id_stay_distinct(store: LinkStore) -> None:
    """Two id-less bad rows with different payloads are two entries."""
    store.quarantine_rows(
        PAIR, "crmoffice", _bad(("", "missing id", '{"a":1}'), ("", "missing id", '{"a":2}')), "r"
    )
    frame = store.quarantine_frame(PAIR)
    assert len(frame) == 2 and frame["record_id"].tolist() == ["", ""]


def test_resolve_and_filter_quarantine(store: LinkStore) -> None:
    """Resolved entries leave the open view; a re-quarantined record opens again."""
    store.quarantine_rows(PAIR, "webcrm", _bad(("1", "x", ""), ("2", "y", "")), "r", now=NOW)
    store.quarantine_rows("users_contacts", "webcrm", _bad(("1", "z", "")), "r", now=NOW)
    assert store.resolve_quarantine(PAIR, "webcrm", ["1", "404"]) == 1
    assert store.quarantine_frame(PAIR)["record_id"].tolist() == ["2"]
    assert len(store.quarantine_frame(PAIR, status="resolved")) == 1
    assert len(store.quarantine_frame()) == 2
    assert len(store.quarantine_frame(status=None)) == 3
    store.quarantine_rows(PAIR, "webcrm", _bad(("1", "x again", "")), "r2", now=NOW)
    assert sorted(store.quarantine_frame(PAIR)["record_id"]) == ["1", "2"]


def test_failures_count_attempts_then_give_up_into_quarantine(store: LinkStore) -> None:
    """Each failure adds an attempt and a history row; at the cap it is given up and quarantined."""
    for attempt in range(1, 4):
        now = NOW + timedelta(minutes=attempt)
        given_up = store.record_failures(
            PAIR,
            "to_crmoffice",
            [("1", f"422 attempt {attempt}")],
            f"r{attempt}",
            max_attempts=3,
            now=now,
        )
        assert given_up == ([] if attempt < 3 else ["1"])
        if attempt < 3:
            [row] = store.failures_frame(PAIR).to_dict("records")
            assert (row["attempts"], row["status"]) == (attempt, "retrying")
            assert row["first_at"] == pd.Timestamp(NOW + timedelta(minutes=1))
    assert store.failures_frame(PAIR).empty
    [row] = store.failures_frame(PAIR, status="given_up").to_dict("records")
    assert (row["attempts"], row["error"], row["direction"]) == (3, "422 attempt 3", "to_crmoffice")
    assert str(store.failures_frame(PAIR, status=None)["attempts"].dtype) == "Int64"
    [bad] = store.quarantine_frame(PAIR).to_dict("records")
    assert (bad["side"], bad["record_id"]) == ("webcrm", "1")
    assert bad["reason"] == "gave up after 3 failed writes to_crmoffice: 422 attempt 3"
    history = store.history_frame(PAIR, webcrm_id="1")
    assert history["kind"].tolist() == ["failure"] * 3
    assert json.loads(history.iloc[0]["detail"])["status"] == "given_up"


def test_failures_to_webcrm_name_the_crmoffice_record(store: LinkStore) -> None:
    """A failed write to WebCRM is keyed and logged by the CRMOffice source record."""
    store.record_failures(PAIR, "to_webcrm", [("c7", "400")], "r", now=NOW)
    assert store.history_frame(PAIR, crmoffice_id="c7")["kind"].tolist() == ["failure"]


def test_clear_failures_is_per_direction(store: LinkStore) -> None:
    """Clearing one direction leaves the other's failures."""
    store.record_failures(PAIR, "to_crmoffice", [("1", "e"), ("2", "e")], "r", now=NOW)
    store.record_failures(PAIR, "to_webcrm", [("1", "e")], "r", now=NOW)
    assert store.clear_failures(PAIR, "to_crmoffice", ["1", "3"]) == 1
    frame = store.failures_frame(PAIR)
    assert sorted(zip(frame["direction"], frame["record_id"], strict=True)) == [
        ("to_crmoffice", "2"),
        ("to_webcrm", "1"),
    ]
    assert store.record_failures(PAIR, "to_webcrm", [], "r") == []
