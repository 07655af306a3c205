"""Seed data: deterministic, Nordic, with matching work, ambiguity and a few messy records."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from sync_pipeline.sandbox import CrmofficeState, WebcrmState
from sync_pipeline.sandbox.seed import seed_sandbox

PHONE = re.compile(
    r"^(\+45 \d{2} \d{2} \d{2} \d{2}|\d{2} \d{2} \d{2} \d{2}|\+47 \d{3} \d{2} \d{3})$"
)


def _seeded(n: int) -> tuple[WebcrmState, CrmofficeState]:
    """Both states seeded with n."""
    webcrm, crmoffice = WebcrmState(), CrmofficeState()
    seed_sandbox(webcrm, crmoffice, n)
    return webcrm, crmoffice


def _key(first: str | None, last: str | None, mobile: str | None) -> tuple[str, str, str]:
    """Names and mobile, trimmed and without inner spaces in the phone."""
    return ((first or "").strip(), (last or "").strip(), (mobile or "").replace(" ", ""))


@pytest.fixture(scope="module")
def seeded() -> tuple[WebcrmState, CrmofficeState]:
    """The data of `--seed 400`."""
    return _seeded(400)


def test_same_n_gives_the_same_data(seeded: tuple[WebcrmState, CrmofficeState]) -> None:
    """Seeding is deterministic for N, timestamps included."""
    webcrm, crmoffice = _seeded(400)
    assert webcrm.records("Persons") == seeded[0].records("Persons")
    assert crmoffice.records("contacts") == seeded[1].records("contacts")
    assert _seeded(401)[0].records("Persons") != webcrm.records("Persons")


def test_counts_per_entity(seeded: tuple[WebcrmState, CrmofficeState]) -> None:
    """N persons, N/20 users, N/4 products, N contacts, N/10 companies."""
    webcrm, crmoffice = seeded
    counts = [len(webcrm.records(e)) for e in ("Persons", "Users", "Products")]
    assert counts == [400, 20, 100]
    assert [len(crmoffice.records(e)) for e in ("contacts", "companies")] == [400, 40]


def test_nordic_names_and_phone_formats(seeded: tuple[WebcrmState, CrmofficeState]) -> None:
    """Names use æ/ø/å; phones look like +45 12 34 56 78, 22 33 44 55 or +47 412 34 567."""
    persons = seeded[0].records("Persons")
    names = " ".join(p["PersonFirstName"] + p["PersonLastName"] for p in persons)
    assert {"æ", "ø", "å"} <= set(names.lower())
    phones = [p["PersonMobilePhone"] for p in persons]
    assert sum(bool(PHONE.match(p)) for p in phones) >= 0.95 * len(phones)
    assert {p[:3] for p in phones if p.startswith("+")} == {"+45", "+47"}
    assert any(not p.startswith("+") for p in phones)


def test_a_fifth_of_contacts_match_persons_and_three_are_ambiguous(
    seeded: tuple[WebcrmState, CrmofficeState],
) -> None:
    """About 20% of contacts equal a person (after trimming); three persons have two."""
    webcrm, crmoffice = seeded
    persons = Counter(
        _key(p["PersonFirstName"], p["PersonLastName"], p["PersonMobilePhone"])
        for p in webcrm.records("Persons")
    )
    contacts = Counter(
        _key(c["givenName"], c["familyName"], c["mobilePhone"])
        for c in crmoffice.records("contacts")
    )
    matched = {k: n for k, n in contacts.items() if k in persons}
    assert 0.18 * 400 <= sum(matched.values()) <= 0.25 * 400
    assert sum(1 for n in matched.values() if n == 2) == 3
    raw = {
        (c["givenName"], c["familyName"], c["mobilePhone"]) for c in crmoffice.records("contacts")
    }
    exact = {
        (p["PersonFirstName"], p["PersonLastName"], p["PersonMobilePhone"])
        for p in webcrm.records("Persons")
    }
    assert len(raw & exact) < sum(matched.values())  # some differ only in whitespace


def test_some_contacts_share_a_user_mobile(seeded: tuple[WebcrmState, CrmofficeState]) -> None:
    """A few contacts have a user's mobile number."""
    mobiles = {u["UserMobilePhone"] for u in seeded[0].records("Users")}
    assert 1 <= sum(c["mobilePhone"] in mobiles for c in seeded[1].records("contacts")) <= 10


def test_messy_records(seeded: tuple[WebcrmState, CrmofficeState]) -> None:
    """Trailing spaces, "" next to null, long values; over 255 chars only in WebCRM."""
    webcrm, crmoffice = seeded
    persons = webcrm.records("Persons")
    longest = max(len(str(v)) for p in persons for v in p.values())
    assert longest > 255
    assert any(p["PersonFirstName"] != p["PersonFirstName"].rstrip() for p in persons)
    contacts = crmoffice.records("contacts")
    values = [v for c in contacts for k, v in c.items() if isinstance(v, str)]
    assert max(map(len, values)) == 255
    assert "" in {c["directPhone"] for c in contacts} and None in {
        c["directPhone"] for c in contacts
    }
    assert any(v != v.strip() for v in values)


def test_contacts_refer_to_existing_companies(seeded: tuple[WebcrmState, CrmofficeState]) -> None:
    """Company links point at seeded companies; about half the contacts have one."""
    crmoffice = seeded[1]
    ids = {c["id"] for c in crmoffice.records("companies")}
    linked = [c["company"]["id"] for c in crmoffice.records("contacts") if c["company"]]
    assert set(linked) <= ids and 0.3 * 400 < len(linked) < 0.7 * 400


def test_zero_and_tiny_seeds() -> None:
    """--seed 0 is empty; a tiny seed still works."""
    assert _seeded(0)[0].records("Persons") == []
    webcrm, crmoffice = _seeded(3)
    assert len(webcrm.records("Persons")) == 3 and len(crmoffice.records("contacts")) == 3
