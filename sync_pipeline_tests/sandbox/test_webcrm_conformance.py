"""WebCRM conformance: every emulated operation answers what the vendor spec declares."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sync_pipeline.core.systems import packaged_systems
from sync_pipeline.sandbox import RunningSandbox
from sync_pipeline.sandbox.webcrm_dto import ENTITIES, LIVE_EXTRA_FIELDS
from sync_pipeline_tests.sandbox.conftest import creatable
from sync_pipeline_tests.sandbox.spec import (
    FULL_SPEC_CANDIDATES,
    assert_valid,
    definition_validator,
    operation,
    response_validator,
    spec,
)

ENTITY_NAMES = list(packaged_systems().webcrm.entities)  # Persons, Users, Products, Organisations
JSON_TYPES = ["application/json-patch+json", "application/json", "text/json", "application/*+json"]
XML_TYPES = ["application/xml", "text/xml", "application/*+xml"]


def _concrete(media_type: str) -> str:
    """A concrete media type for a spec pattern like application/*+json."""
    return media_type.replace("*", "vnd.webcrm")


def _first_id(client: httpx.Client, entity: str) -> int:
    """The id of the first record of an entity."""
    rows = client.get(f"/{entity}", params={"Size": 1}).json()
    return int(rows[0][ENTITIES[entity].id_field])


def test_vendored_subset_matches_the_vendor_spec() -> None:
    """The vendored operations and definitions are verbatim copies of the vendor file."""
    path = next((p for p in FULL_SPEC_CANDIDATES if p.exists()), None)
    if path is None:
        pytest.skip("the full vendor spec is not available beside this checkout")
    full = json.loads(path.read_text(encoding="utf-8"))
    for name, item in spec()["paths"].items():
        assert full["paths"][name] == item
    for name, definition in spec()["definitions"].items():
        assert full["definitions"][name] == definition


@pytest.mark.parametrize("entity", ENTITY_NAMES)
def test_emulated_property_types_follow_the_spec(entity: str) -> None:
    """Every DTO property is emulated with the spec's type (and its enum members)."""
    properties = spec()["definitions"][f"{ENTITIES[entity].prefix}Dto"]["properties"]
    kinds = ENTITIES[entity].kinds
    assert set(kinds) == set(properties) == packaged_systems().webcrm.entity(entity).properties
    by_type = {"integer": "int", "number": "number", "boolean": "bool"}
    for name, prop in properties.items():
        if "enum" in prop:
            assert kinds[name] == "enum" and ENTITIES[entity].enums[name] == tuple(prop["enum"])
        elif prop.get("format") == "date-time":
            assert kinds[name] == "datetime"
        else:
            assert kinds[name] == by_type.get(prop["type"], "string"), name


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_login_answers_a_token_response(sandbox: RunningSandbox, encoding: str) -> None:
    """ApiLogin takes authCode as urlencoded or multipart form data and returns TokenResponseDto."""
    url = f"{sandbox.webcrm_url}/Auth/ApiLogin"
    if encoding == "urlencoded":
        response = httpx.post(url, data={"authCode": "sandbox-webcrm-token"})
    else:
        response = httpx.post(url, files={"authCode": (None, "sandbox-webcrm-token")})
    assert response.status_code == 200
    body = response.json()
    assert_valid(response_validator("/Auth/ApiLogin", "post"), body)
    assert body["TokenType"] == "Bearer" and body["IsError"] is False and body["AccessToken"]


@pytest.mark.parametrize("entity", ENTITY_NAMES)
def test_list_and_get_validate(webcrm: httpx.Client, entity: str) -> None:
    """List pages and single records validate and carry every DTO property."""
    rows = webcrm.get(f"/{entity}", params={"Page": 1, "Size": 1000}).json()
    assert rows
    assert_valid(response_validator(f"/{entity}", "get"), rows)
    known = packaged_systems().webcrm.entity(entity).properties
    extra = set(LIVE_EXTRA_FIELDS.get(ENTITIES[entity].prefix, ()))
    assert all(set(row) == known | extra for row in rows)
    record = webcrm.get(f"/{entity}/{_first_id(webcrm, entity)}").json()
    assert_valid(response_validator(f"/{entity}/{{id}}", "get"), record)


@pytest.mark.parametrize("entity", ENTITY_NAMES)
@pytest.mark.parametrize("media_type", JSON_TYPES)
def test_post_accepts_every_json_media_type(
    webcrm: httpx.Client, entity: str, media_type: str
) -> None:
    """POST takes each JSON media type the spec lists and returns the new id."""
    assert media_type in operation(f"/{entity}", "post")["consumes"]
    body = json.dumps({f"{ENTITIES[entity].prefix}Memo": "created", **creatable(webcrm, entity)})
    response = webcrm.post(
        f"/{entity}", content=body, headers={"Content-Type": _concrete(media_type)}
    )
    assert response.status_code == 200
    new_id = response.json()
    assert isinstance(new_id, int) and new_id >= 1000
    validator = response_validator(f"/{entity}", "post")
    if validator is not None:
        assert_valid(validator, new_id)
    record = webcrm.get(f"/{entity}/{new_id}").json()
    assert record[f"{ENTITIES[entity].prefix}Memo"] == "created"


@pytest.mark.parametrize("entity", ENTITY_NAMES)
@pytest.mark.parametrize("media_type", JSON_TYPES)
def test_put_and_patch_accept_every_json_media_type(
    webcrm: httpx.Client, entity: str, media_type: str
) -> None:
    """PUT and PATCH take each JSON media type; PATCH answers one string per item."""
    record_id = _first_id(webcrm, entity)
    headers = {"Content-Type": _concrete(media_type)}
    full = webcrm.get(f"/{entity}/{record_id}").json()
    put = webcrm.put(f"/{entity}/{record_id}", content=json.dumps(full), headers=headers)
    assert put.status_code == 200
    items = [{ENTITIES[entity].id_field: record_id}]
    patch = webcrm.patch(f"/{entity}", content=json.dumps(items), headers=headers)
    assert patch.status_code == 200
    assert_valid(response_validator(f"/{entity}", "patch"), patch.json())
    assert patch.json() == [str(record_id)]


@pytest.mark.parametrize("entity", ENTITY_NAMES)
def test_a_full_record_round_trips(webcrm: httpx.Client, entity: str) -> None:
    """A record read back and sent as a PUT body (every property) is accepted unchanged."""
    record_id = _first_id(webcrm, entity)
    before = webcrm.get(f"/{entity}/{record_id}").json()
    assert_valid(definition_validator(f"{ENTITIES[entity].prefix}Dto"), before)
    assert webcrm.put(f"/{entity}/{record_id}", json=before).status_code == 200
    after = webcrm.get(f"/{entity}/{record_id}").json()
    moving = {ENTITIES[entity].updated_at, f"{ENTITIES[entity].prefix}UpdatedBy"}
    assert {k: v for k, v in after.items() if k not in moving} == {
        k: v for k, v in before.items() if k not in moving
    }


@pytest.mark.parametrize("media_type", XML_TYPES)
def test_xml_bodies_are_refused_not_misread(webcrm: httpx.Client, media_type: str) -> None:
    """XML bodies (listed by the spec, not emulated) get 415 rather than a silent misparse."""
    response = webcrm.post(
        "/Persons", content="<PersonDto/>", headers={"Content-Type": _concrete(media_type)}
    )
    assert response.status_code == 415


def test_delete_product(webcrm: httpx.Client) -> None:
    """DELETE /Products/{id} answers 200 and the product is gone."""
    new_id = webcrm.post("/Products", json={"ProductCombined": "Kortvarig"}).json()
    assert webcrm.delete(f"/Products/{new_id}").status_code == 200
    assert webcrm.get(f"/Products/{new_id}").status_code == 404


@pytest.mark.parametrize("entity", ENTITY_NAMES)
def test_query_rows_validate(webcrm: httpx.Client, entity: str) -> None:
    """/Queries rows validate against the spec (and against the entity's DTO)."""
    table = ENTITIES[entity].query_table
    params: dict[str, Any] = {
        "script": f"SELECT * FROM {table} WHERE {table}UpdatedAt >= '2000-01-01 00:00:00'",
        "Page": 1,
        "Size": 1000,
        "formatCustomFields": "true",
    }
    response = webcrm.get("/Queries", params=params)
    assert response.status_code == 200
    rows = response.json()
    assert rows
    assert_valid(response_validator("/Queries", "get"), rows)
    for row in rows:
        assert_valid(definition_validator(f"{ENTITIES[entity].prefix}Dto"), row)
