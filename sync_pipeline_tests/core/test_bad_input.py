"""prepare_side on a corpus of bad records: each quarantined with a clear reason, the rest pass."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from sync_pipeline.core import Side, bad_share, prepare_side, quarantine_verdict, text_column
from sync_pipeline_tests.core.maps import sandbox_field_map

FM = sandbox_field_map()
PAIR = FM.pairs["persons_contacts"]

GOOD: dict[str, list[dict[str, Any]]] = {
    "webcrm": [
        {
            "PersonId": 1,
            "PersonUpdatedAt": "2024-09-14T10:00:00+02:00",
            "PersonFirstName": "Åse",
            "PersonLastName": "Ærø",
            "PersonDirectPhone": "+45 33 12 34 56",
            "PersonMobilePhone": "(0045) 20-30.40 50",
        },
        {
            "PersonId": 2,
            "PersonUpdatedAt": "2024-01-14T10:00:00+01:00",
            "PersonFirstName": "Bo",
            "PersonLastName": None,
            "PersonDirectPhone": "",
            "PersonMobilePhone": None,
        },
    ],
    "crmoffice": [
        {
            "id": "c-1",
            "updatedAt": "2024-09-14T08:00:00.123Z",
            "givenName": "Kari",
            "familyName": "Nordmann",
            "directPhone": None,
            "mobilePhone": "+47 22 33 44 55",
        },
        {
            "id": "c-2",
            "updatedAt": "2024-09-14T08:00:01.000Z",
            "givenName": "",
            "familyName": "Ås",
            "directPhone": "22334455",
            "mobilePhone": "",
        },
    ],
}

W: Side = "webcrm"
C: Side = "crmoffice"
# (kind, side, record fields overriding a good record, expected reason fragment)
BAD: list[tuple[str, str, dict[str, Any], str]] = [
    ("missing id", W, {"PersonId": "<absent>"}, "missing or blank id"),
    ("null id", W, {"PersonId": None}, "missing or blank id"),
    ("blank id", C, {"id": "   "}, "missing or blank id"),
    ("non-integer webcrm id", W, {"PersonId": "abc"}, "PersonId: not an integer id 'abc'"),
    ("bool id", W, {"PersonId": True}, "PersonId: not an integer id True"),
    ("fractional id", W, {"PersonId": 7.5}, "PersonId: not an integer id 7.5"),
    ("integer crmoffice id", C, {"id": 17}, "id: wrong type int (expected a string)"),
    ("control character in id", C, {"id": "c-\x00"}, "id: id has control characters"),
    ("duplicate id", W, {"PersonId": 1}, "duplicate id '1' (2 records)"),
    (
        "bool in a string field",
        W,
        {"PersonLastName": False},
        "PersonLastName: wrong type bool (expected a string)",
    ),
    (
        "dict in a string field",
        C,
        {"givenName": {"first": "Kari"}},
        "givenName: wrong type dict (expected a string)",
    ),
    (
        "list in a string field",
        W,
        {"PersonMobilePhone": ["+45 1"]},
        "PersonMobilePhone: wrong type list (expected a string)",
    ),
    (
        "bytes in a string field",
        C,
        {"givenName": b"Kari"},
        "givenName: wrong type bytes (expected a string)",
    ),
    (
        "over-long string",
        W,
        {"PersonLastName": "x" * 256},
        "PersonLastName: longer than 255 characters",
    ),
    ("huge payload", C, {"familyName": "y" * 1_000_000}, "familyName: longer than 255 characters"),
    (
        "NUL character",
        W,
        {"PersonFirstName": "An\x00ne"},
        "PersonFirstName: contains control characters",
    ),
    (
        "newline inside a value",
        C,
        {"givenName": "Ka\nri"},
        "givenName: contains control characters",
    ),
    (
        "C1 control character",
        W,
        {"PersonFirstName": "A\x85se"},
        "PersonFirstName: contains control characters",
    ),
    ("DEL character", C, {"familyName": "Nord\x7fmann"}, "familyName: contains control characters"),
    (
        "lone surrogate",
        W,
        {"PersonLastName": "Ha\ud800nsen"},
        "PersonLastName: contains a lone surrogate",
    ),
    (
        "letters in a phone",
        W,
        {"PersonDirectPhone": "call me"},
        "PersonDirectPhone: not a phone number",
    ),
    (
        "unprintable phone",
        C,
        {"mobilePhone": "\u200b22 33 44 55"},
        "mobilePhone: not a phone number",
    ),
    (
        "phone without digits",
        W,
        {"PersonMobilePhone": "+-()"},
        "PersonMobilePhone: not a phone number",
    ),
    (
        "timestamp without offset",
        W,
        {"PersonUpdatedAt": "2024-09-14T10:00:00"},
        "PersonUpdatedAt: timestamp without a UTC offset",
    ),
    (
        "crmoffice timestamp without Z",
        C,
        {"updatedAt": "2024-09-14T08:00:00.123"},
        "updatedAt: timestamp without a UTC offset",
    ),
    (
        "date-only timestamp",
        W,
        {"PersonUpdatedAt": "2024-09-14"},
        "PersonUpdatedAt: timestamp without a UTC offset",
    ),
    ("unparseable timestamp", C, {"updatedAt": "yesterday Z"}, "updatedAt: unparseable timestamp"),
    (
        "impossible date",
        W,
        {"PersonUpdatedAt": "2024-13-45T10:00:00+02:00"},
        "PersonUpdatedAt: unparseable timestamp",
    ),
    (
        "numeric timestamp",
        C,
        {"updatedAt": 1726300800},
        "updatedAt: wrong type int (expected a string)",
    ),
    ("missing timestamp", W, {"PersonUpdatedAt": None}, "PersonUpdatedAt: missing timestamp"),
]


def frame(side: str, extra: list[dict[str, Any]]) -> pd.DataFrame:
    """A raw snapshot (object dtype) of the good records plus `extra`."""
    return pd.DataFrame([dict(r) for r in GOOD[side]] + extra, dtype=object)


def bad_record(side: str, patch: dict[str, Any]) -> dict[str, Any]:
    """A fresh record with a new id, overridden by `patch` ("<absent>" drops the key)."""
    base = dict(GOOD[side][0]) | ({"PersonId": 99} if side == W else {"id": "c-99"})
    base |= patch
    return {k: v for k, v in base.items() if v != "<absent>"}


def test_corpus_is_at_least_25_kinds() -> None:
    """The corpus covers at least 25 distinct kinds of bad record."""
    assert len({kind for kind, *_ in BAD}) >= 25


@pytest.mark.parametrize(("side", "patch", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_record_is_quarantined_with_reason(
    side: str, patch: dict[str, Any], reason: str
) -> None:
    """The bad record lands in quarantine with a one-line reason; the good rows still pass."""
    # why the ignore below: `side` is a Side literal from the parametrisation
    result = prepare_side(frame(side, [bad_record(side, patch)]), PAIR, side, FM.entities)  # type: ignore[arg-type]
    reasons = result.quarantined["reason"].tolist()
    assert any(reason in r for r in reasons), reasons
    assert all("\n" not in r for r in reasons)
    good_ids = {str(r["PersonId"] if side == W else r["id"]) for r in GOOD[side]}
    if "duplicate" not in reason:
        assert set(result.valid["id"]) == good_ids
    for payload in result.quarantined["payload"]:
        assert len(payload) <= 2000 and payload.isascii()
        if not payload.endswith("(truncated)"):
            json.loads(payload)


def test_duplicate_ids_quarantine_every_copy() -> None:
    """Both records sharing an id are quarantined, not just the second."""
    result = prepare_side(frame(W, [bad_record(W, {"PersonId": 1})]), PAIR, W, FM.entities)
    assert result.quarantined["record_id"].tolist() == ["1", "1"]
    assert result.valid["id"].tolist() == ["2"]


def test_all_reasons_of_a_row_are_collected() -> None:
    """A record with several problems reports all of them on one line."""
    record = bad_record(
        W,
        {
            "PersonFirstName": True,
            "PersonDirectPhone": "abc",
            "PersonUpdatedAt": "2024-09-14T10:00:00",
        },
    )
    result = prepare_side(frame(W, [record]), PAIR, W, FM.entities)
    (reason,) = result.quarantined["reason"].tolist()
    assert (
        "PersonFirstName: wrong type bool" in reason and "PersonDirectPhone: not a phone" in reason
    )
    assert "timestamp without a UTC offset" in reason


ODD_BUT_VALID: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
    (
        "HTML/script text",
        W,
        {"PersonFirstName": "<script>alert(1)</script>"},
        {"givenName": "<script>alert(1)</script>"},
    ),
    (
        "SQL-looking text",
        C,
        {"familyName": "Robert'); DROP TABLE Person;--"},
        {"familyName": "Robert'); DROP TABLE Person;--"},
    ),
    (
        "unexpected extra field",
        W,
        {"PersonEmail": "a@b.dk", "Surprise": {"x": 1}},
        {"givenName": "Åse"},
    ),
    (
        "missing mapped field",
        C,
        {"givenName": "<absent>", "mobilePhone": "<absent>"},
        {"givenName": "", "mobilePhone": ""},
    ),
    ("null where a string is expected", W, {"PersonFirstName": None}, {"givenName": ""}),
    # Live evidence 4: custom/Plus fields arrive as numbers; a mapped number is its text.
    ("int in a string field", W, {"PersonFirstName": 42}, {"givenName": "42"}),
    ("float in a string field", C, {"familyName": 1.5}, {"familyName": "1.5"}),
    ("whole float in a phone", C, {"mobilePhone": 4722334455.0}, {"mobilePhone": "4722334455"}),
    ("RowNumber and raw /Queries columns", W, {"RowNumber": 7, "p_lastUpdatedById": 3}, {}),
    ("whitespace-only value", C, {"familyName": " \t "}, {"familyName": ""}),
    ("padded value", W, {"PersonFirstName": "  Åse  "}, {"givenName": "Åse"}),
    ("decomposed Unicode", C, {"givenName": "A\u030ase"}, {"givenName": "Åse"}),
    ("emoji", W, {"PersonLastName": "Hansen 🙂"}, {"familyName": "Hansen 🙂"}),
    ("string id for webcrm", W, {"PersonId": " 99 "}, {"id": "99"}),
    ("year-1 timestamp (unset)", W, {"PersonUpdatedAt": "0001-01-01T00:00:00+00:00"}, {}),
]


@pytest.mark.parametrize(
    ("side", "patch", "expected"), [o[1:] for o in ODD_BUT_VALID], ids=[o[0] for o in ODD_BUT_VALID]
)
def test_odd_but_valid_records_pass_normalised(
    side: str, patch: dict[str, Any], expected: dict[str, str]
) -> None:
    """Strange but legal data passes verbatim (as inert text) or normalised, never quarantined."""
    # why the ignore below: `side` is a Side literal from the parametrisation
    result = prepare_side(frame(side, [bad_record(side, patch)]), PAIR, side, FM.entities)  # type: ignore[arg-type]
    assert result.quarantined.empty, result.quarantined["reason"].tolist()
    row = result.valid.iloc[-1]
    assert {k: row[k] for k in expected} == expected
    fields = ["givenName", "familyName", "directPhone", "mobilePhone"]
    assert list(result.valid.columns) == [
        "id",
        "updated_at",
        *fields,
        *(text_column(f) for f in fields),
    ]


def test_valid_frame_dtypes_and_timestamps() -> None:
    """ids are str, timestamps UTC ns (WebCRM offsets converted), fields str without NA."""
    result = prepare_side(frame(W, []), PAIR, W, FM.entities)
    assert str(result.valid["updated_at"].dtype) == "datetime64[ns, UTC]"
    assert result.valid["updated_at"].iloc[0] == pd.Timestamp("2024-09-14T08:00:00Z")
    assert all(result.valid[c].dtype == "str" for c in ("id", "givenName", "mobilePhone"))
    assert not result.valid.isna().any().any()
    crm = prepare_side(frame(C, []), PAIR, C, FM.entities)
    assert crm.valid["updated_at"].iloc[0] == pd.Timestamp("2024-09-14T08:00:00.123Z")


def test_missing_column_is_empty_not_an_error() -> None:
    """A snapshot lacking a mapped property altogether maps it to empty values."""
    raw = frame(W, []).drop(columns=["PersonDirectPhone"])
    result = prepare_side(raw, PAIR, W, FM.entities)
    assert result.quarantined.empty and result.valid["directPhone"].tolist() == ["", ""]


def test_empty_snapshot() -> None:
    """An empty snapshot gives empty frames with the right columns."""
    result = prepare_side(pd.DataFrame(), PAIR, W, FM.entities)
    assert result.valid.empty and list(result.valid.columns)[:2] == ["id", "updated_at"]
    assert list(result.quarantined.columns) == ["record_id", "reason", "payload"]
    assert bad_share(result) == 0.0


def test_bad_share_threshold_verdict() -> None:
    """The blocking verdict fails only when the bad share passes the threshold (10%)."""
    bad = [bad_record(W, {"PersonId": 100 + i, "PersonFirstName": True}) for i in range(3)]
    result = prepare_side(frame(W, bad), PAIR, W, FM.entities)
    assert bad_share(result) == pytest.approx(3 / 5)
    verdict = quarantine_verdict(result)
    assert not verdict.passed and "3 of 5 rows read quarantined (60.0%" in verdict.message
    assert quarantine_verdict(result, threshold=0.6).passed


def test_bad_share_is_taken_over_the_linked_records_when_more() -> None:
    """3 bad rows of 5 read in a pair of 100 links is a 3% share: within the 10% threshold."""
    bad = [bad_record(W, {"PersonId": 100 + i, "PersonFirstName": True}) for i in range(3)]
    result = prepare_side(frame(W, bad), PAIR, W, FM.entities)
    assert bad_share(result, linked=100) == pytest.approx(0.03)
    assert quarantine_verdict(result, linked=100).passed


def test_typed_snapshot_gives_the_same_frames() -> None:
    """A snapshot whose columns are already Arrow strings maps exactly like an object one."""
    records = [*GOOD[W], bad_record(W, {"PersonId": 7, "PersonDirectPhone": "call me"})]
    records.append(bad_record(W, {"PersonId": 8, "PersonUpdatedAt": "2024-09-14T10:00:00"}))
    untyped = pd.DataFrame(records, dtype=object)
    typed = untyped.astype({c: "str" for c in untyped.columns if c != "PersonId"})
    typed["PersonId"] = typed["PersonId"].astype("str")
    a = prepare_side(untyped, PAIR, W, FM.entities)
    b = prepare_side(typed, PAIR, W, FM.entities)
    pd.testing.assert_frame_equal(a.valid, b.valid)
    assert a.quarantined["reason"].tolist() == b.quarantined["reason"].tolist()
