"""Deterministic Nordic sample data for both CRMs (`sync-pipeline sandbox --seed N`).

About N persons, N/20 users, N/4 products, N/20 organisations in WebCRM and N contacts, N/10
companies in CRMOffice.
About 20% of the contacts describe the same people as persons (same names and mobile, sometimes
with different whitespace) so initial matching has work; three persons have two equal contacts
each (ambiguous matches); a few contacts share a user's mobile; a few records are messy (trailing
spaces, "" vs missing, very long values -- one over 255 characters, in WebCRM only, since
CRMOffice rejects those). The same N always gives the same records and timestamps; the
organisations draw from their own random stream, so adding them left every other record as it was,
but for each person's `PersonOrganisationId` (persons take the organisations in turn, evidence 8).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from sync_pipeline.sandbox import seed_names as names
from sync_pipeline.sandbox.crmoffice_state import CrmofficeState
from sync_pipeline.sandbox.webcrm_state import WebcrmState

# Seeded records were created and last changed between these instants (both DST seasons).
_EPOCH_START = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
_EPOCH_SPAN = 500 * 86_400
MATCHED_SHARE = 0.2
AMBIGUOUS_PERSONS = 3
USER_MOBILE_CONTACTS = 3
Person = dict[str, Any]


def seed_sandbox(webcrm: WebcrmState, crmoffice: CrmofficeState, n: int) -> None:
    """Fill both (empty) states with the sample data for `n`."""
    rng = random.Random(f"sync-pipeline-sandbox-{n}")
    persons = [_person(rng) for _ in range(n)]
    users = [_user(rng) for _ in range(_share(n, 20))]
    _mess_up_persons(persons)
    organisation_ids = _organisations(webcrm, n)
    for position, record in enumerate(persons):
        # Every person belongs to an existing organisation, as live (evidence 8).
        owner = {"PersonOrganisationId": organisation_ids[position % len(organisation_ids)]}
        webcrm.create("Persons", {**record, **owner}, "Seed", at=_moment(rng))
    for record in users:
        webcrm.create("Users", record, "Seed", at=_moment(rng))
    for _ in range(_share(n, 4)):
        webcrm.create("Products", _product(rng), "Seed", at=_moment(rng))
    company_ids = [
        crmoffice.add("companies", _company(rng), at=_moment(rng)) for _ in range(_share(n, 10))
    ]
    for contact in _contacts(rng, n, persons, users, company_ids):
        crmoffice.add("contacts", contact, at=_moment(rng))


def _organisations(webcrm: WebcrmState, n: int) -> list[int]:
    """About n/20 organisations from a random stream of their own; their ids."""
    organisations = random.Random(f"sync-pipeline-sandbox-{n}-organisations")
    return [
        webcrm.create(
            "Organisations", _organisation(organisations), "Seed", at=_moment(organisations)
        )
        for _ in range(_share(n, 20))
    ]


def _share(n: int, divisor: int) -> int:
    return 0 if n <= 0 else max(1, round(n / divisor))


def _moment(rng: random.Random) -> int:
    return _EPOCH_START + rng.randrange(_EPOCH_SPAN)


def _name(rng: random.Random) -> tuple[str, str, str]:
    if rng.random() < 0.5:
        return rng.choice(names.DANISH_FIRST), rng.choice(names.DANISH_LAST), "dk"
    return rng.choice(names.NORWEGIAN_FIRST), rng.choice(names.NORWEGIAN_LAST), "no"


def _phone(rng: random.Random, country: str) -> str:
    """`+45 12 34 56 78`, `22 33 44 55` or `+47 412 34 567`."""
    if country == "dk":
        d = str(rng.randrange(20_000_000, 100_000_000))
        number = f"{d[:2]} {d[2:4]} {d[4:6]} {d[6:]}"
        return number if rng.random() < 0.3 else f"+45 {number}"
    drawn = rng.randrange(20_000_000)  # Norwegian mobiles start with 4 or 9
    d = str(drawn + (40_000_000 if drawn < 10_000_000 else 80_000_000))
    return f"+47 {d[:3]} {d[3:5]} {d[5:]}"


def _email(first: str, last: str, rng: random.Random) -> str:
    domain = rng.choice(("firma.dk", "post.no", "example.no", "mail.dk", "online.no"))
    return f"{first}.{last}@{domain}".lower().translate(names.ASCII)


def _person(rng: random.Random) -> Person:
    first, last, country = _name(rng)
    record: Person = {
        "PersonFirstName": first,
        "PersonLastName": last,
        "PersonMobilePhone": _phone(rng, country),
        "PersonEmail": _email(first, last, rng),
        "PersonTitle": rng.choice(names.TITLES) or None,
    }
    if rng.random() < 0.5:
        record["PersonDirectPhone"] = _phone(rng, country)
    return {k: v for k, v in record.items() if v is not None}


def _mess_up_persons(persons: list[Person]) -> None:
    """A handful of records as real CRMs have them."""
    if len(persons) < 10:
        return
    persons[-1]["PersonLastName"] = "Grønli-" + "Bråten" * 50  # 307 chars: > 255
    persons[-2]["PersonComment"] = "Ønsker tilbud på årsabonnement. " * 7  # long, ≤ 255
    persons[-3]["PersonFirstName"] += "  "
    persons[-4]["PersonDirectPhone"] = "   "
    persons[-5]["PersonTitle"] = "Rådgiver " * 28  # 252 chars


def _user(rng: random.Random) -> Person:
    first, last, country = _name(rng)
    return {
        "UserName": f"{first} {last}",
        "UserInitials": (first[0] + last[0]).upper(),
        "UserLoginName": f"{first}.{last}".lower().translate(names.ASCII),
        "UserEmail": _email(first, last, rng),
        "UserMobilePhone": _phone(rng, country),
        "UserTelephone": _phone(rng, country),
        "UserIsRestApiEnabled": True,
    }


def _product(rng: random.Random) -> Person:
    return {
        "ProductCombined": f"{rng.choice(names.PRODUCTS)} {rng.randrange(1, 100)}",
        "ProductPrice": float(rng.randrange(100, 50_000)),
        "ProductListPrice": float(rng.randrange(100, 60_000)),
        "ProductQuantity": float(rng.randrange(1, 20)),
        "ProductVatCode": "25%",
        "ProductStockStatus": rng.choice(("På lager", "Bestilt", "Udsolgt")),
    }


def _organisation(rng: random.Random) -> dict[str, Any]:
    """A Danish or Norwegian company as WebCRM holds it (OrganisationDto)."""
    post_code, city, country = rng.choice(names.PLACES)
    word, kind = rng.choice(names.COMPANY_WORDS), rng.choice(names.COMPANY_KINDS)
    form = "A/S" if country == "DK" else "AS"
    phone = _phone(rng, country.lower())
    return {
        "OrganisationName": f"{word}{kind.lower()} {form}",
        "OrganisationAddress": f"{rng.choice(names.STREETS)} {rng.randrange(1, 120)}",
        "OrganisationPostCode": post_code,
        "OrganisationCity": city,
        "OrganisationCountry": {"DK": "Danmark", "NO": "Norge"}[country],
        "OrganisationTelephone": phone,
        "OrganisationWww": f"www.{word.lower()}{kind.lower()}.{country.lower()}".translate(
            names.ASCII
        ),
        "OrganisationVatNumber": f"{country}{rng.randrange(10_000_000, 99_999_999)}",
    }


def _company(rng: random.Random) -> dict[str, Any]:
    name = f"{rng.choice(names.COMPANY_WORDS)}{rng.choice(names.COMPANY_KINDS).lower()}"
    post_code, area, country = rng.choice(names.PLACES)
    address = {
        "streetAddress": f"{rng.choice(names.STREETS)} {rng.randrange(1, 120)}",
        "postCode": post_code,
        "postalArea": area,
        "country": country,
    }
    return {
        "name": f"{name} {rng.choice(names.COMPANY_FORMS)}",
        "orgNr": f"{rng.randrange(800_000_000, 999_999_999)}",
        "postAddress": address,
        "visitAddress": dict(address) if rng.random() < 0.5 else None,
    }


def _contacts(
    rng: random.Random, n: int, persons: list[Person], users: list[Person], companies: list[str]
) -> list[dict[str, Any]]:
    clean = [p for p in persons[: max(0, len(persons) - 5)] if p["PersonLastName"].strip()]
    matched = rng.sample(clean, min(len(clean), round(n * MATCHED_SHARE)))
    twins = matched[:AMBIGUOUS_PERSONS] if len(matched) > 20 else []
    contacts = [_contact_like(rng, p) for p in [*matched, *twins]]
    contacts += [_contact_for_user(rng, u) for u in users[:USER_MOBILE_CONTACTS]]
    while len(contacts) < n:
        contacts.append(_new_contact(rng))
    contacts = contacts[:n]
    rng.shuffle(contacts)
    for contact in contacts:
        if companies and rng.random() < 0.5:
            contact["company"] = {"id": rng.choice(companies)}
    _mess_up_contacts(contacts)
    return contacts


def _contact_like(rng: random.Random, person: Person) -> dict[str, Any]:
    """The same person as CRMOffice has them: whitespace may differ."""
    mobile = person["PersonMobilePhone"]
    roll = rng.random()
    if roll < 0.1:
        mobile = mobile.replace(" ", "")
    elif roll < 0.25:
        mobile = f" {mobile} "
    return {
        "givenName": person["PersonFirstName"],
        "familyName": person["PersonLastName"] + (" " if rng.random() < 0.1 else ""),
        "mobilePhone": mobile,
        "email": person.get("PersonEmail"),
    }


def _contact_for_user(rng: random.Random, user: Person) -> dict[str, Any]:
    first, last = str(user["UserName"]).split(" ", 1)
    return {"givenName": first, "familyName": last, "mobilePhone": user["UserMobilePhone"]}


def _new_contact(rng: random.Random) -> dict[str, Any]:
    first, last, country = _name(rng)
    contact: dict[str, Any] = {
        "givenName": first,
        "familyName": last,
        "mobilePhone": _phone(rng, country),
        "email": _email(first, last, rng),
        "title": rng.choice(names.TITLES) or None,
    }
    if rng.random() < 0.4:
        contact["directPhone"] = _phone(rng, country)
    return contact


def _mess_up_contacts(contacts: list[dict[str, Any]]) -> None:
    if len(contacts) < 10:
        return
    contacts[0]["directPhone"] = ""  # "" where others have null
    contacts[1]["email"] = ""
    contacts[2]["givenName"] = str(contacts[2]["givenName"]) + " "
    contacts[3]["title"] = ("Kundeansvarlig " * 17)[:255]  # exactly 255 chars
