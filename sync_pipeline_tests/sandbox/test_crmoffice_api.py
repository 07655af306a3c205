"""CRMOffice (assumed API): token, envelope and paging, updatedSince, writes, strict validation."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from sync_pipeline.core.known_fields import CRMOFFICE_PROPERTIES
from sync_pipeline.sandbox import InvalidBody, RunningSandbox, running_sandbox
from sync_pipeline.sandbox.crmoffice_assumptions import FIELD_ORDER
from sync_pipeline_tests.sandbox.conftest import crmoffice_login, quick_settings

UTC_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
PROBLEM_KEYS = {"type", "title", "status", "detail"}


def _assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an application/problem+json document with this status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    return body


def test_rendered_fields_are_the_assumed_ones() -> None:
    """The assumptions module and core.known_fields agree on every CRMOffice property."""
    for entity, fields in FIELD_ORDER.items():
        assert set(fields) == CRMOFFICE_PROPERTIES[entity]


def test_token_endpoint(sandbox: RunningSandbox) -> None:
    """Client credentials in the form or via HTTP Basic give a bearer token; others are refused."""
    url = f"{sandbox.crmoffice_url}/connect/token"
    good = {"grant_type": "client_credentials", "client_id": "sandbox-client"}
    body = httpx.post(url, data={**good, "client_secret": "sandbox-secret"}).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
    basic = httpx.post(
        url, data={"grant_type": "client_credentials"}, auth=("sandbox-client", "sandbox-secret")
    )
    assert basic.status_code == 200
    wrong = httpx.post(url, data={**good, "client_secret": "guess"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    grant = httpx.post(
        url, data={**good, "grant_type": "password", "client_secret": "sandbox-secret"}
    )
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


def test_bad_and_expired_tokens_are_401() -> None:
    """No token or an unknown one is 401 at once; a valid one is 401 after its TTL."""
    with running_sandbox(quick_settings(seed=3, token_ttl=1.0)) as sandbox:
        _assert_problem(httpx.get(f"{sandbox.crmoffice_url}/contacts"), 401)
        wrong = {"Authorization": "Bearer nope"}
        _assert_problem(httpx.get(f"{sandbox.crmoffice_url}/contacts", headers=wrong), 401)
        with crmoffice_login(sandbox.crmoffice_url) as client:
            assert client.get("/contacts").status_code == 200
            time.sleep(1.2)
            _assert_problem(client.get("/contacts"), 401)


@pytest.mark.parametrize("entity", ["contacts", "companies"])
def test_list_envelope_and_paging(crmoffice: httpx.Client, entity: str) -> None:
    """Pages of the items envelope cover every record once; past the end items is []."""
    first = crmoffice.get(f"/{entity}", params={"pageSize": 3}).json()
    assert set(first) == {"items", "page", "pageSize", "totalItems"}
    assert (first["page"], first["pageSize"], len(first["items"])) == (1, 3, 3)
    seen: list[str] = []
    for page in range(1, 1000):
        items = crmoffice.get(f"/{entity}", params={"page": page, "pageSize": 500}).json()["items"]
        if not items:
            break
        seen += [item["id"] for item in items]
    assert len(seen) == len(set(seen)) == first["totalItems"]
    assert all(set(item) == CRMOFFICE_PROPERTIES[entity] for item in first["items"])


@pytest.mark.parametrize(
    "params",
    [
        {"pageSize": "0"},
        {"pageSize": "501"},
        {"page": "0"},
        {"page": "x"},
        {"updatedSince": "2024-01-01"},
    ],
)
def test_bad_list_parameters_are_400(crmoffice: httpx.Client, params: dict[str, str]) -> None:
    """pageSize must be 1..500, page >= 1, updatedSince a date-time with an offset."""
    _assert_problem(crmoffice.get("/contacts", params=params), 400)


def test_updated_since_is_inclusive_and_updated_at_strictly_increases(
    crmoffice: httpx.Client,
) -> None:
    """Each write gets a later updatedAt (UTC, ms, Z); updatedSince=<that time> includes it."""
    stamps = []
    for name in ("Ingrid", "Håkon", "Solveig"):
        created = crmoffice.post("/contacts", json={"givenName": name})
        assert created.status_code == 201
        stamps.append(created.json()["updatedAt"])
    assert all(UTC_MILLIS.match(s) for s in stamps) and stamps == sorted(set(stamps))
    body = crmoffice.get("/contacts", params={"updatedSince": stamps[1], "pageSize": 500}).json()
    names = [item["givenName"] for item in body["items"]]
    assert names == ["Håkon", "Solveig"] and body["totalItems"] == 2
    since = stamps[1].replace("Z", "+00:00")
    assert crmoffice.get("/contacts", params={"updatedSince": since}).json()["totalItems"] == 2


def test_post_get_patch_put_delete(crmoffice: httpx.Client) -> None:
    """POST is 201 with the record, PATCH changes only sent fields, PUT replaces, DELETE 204."""
    company = crmoffice.post("/companies", json={"name": "Fjordkraft AS"}).json()
    created = crmoffice.post(
        "/contacts",
        json={"givenName": "Øyvind", "email": "o@x.no", "company": {"id": company["id"]}},
    )
    contact = created.json()
    assert created.headers["location"] == f"/contacts/{contact['id']}"
    assert contact["id"].startswith("c-") and company["id"].startswith("co-")
    patched = crmoffice.patch(f"/contacts/{contact['id']}", json={"familyName": "Ødegård"}).json()
    assert (patched["givenName"], patched["familyName"], patched["email"]) == (
        "Øyvind",
        "Ødegård",
        "o@x.no",
    )
    assert (
        patched["createdAt"] == contact["createdAt"] and patched["updatedAt"] > contact["updatedAt"]
    )
    replaced = crmoffice.put(f"/contacts/{contact['id']}", json={"givenName": "Øyvind"}).json()
    assert replaced["familyName"] is None and replaced["company"] is None
    assert crmoffice.get(f"/contacts/{contact['id']}").json() == replaced
    assert crmoffice.delete(f"/contacts/{contact['id']}").status_code == 204
    _assert_problem(crmoffice.get(f"/contacts/{contact['id']}"), 404)
    _assert_problem(crmoffice.patch("/contacts/c-999999", json={}), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nickname": "Kari"}, "nickname"),
        ({"givenName": "x" * 256}, "givenName"),
        ({"givenName": 42}, "givenName"),
        ({"id": "c-1"}, "id"),
        ({"updatedAt": "2024-01-01T00:00:00.000Z"}, "updatedAt"),
        ({"createdAt": "2024-01-01T00:00:00.000Z"}, "createdAt"),
        ({"company": "co-1"}, "company"),
        ({"company": {"id": "co-999999"}}, "company"),
    ],
)
def test_invalid_contact_fields_are_422(
    crmoffice: httpx.Client, body: dict[str, Any], field: str
) -> None:
    """Unknown fields, over-long strings, wrong types, read-only fields and bad references: 422."""
    problem = _assert_problem(crmoffice.post("/contacts", json=body), 422)
    assert field in problem["errors"]
    existing = crmoffice.get("/contacts", params={"pageSize": 1}).json()["items"][0]
    _assert_problem(crmoffice.patch(f"/contacts/{existing['id']}", json=body), 422)
    assert crmoffice.get(f"/contacts/{existing['id']}").json() == existing


def test_255_characters_are_accepted(crmoffice: httpx.Client) -> None:
    """The limit is inclusive: exactly 255 characters is fine."""
    assert crmoffice.post("/contacts", json={"title": "å" * 255}).status_code == 201


def test_company_addresses(crmoffice: httpx.Client) -> None:
    """Addresses are objects of four nullable strings; unknown parts are 422."""
    address = {"streetAddress": "Bryggen 1", "postCode": "5003", "postalArea": "Bergen"}
    company = crmoffice.post(
        "/companies", json={"name": "Bryggen AS", "postAddress": address}
    ).json()
    assert (
        company["postAddress"] == {**address, "country": None} and company["visitAddress"] is None
    )
    bad = crmoffice.post("/companies", json={"postAddress": {"street": "x"}})
    assert "postAddress" in _assert_problem(bad, 422)["errors"]


def test_wrong_media_type_and_malformed_json(crmoffice: httpx.Client) -> None:
    """Writes need a JSON body: other media types are 415, broken JSON 400."""
    _assert_problem(
        crmoffice.post("/contacts", content="givenName=x", headers={"Content-Type": "text/plain"}),
        415,
    )
    bad = crmoffice.post("/contacts", content="{", headers={"Content-Type": "application/json"})
    _assert_problem(bad, 400)


def test_state_handle_applies_the_same_rules(sandbox: RunningSandbox) -> None:
    """Test edits through the state handle are validated like API writes."""
    contact_id = sandbox.crmoffice.insert("contacts", {"givenName": "Kari"})
    with pytest.raises(InvalidBody):
        sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "x" * 256})
    sandbox.crmoffice.edit("contacts", contact_id, {"familyName": "Nordmann"})
    record = next(r for r in sandbox.crmoffice.records("contacts") if r["id"] == contact_id)
    assert (record["givenName"], record["familyName"]) == ("Kari", "Nordmann")
