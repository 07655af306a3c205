"""Small readers over the sandbox state for the pipeline tests."""

from __future__ import annotations

import json
from typing import Any

import httpx

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


class DeleteAfterFirstPage(httpx.HTTPTransport):
    """Real HTTP to a sandbox; just after CRMOffice serves the first page of contacts, a user
    deletes `victim` (a record on that page: every later record moves up one place)."""

    def __init__(self, sandbox: RunningSandbox, victim: str) -> None:
        super().__init__()
        self.sandbox, self.victim = sandbox, victim

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path == "/contacts" and request.url.params.get("page") == "1":
            self.sandbox.crmoffice.delete("contacts", self.victim)
        return response


class HidingLister(httpx.HTTPTransport):
    """Real HTTP to a sandbox, but CRMOffice's contact lists leave out `hidden` ids and count
    them out of `totalItems` too (a lagging search index): the pages add up, the records exist."""

    def __init__(self, hidden: set[str]) -> None:
        super().__init__()
        self.hidden = hidden

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path != "/contacts" or request.method != "GET":
            return response
        body = json.loads(response.read())
        kept = [item for item in body["items"] if item["id"] not in self.hidden]
        body["totalItems"] -= len(body["items"]) - len(kept)
        return httpx.Response(200, json={**body, "items": kept})
