"""WebCRM behaviour: auth and expiry, paging edges, PUT vs PATCH, strict input, timestamps."""

from __future__ import annotations

import re
import time
from datetime import datetime

import httpx
import pytest

from sync_pipeline.sandbox import RunningSandbox, running_sandbox
from sync_pipeline_tests.sandbox.conftest import creatable, quick_settings, webcrm_login
from sync_pipeline_tests.sandbox.spec import assert_valid, response_validator

LONDON_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0[01]:00$")


def test_bad_auth_code_is_401_with_is_error(sandbox: RunningSandbox) -> None:
    """A wrong authCode gets 401 and a TokenResponseDto with IsError true."""
    response = httpx.post(f"{sandbox.webcrm_url}/Auth/ApiLogin", data={"authCode": "nope"})
    assert response.status_code == 401
    assert response.json()["IsError"] is True
    assert_valid(response_validator("/Auth/ApiLogin", "post"), response.json())


def test_login_without_form_data_is_refused(sandbox: RunningSandbox) -> None:
    """authCode must come as form data; JSON is refused."""
    url = f"{sandbox.webcrm_url}/Auth/ApiLogin"
    assert httpx.post(url, json={"authCode": "sandbox-webcrm-token"}).status_code == 415
    assert httpx.post(url, data={"code": "sandbox-webcrm-token"}).status_code == 401


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", "Basic c2FuZGJveA==", "sandbox-webcrm-token"]
)
def test_calls_need_a_valid_bearer_token(sandbox: RunningSandbox, header: str | None) -> None:
    """Missing, unknown or non-bearer credentials get 401."""
    headers = {} if header is None else {"Authorization": header}
    response = httpx.get(f"{sandbox.webcrm_url}/Persons", headers=headers)
    assert response.status_code == 401


def test_tokens_expire_after_their_ttl() -> None:
    """With --token-ttl 1 a token works at once and gets 401 after expiry."""
    with (
        running_sandbox(quick_settings(seed=3, token_ttl=1.0)) as sandbox,
        webcrm_login(sandbox.webcrm_url) as client,
    ):
        assert client.get("/Persons").status_code == 200
        time.sleep(1.2)
        assert client.get("/Persons").status_code == 401


@pytest.mark.parametrize(
    ("size", "status"), [("0", 400), ("1", 200), ("1000", 200), ("1001", 400), ("x", 400)]
)
def test_size_bounds(sandbox: RunningSandbox, webcrm: httpx.Client, size: str, status: int) -> None:
    """Size must be 1..1000."""
    response = webcrm.get("/Persons", params={"Size": size})
    assert response.status_code == status
    if status == 200:
        assert len(response.json()) == min(int(size), len(sandbox.webcrm.records("Persons")))


@pytest.mark.parametrize(("page", "status"), [("0", 400), ("-1", 400), ("1000001", 400)])
def test_page_bounds(webcrm: httpx.Client, page: str, status: int) -> None:
    """Page must be 1..1000000."""
    assert webcrm.get("/Persons", params={"Page": page}).status_code == status


def test_pages_cover_everything_once_and_end_with_an_empty_page(webcrm: httpx.Client) -> None:
    """Paging walks every record once in id order; past the end the answer is []."""
    seen: list[int] = []
    page = 1
    while rows := webcrm.get("/Persons", params={"Page": page, "Size": 7}).json():
        seen += [row["PersonId"] for row in rows]
        page += 1
    assert seen == sorted(set(seen)) and len(seen) >= 40 and seen[0] >= 1000
    assert webcrm.get("/Persons", params={"Page": 1_000_000, "Size": 1000}).json() == []


def test_put_replaces_the_whole_record(webcrm: httpx.Client) -> None:
    """Fields left out of a PUT body become empty."""
    needed = creatable(webcrm, "Persons")
    new_id = webcrm.post(
        "/Persons", json={"PersonFirstName": "Åse", "PersonEmail": "a@b.no", **needed}
    ).json()
    put = webcrm.put(f"/Persons/{new_id}", json={"PersonFirstName": "Åsa", **needed})
    assert put.status_code == 200
    record = webcrm.get(f"/Persons/{new_id}").json()
    assert record["PersonFirstName"] == "Åsa" and record["PersonEmail"] is None


def test_patch_changes_only_the_fields_it_carries(webcrm: httpx.Client) -> None:
    """A PATCH item with an existing id keeps every property it does not mention."""
    new_id = webcrm.post(
        "/Persons",
        json={"PersonFirstName": "Bjørn", "PersonEmail": "b@c.dk", **creatable(webcrm, "Persons")},
    ).json()
    answer = webcrm.patch("/Persons", json=[{"PersonId": new_id, "PersonLastName": "Kjær"}])
    assert answer.json() == [str(new_id)]
    record = webcrm.get(f"/Persons/{new_id}").json()
    assert (record["PersonFirstName"], record["PersonLastName"], record["PersonEmail"]) == (
        "Bjørn",
        "Kjær",
        "b@c.dk",
    )


def test_patch_is_a_bulk_upsert_with_one_result_per_item(webcrm: httpx.Client) -> None:
    """Items without an id are inserted, unknown ids fail alone, the rest apply."""
    needed = creatable(webcrm, "Persons")
    existing = webcrm.post("/Persons", json={"PersonFirstName": "Mette", **needed}).json()
    items = [
        {"PersonFirstName": "Ny", **needed},
        {"PersonId": 99_999_999, "PersonFirstName": "Ghost"},
        {"PersonId": existing, "PersonMobilePhone": "+45 12 34 56 78"},
    ]
    created, failed, updated = webcrm.patch("/Persons", json=items).json()
    assert created.isdigit() and webcrm.get(f"/Persons/{created}").json()["PersonFirstName"] == "Ny"
    assert not failed.isdigit() and "99999999" in failed
    assert updated == str(existing)
    assert webcrm.get(f"/Persons/{existing}").json()["PersonMobilePhone"] == "+45 12 34 56 78"


def test_patch_takes_at_most_500_items(webcrm: httpx.Client) -> None:
    """501 items are refused as a whole; 500 are accepted."""
    assert webcrm.patch("/Products", json=[{}] * 501).status_code == 400
    answer = webcrm.patch("/Products", json=[{"ProductCombined": "Bulk"}] * 500)
    assert answer.status_code == 200 and len(answer.json()) == 500


@pytest.mark.parametrize(
    "body",
    [
        {"PersonFirstName": 5},
        {"PersonOrganisationId": "12"},
        {"PersonOrganisationId": 2**31},
        {"PersonCheckMark1": "yes"},
        {"PersonStatus": "Retired"},
        {"PersonBirthday": "yesterday"},
        {"PersonFirstNam": "typo"},
        ["not", "an", "object"],
    ],
)
def test_invalid_bodies_are_400(webcrm: httpx.Client, body: object) -> None:
    """Wrong types, unknown enum members, unknown properties and non-objects get 400."""
    response = webcrm.post("/Persons", json=body)
    assert response.status_code == 400
    assert response.json()["Type"] == "BadRequestException"


def test_invalid_patch_item_fails_the_whole_request(webcrm: httpx.Client) -> None:
    """A type error in one PATCH item is a 400 for the request; nothing is written."""
    before = len(webcrm.get("/Users", params={"Size": 1000}).json())
    items = [{"UserName": "Ok"}, {"UserLoginCount": "many"}]
    assert webcrm.patch("/Users", json=items).status_code == 400
    assert len(webcrm.get("/Users", params={"Size": 1000}).json()) == before


def test_missing_and_malformed_ids(webcrm: httpx.Client) -> None:
    """Unknown ids are 404, non-integer ids 400, DELETE exists only for products."""
    assert webcrm.get("/Persons/99999999").status_code == 404
    assert webcrm.put("/Users/99999999", json={}).status_code == 404
    assert webcrm.get("/Persons/abc").status_code == 400
    assert webcrm.delete("/Persons/1000").status_code == 405


def test_timestamps_are_whole_seconds_with_the_london_offset(webcrm: httpx.Client) -> None:
    """CreatedAt/UpdatedAt look like 2022-08-11T08:45:34+01:00 (the default zone, London, as
    in the live sample, evidence 11) and move on every write."""
    new_id = webcrm.post("/Products", json={"ProductCombined": "Tid"}).json()
    record = webcrm.get(f"/Products/{new_id}").json()
    assert LONDON_STAMP.match(record["ProductCreatedAt"])
    assert LONDON_STAMP.match(record["ProductUpdatedAt"])
    created = datetime.fromisoformat(record["ProductCreatedAt"])
    assert abs(created.timestamp() - time.time()) < 5
    time.sleep(1.05)
    webcrm.patch("/Products", json=[{"ProductId": new_id, "ProductPrice": 9.5}])
    later = webcrm.get(f"/Products/{new_id}").json()
    assert datetime.fromisoformat(later["ProductUpdatedAt"]) > created
    assert later["ProductCreatedAt"] == record["ProductCreatedAt"]


def test_server_fields_in_bodies_are_ignored(webcrm: httpx.Client) -> None:
    """Clients cannot set ids or timestamps: the server keeps its own."""
    body = {
        "PersonId": 5,
        "PersonUpdatedAt": "2001-01-01T00:00:00+01:00",
        "PersonFirstName": "X",
        **creatable(webcrm, "Persons"),
    }
    new_id = webcrm.post("/Persons", json=body).json()
    record = webcrm.get(f"/Persons/{new_id}").json()
    assert new_id != 5 and not record["PersonUpdatedAt"].startswith("2001")
    assert webcrm.put(f"/Persons/{new_id}", json={"PersonId": new_id + 1}).status_code == 400
