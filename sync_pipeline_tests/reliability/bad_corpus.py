"""The corpus of bad records: what each one is, how it gets into a CRM, and what must happen.

A kind is injected into a fresh record (names carry a marker so a leak can be found on the
other side) or, for `linked` kinds, into a record that is already linked. `store` kinds are
written straight into the sandbox's storage (values its API would refuse); `wire` kinds are
rewritten in the list responses (what its storage cannot even hold: missing ids, duplicate
rows, unparseable timestamps, lone surrogates). Outcomes:
- quarantine: kept out with a reason containing `reason`, and nothing of it reaches the other CRM;
- verbatim: hostile-looking but valid text, which must arrive exactly as sent;
- ignored: an unknown property, which must not travel (the record itself may sync).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ABSENT = object()
DUPLICATE = object()
W, C = "webcrm", "crmoffice"


@dataclass(frozen=True)
class BadKind:
    """One kind of bad record."""

    name: str
    system: str
    mode: str  # "store" | "wire" | "insert"
    field: str
    value: Any
    reason: str = ""
    outcome: str = "quarantine"
    linked: bool = False


CORPUS: tuple[BadKind, ...] = (
    # A number in a string field is its text (live evidence 4), not bad input: see
    # core/test_bad_input.py::test_odd_but_valid_records_pass_normalised.
    BadKind("bool in a string field", W, "store", "PersonLastName", False, "wrong type bool"),
    BadKind("object in a string field", C, "store", "givenName", {"a": "x"}, "wrong type dict"),
    BadKind("list in a string field", W, "store", "PersonMobilePhone", ["+45"], "wrong type list"),
    BadKind("over-long string", W, "insert", "PersonLastName", "x" * 256, "longer than 255"),
    BadKind("huge payload", W, "store", "PersonFirstName", "y" * 1_000_000, "longer than 255"),
    BadKind("NUL character", W, "store", "PersonFirstName", "An\x00ne", "control characters"),
    BadKind("newline in a value", C, "store", "givenName", "Ka\nri", "control characters"),
    BadKind("C1 control character", W, "store", "PersonLastName", "A\x85se", "control characters"),
    BadKind("DEL character", C, "store", "familyName", "Nord\x7fmann", "control characters"),
    BadKind("lone surrogate (WebCRM)", W, "wire", "PersonLastName", "Ha\ud800n", "surrogate"),
    BadKind("lone surrogate (CRMOffice)", C, "wire", "givenName", "Ka\udfffri", "surrogate"),
    BadKind("letters in a phone", W, "store", "PersonDirectPhone", "call me", "not a phone"),
    BadKind("zero-width space in a phone", C, "store", "mobilePhone", "\u200b22 33", "not a phone"),
    BadKind("phone without digits", W, "store", "PersonMobilePhone", "+-()", "not a phone"),
    BadKind("missing id", W, "wire", "PersonId", ABSENT, "missing or blank id"),
    BadKind("null id", C, "wire", "id", None, "missing or blank id"),
    BadKind("blank id", C, "wire", "id", "   ", "missing or blank id"),
    BadKind("non-integer WebCRM id", W, "wire", "PersonId", "abc", "not an integer id"),
    BadKind("integer CRMOffice id", C, "wire", "id", 17, "wrong type int"),
    BadKind("control character in an id", C, "wire", "id", "c-\x00", "control characters"),
    BadKind("duplicate id (WebCRM)", W, "wire", "PersonId", DUPLICATE, "duplicate id"),
    BadKind("duplicate id (CRMOffice)", C, "wire", "id", DUPLICATE, "duplicate id"),
    BadKind("offset-less timestamp", W, "wire", "PersonUpdatedAt", "2024-09-14T10:00:00", "offset"),
    BadKind("timestamp without Z", C, "wire", "updatedAt", "2024-09-14T08:00:00.123", "offset"),
    BadKind("unparseable timestamp", C, "wire", "updatedAt", "yesterday Z", "unparseable"),
    BadKind("impossible date", W, "wire", "PersonUpdatedAt", "2024-13-45T10:00:00+02:00", "unpars"),
    BadKind("numeric timestamp", C, "wire", "updatedAt", 1726300800, "wrong type int"),
    BadKind("missing timestamp", W, "wire", "PersonUpdatedAt", None, "missing timestamp"),
    BadKind("missing mapped field", C, "wire", "familyName", ABSENT, "familyName"),
    BadKind(
        "HTML/script", W, "insert", "PersonLastName", "<script>alert(1)</script>", "", "verbatim"
    ),
    BadKind("SQL-looking", C, "insert", "familyName", "x'); DROP TABLE links;--", "", "verbatim"),
    BadKind("unexpected extra field", W, "wire", "PersonSecretNote", "extra-9f3", "", "ignored"),
    BadKind(
        "linked: control character", W, "store", "PersonFirstName", "Bo\x07", "control", linked=True
    ),
    BadKind("linked: wrong type", C, "store", "mobilePhone", True, "wrong type bool", linked=True),
    BadKind(
        "linked: missing mapped field", C, "wire", "givenName", ABSENT, "givenName", linked=True
    ),
    BadKind(
        "linked: unparseable timestamp", C, "wire", "updatedAt", "soon", "unparseable", linked=True
    ),
)
