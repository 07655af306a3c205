"""`export_state` / `import_state`: a full round trip, and refusals that protect a store."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sync_pipeline.store import (
    SCHEMA_VERSION,
    HoldWrite,
    LinkStore,
    LinkWrite,
    ShadowWrite,
    StateImportError,
)
from sync_pipeline_tests.store.conftest import FIELDS, NOW

PAIR = "persons_contacts"


def _populate(store: LinkStore) -> None:
    [intent, _] = store.open_intents_for(
        PAIR,
        "to_crmoffice",
        [("1", {"givenName": "Åse"}), ("3", {"givenName": "Bo"})],
        "r1",
        now=NOW,
    )
    rows = [
        LinkWrite(
            "1", "c1", {"givenName": "Åse", "familyName": 'Ø"\\'}, "create", "to_crmoffice", intent
        ),
        LinkWrite("2", "c2", {"mobilePhone": "+47 1"}, "match"),
    ]
    store.add_links(PAIR, "contacts", rows, "r1", now=NOW)
    store.update_shadows(PAIR, [ShadowWrite("2", {"givenName": "Ny"}, "update", "to_webcrm")], "r2")
    store.mark_orphaned(PAIR, [("2", "c2", "crmoffice")], "r2")
    store.set_cursor("webcrm", "Persons", NOW)
    bad = pd.DataFrame([("9", "too long", '{"x": 1}'), ("", "no id", "{}")])
    store.quarantine_rows(
        PAIR, "webcrm", bad.set_axis(["record_id", "reason", "payload"], axis=1), "r2"
    )
    store.record_failures(PAIR, "to_webcrm", [("c4", "400 Bad Request")], "r2")
    held = HoldWrite("webcrm", "5", "ambiguous_match", "ambiguous match", {"givenName": "Ø"}, NOW)
    store.save_holds(PAIR, [held], [], "r2", now=NOW)


def _state(store: LinkStore) -> dict[str, object]:
    return {
        "links": store.links_frame(PAIR, FIELDS, status=None).to_dict("records"),
        "history": store.history_frame(limit=None).to_dict("records"),
        "intents": store.open_intents(PAIR, FIELDS).to_dict("records"),
        "cursor": store.get_cursor("webcrm", "Persons"),
        "quarantine": store.quarantine_frame(status=None).to_dict("records"),
        "failures": store.failures_frame(status=None).to_dict("records"),
        "holds": store.holds_frame(statuses=None).to_dict("records"),
        "lineage": store.find_links("c1"),
    }


def test_round_trip_preserves_everything(store: LinkStore, tmp_path: Path, copy_url: str) -> None:
    """Export then import into an empty store gives equal state and an identical re-export."""
    _populate(store)
    first = tmp_path / "state.jsonl"
    counts = store.export_state(first, now=NOW)
    assert counts == {
        "links": 2,
        "history": 5,
        "cursors": 1,
        "intents": 2,
        "quarantine": 2,
        "failures": 1,
        "holds": 1,
    }
    with LinkStore(copy_url) as copy:
        assert copy.import_state(first) == counts
        assert _state(copy) == _state(store)
        second = tmp_path / "again.jsonl"
        copy.export_state(second, now=NOW)
    assert second.read_text(encoding="utf-8") == first.read_text(encoding="utf-8")


def test_import_refuses_non_empty_store_unless_replace(
    store: LinkStore, tmp_path: Path, copy_url: str
) -> None:
    """Importing over existing state needs replace=True, which swaps the state wholesale."""
    _populate(store)
    path = tmp_path / "state.jsonl"
    store.export_state(path)
    with LinkStore(copy_url) as other:
        other.add_links("users_contacts", "contacts", [LinkWrite("7", "u7", {}, "create")], "r")
        with pytest.raises(StateImportError, match=r"already holds 2 rows of state.*replace=True"):
            other.import_state(path)
        assert other.count_links("users_contacts") == 1
        other.import_state(path, replace=True)
        assert other.count_links("users_contacts") == 0
        assert _state(other) == _state(store)


def test_new_ids_after_import_do_not_reuse_old_ones(
    store: LinkStore, tmp_path: Path, copy_url: str
) -> None:
    """Intent ids continue after the imported ones."""
    _populate(store)
    path = tmp_path / "state.jsonl"
    store.export_state(path)
    with LinkStore(copy_url) as copy:
        copy.import_state(path)
        [new] = copy.open_intents_for(PAIR, "to_webcrm", [("c8", {})], "r3")
        assert new == 3


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda lines: lines[:-1], "truncated"),
        (lambda lines: ['{"format": "other"}', *lines[1:]], "not a sync_pipeline state export"),
        (
            lambda lines: [
                lines[0].replace(f'"schema_version": {SCHEMA_VERSION}', '"schema_version": 7'),
                *lines[1:],
            ],
            "schema version 7",
        ),
        (lambda lines: [*lines[:2], "{not json", *lines[2:]], "line 3: not JSON"),
        (lambda lines: [*lines[:2], '{"table": "locks", "row": {}}', *lines[2:]], "unknown table"),
        (
            lambda lines: [
                lines[0],
                lines[1].replace('"status": "active"', '"extra": 1, "status": "active"'),
                *lines[2:],
            ],
            "does not match table links",
        ),
        (
            lambda lines: [
                lines[0],
                lines[1].replace("2024-09-14T08:00:00", "yesterday"),
                *lines[2:],
            ],
            "bad time",
        ),
        (lambda lines: [*lines[:2], *lines[3:]], "row counts"),
    ],
)
def test_bad_files_are_refused_whole(
    store: LinkStore, tmp_path: Path, copy_url: str, mangle: object, message: str
) -> None:
    """A damaged or foreign file raises StateImportError and imports nothing."""
    _populate(store)
    path = tmp_path / "state.jsonl"
    store.export_state(path, now=NOW)
    lines = path.read_text(encoding="utf-8").splitlines()
    # why the ignore below: the parametrised mangle is a callable held as object
    path.write_text("\n".join(mangle(lines)) + "\n", encoding="utf-8")  # type: ignore[operator]
    with LinkStore(copy_url) as copy:
        with pytest.raises(StateImportError, match=message):
            copy.import_state(path)
        assert copy.count_links(PAIR, None) == 0
        assert copy.history_frame().empty


def test_export_is_json_lines_with_header(store: LinkStore, tmp_path: Path) -> None:
    """The file opens with a versioned header and ends with the row counts."""
    _populate(store)
    path = tmp_path / "state.jsonl"
    store.export_state(path, now=NOW)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["format"] == "sync_pipeline-state" and lines[0]["format_version"] == 1
    assert lines[-1]["end"] is True and lines[-1]["counts"]["links"] == 2
    assert {line["table"] for line in lines[1:-1]} == {
        "links",
        "history",
        "cursors",
        "intents",
        "quarantine",
        "holds",
        "failures",
    }
