"""Small readers over the sandbox state for the pipeline tests."""

from __future__ import annotations

from typing import Any

from sync_pipeline.sandbox.server import RunningSandbox
from sync_pipeline.store import LinkStore

# The organisation the pipeline sandbox starts with (the first WebCRM organisation id): live,
# every person belongs to an existing organisation (evidence 8).
DEFAULT_ORGANISATION_ID = 1000
PERSON = {
    "PersonFirstName": "Søren",
    "PersonLastName": "Kjærgaard",
    "PersonOrganisationId": DEFAULT_ORGANISATION_ID,
    "PersonDirectPhone": "+45 33 12 34 56",
    "PersonMobilePhone": "+45 20 30 40 50",
    "PersonEmail": "soren@example.dk",
    "PersonTitle": "Indkøbschef",
}
PERSON_TO_CONTACT = {
    "PersonFirstName": "givenName",
    "PersonLastName": "familyName",
    "PersonDirectPhone": "directPhone",
    "PersonMobilePhone": "mobilePhone",
}
USER_TO_CONTACT = {"UserMobilePhone": "mobilePhone", "UserTelephone": "directPhone"}


def contacts(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    """Every CRMOffice contact."""
    return sandbox.crmoffice.records("contacts")


def persons(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    """Every WebCRM person."""
    return sandbox.webcrm.records("Persons")


def partner(store: LinkStore, pair: str, record_id: str | int) -> str:
    """The id linked to `record_id` in `pair` (either side's id)."""
    links = [link for link in store.find_links(str(record_id)) if link["pair"] == pair]
    assert len(links) == 1, f"expected one {pair} link for {record_id}, got {links}"
    link = links[0]
    return str(
        link["crmoffice_id"] if str(link["webcrm_id"]) == str(record_id) else link["webcrm_id"]
    )


def contact(sandbox: RunningSandbox, contact_id: str) -> dict[str, Any]:
    """One contact by id."""
    record = sandbox.crmoffice.get("contacts", contact_id)
    assert record is not None, f"contact {contact_id} is missing"
    return record


def person(sandbox: RunningSandbox, person_id: str | int) -> dict[str, Any]:
    """One person by id."""
    record = sandbox.webcrm.get("Persons", int(person_id))
    assert record is not None, f"person {person_id} is missing"
    return record
