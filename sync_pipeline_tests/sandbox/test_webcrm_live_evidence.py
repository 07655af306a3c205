"""The sandbox behaves as the live WebCRM does: one test (or more) per evidence item of
`reference/webcrm-live-evidence.md` that touches Persons, Users, Products, Organisations,
`/Queries` or login (item 13, the 429 body, is in test_rate_limits.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from sync_pipeline.sandbox import RunningSandbox, running_sandbox
from sync_pipeline.sandbox.command import build_parser, settings_from
from sync_pipeline_tests.sandbox.conftest import (
    creatable,
    first_organisation_id,
    quick_settings,
    webcrm_login,
)

TOKEN = "sandbox-webcrm-token"
SUMMER = datetime(2022, 8, 11, 7, 45, 34, tzinfo=UTC)  # the live sample's instant


def _rows(client: httpx.Client, script: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/Queries", params={"script": script, "Size": 1000, **params})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def test_evidence_1_paths_query_names_and_login_field_are_case_insensitive(
    sandbox: RunningSandbox,
) -> None:
    """`/auth/apilogin` with `Authcode`, a lowercase `bearer`, `/persons?page=&size=` all work."""
    login = httpx.post(f"{sandbox.webcrm_url}/auth/apilogin", data={"Authcode": TOKEN})
    assert login.status_code == 200
    headers = {"Authorization": f"bearer {login.json()['AccessToken']}"}
    with httpx.Client(base_url=sandbox.webcrm_url, headers=headers) as client:
        first = client.get("/persons", params={"page": 1, "size": 3})
        second = client.get("/PERSONS", params={"Page": 2, "Size": 3})
        one = client.get(f"/Persons/{first.json()[0]['PersonId']}")
        script = "select personid from person where personupdatedat >= '2000-01-01'"
        rows = client.get("/queries", params={"Script": script, "SIZE": 2})
    assert [len(first.json()), len(second.json())] == [3, 3]
    assert first.json()[0]["PersonId"] < second.json()[0]["PersonId"]
    assert one.status_code == 200 and len(rows.json()) == 2


def test_evidence_2_api_refresh_trades_the_refresh_token(sandbox: RunningSandbox) -> None:
    """`POST /Auth/ApiRefresh` with the `refreshToken` header answers a new working token."""
    login = httpx.post(f"{sandbox.webcrm_url}/Auth/ApiLogin", data={"authCode": TOKEN}).json()
    url = f"{sandbox.webcrm_url}/Auth/ApiRefresh"
    refreshed = httpx.post(url, headers={"refreshToken": login["RefreshToken"]})
    assert refreshed.status_code == 200
    token = refreshed.json()["AccessToken"]
    assert token and token != login["AccessToken"]
    page = httpx.get(
        f"{sandbox.webcrm_url}/Users", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert isinstance(page, list)
    assert httpx.post(url, headers={"refreshToken": "nope"}).json()["IsError"] is True


def test_evidence_3_column_lists_order_by_and_custom_field_filters(webcrm: httpx.Client) -> None:
    """A column list, `AND`-ed comparisons on any column (custom fields too), `ORDER BY DESC`."""
    owner = first_organisation_id(webcrm)
    needed = creatable(webcrm, "Persons")
    made = [
        webcrm.post("/Persons", json={**needed, "PersonCustom1": "vip", "PersonEmail": e}).json()
        for e in ("a@evidence3.dk", "b@evidence3.dk")
    ]
    script = (
        "SELECT PersonId, PersonEmail, PersonOrganisationId FROM Person "
        f"WHERE PersonCustom1 = 'VIP' AND PersonOrganisationId = {owner} "
        "AND PersonEmail <> 'nobody@x.dk' ORDER BY PersonId DESC"
    )
    rows = _rows(webcrm, script)
    ours = [r for r in rows if r["PersonId"] in made]
    assert [r["PersonId"] for r in ours] == sorted(made, reverse=True)
    assert {r["PersonEmail"] for r in ours} == {"a@evidence3.dk", "b@evidence3.dk"}
    assert "PersonFirstName" not in ours[0] and ours[0]["PersonOrganisationId"] == owner


def test_evidence_3_multi_line_scripts_and_round_trip_dates(
    sandbox: RunningSandbox, webcrm: httpx.Client
) -> None:
    """A script over several lines with .NET round-trip literals (7 decimals, `Z` or offset)."""
    changed = sandbox.webcrm.insert("Users", {"UserName": "Evidence 3"}, at=SUMMER)
    script = (
        "SELECT *\n  FROM User\n WHERE UserUpdatedAt >= '2022-08-11T07:45:34.0000000Z'\n"
        "   AND UserUpdatedAt < '2022-08-11T08:45:35.0000000+01:00'\n ORDER BY UserId ASC;"
    )
    assert changed in {r["UserId"] for r in _rows(webcrm, script)}
    later = script.replace("07:45:34.0000000Z", "07:45:34.0000010Z")
    assert changed not in {r["UserId"] for r in _rows(webcrm, later)}


def test_evidence_4_rows_carry_row_number_raw_columns_and_numbers(webcrm: httpx.Client) -> None:
    """Query rows have `RowNumber` (across pages), raw `p_*` columns, custom digits as numbers."""
    made = webcrm.post(
        "/Persons", json={**creatable(webcrm, "Persons"), "PersonCustom2": "4711"}
    ).json()
    script = "SELECT * FROM Person WHERE PersonUpdatedAt >= '2000-01-01' ORDER BY PersonId"
    page_two = _rows(webcrm, script, Page=2, Size=5)
    assert [r["RowNumber"] for r in page_two] == [6, 7, 8, 9, 10]
    assert {"p_lastUpdatedById", "p_reportFilterMatch"} <= set(page_two[0])
    row = _rows(webcrm, f"SELECT PersonCustom2 FROM Person WHERE PersonId = {made}")[0]
    assert row["PersonCustom2"] == 4711 and row["RowNumber"] == 1


def test_evidence_5_login_answer_has_nulls_and_a_system_id(sandbox: RunningSandbox) -> None:
    """A successful login answers `Error`/`ErrorDescription` null and a `SystemId`."""
    body = httpx.post(f"{sandbox.webcrm_url}/Auth/ApiLogin", data={"authCode": TOKEN}).json()
    assert body["Error"] is None and body["ErrorDescription"] is None
    assert isinstance(body["SystemId"], int) and body["IsError"] is False


def test_evidence_6_a_failed_login_is_an_error(sandbox: RunningSandbox) -> None:
    """A wrong code is refused (status and body are undocumented live: only "not 200")."""
    answer = httpx.post(f"{sandbox.webcrm_url}/Auth/ApiLogin", data={"authCode": "wrong"})
    assert answer.status_code != 200 and answer.json()["IsError"] is True


def test_evidence_7_a_person_needs_a_last_name(webcrm: httpx.Client) -> None:
    """A create without `PersonLastName` fails: 400 for POST, its own item in a bulk PATCH."""
    owner = {"PersonOrganisationId": first_organisation_id(webcrm)}
    refused = webcrm.post("/Persons", json={"PersonFirstName": "Uten", **owner})
    assert refused.status_code == 400 and "PersonLastName" in refused.json()["Message"]
    results = webcrm.patch(
        "/Persons", json=[{"PersonFirstName": "Uten", **owner}, creatable(webcrm, "Persons")]
    ).json()
    assert "PersonLastName" in results[0] and results[1].isdigit()


def test_evidence_8_a_person_needs_an_existing_organisation_it_keeps(
    webcrm: httpx.Client,
) -> None:
    """No organisation, or one that does not exist, fails per item; the id cannot change."""
    named = {"PersonLastName": "Eierløs"}
    results = webcrm.patch(
        "/Persons", json=[named, {**named, "PersonOrganisationId": 99_999}]
    ).json()
    assert all("Organisation with id" in r for r in results)
    person = webcrm.post("/Persons", json=creatable(webcrm, "Persons")).json()
    other = webcrm.post("/Organisations", json={"OrganisationName": "Annen AS"}).json()
    moved = webcrm.patch("/Persons", json=[{"PersonId": person, "PersonOrganisationId": other}])
    assert "cannot be changed" in moved.json()[0]
    same = webcrm.get(f"/Persons/{person}").json()["PersonOrganisationId"]
    kept = webcrm.patch("/Persons", json=[{"PersonId": person, "PersonOrganisationId": same}])
    assert kept.json() == [str(person)]
    put = webcrm.put(
        f"/Persons/{person}", json={"PersonLastName": "X", "PersonOrganisationId": other}
    )
    assert put.status_code == 400


def test_evidence_9_fast_creates_fail_per_item_seeded_and_a_retry_succeeds() -> None:
    """With `--webcrm-create-failure-rate 0.3` some items of a bulk create fail on id
    generation (the same ones for the same seed); sending those again lands them."""
    outcomes = []
    for _ in range(2):
        settings = quick_settings(webcrm_create_failure_rate=0.3, fault_seed=7)
        with running_sandbox(settings) as sandbox, webcrm_login(sandbox.webcrm_url) as client:
            items = [{"ProductCombined": f"P{i}"} for i in range(40)]
            results = client.patch("/Products", json=items).json()
            failed = [item for item, r in zip(items, results, strict=True) if not r.isdigit()]
            again = client.patch("/Products", json=failed).json()
            outcomes.append([r.isdigit() for r in results])
        assert 0 < len(failed) < 40 and "generate an id" in next(
            r for r in results if not r.isdigit()
        )
        assert sum(r.isdigit() for r in again) > 0
    assert outcomes[0] == outcomes[1]


def test_evidence_10_unset_values_are_null_with_live_extra_fields(webcrm: httpx.Client) -> None:
    """Unset strings, Plus/Member fields and the last login are null; unset dates the .NET
    minimum; the live-only `PersonMarketDataId`/`PersonMarketDataProviderId` are present."""
    made = webcrm.post("/Persons", json=creatable(webcrm, "Persons")).json()
    record = webcrm.get(f"/Persons/{made}").json()
    assert record["PersonEmail"] is None and record["PersonPlus1"] is None
    assert record["PersonMemberNumber"] is None and record["PersonLastLoginDateTime"] is None
    assert record["PersonBirthday"] == "0001-01-01T00:00:00+00:00"
    assert {"PersonMarketDataId", "PersonMarketDataProviderId"} <= set(record)
    assert webcrm.put(f"/Persons/{made}", json=record).status_code == 200  # echoing them is fine


@pytest.mark.parametrize(
    ("zone", "rendered", "naive_literal"),
    [
        ("Europe/London", "2022-08-11T08:45:34+01:00", "2022-08-11 08:45:34"),
        ("Europe/Copenhagen", "2022-08-11T09:45:34+02:00", "2022-08-11 09:45:34"),
    ],
)
def test_evidence_11_the_zone_renders_times_and_reads_naive_literals(
    zone: str, rendered: str, naive_literal: str
) -> None:
    """`--webcrm-timezone` sets the offset times carry (London by default, as the live
    sample) and the zone an offset-less `/Queries` literal is read in; offsets always work."""
    with (
        running_sandbox(quick_settings(webcrm_timezone=zone)) as sandbox,
        webcrm_login(sandbox.webcrm_url) as client,
    ):
        made = sandbox.webcrm.insert("Products", {"ProductCombined": "Tid"}, at=SUMMER)
        assert client.get(f"/Products/{made}").json()["ProductUpdatedAt"] == rendered
        for literal in (naive_literal, "2022-08-11T07:45:34Z"):
            script = f"SELECT ProductId FROM Product WHERE ProductUpdatedAt = '{literal}'"
            assert [r["ProductId"] for r in _rows(client, script)] == [made]
    assert settings_from(build_parser().parse_args([])).webcrm_timezone == "Europe/London"


def test_evidence_12_created_at_follows_id_order(sandbox: RunningSandbox) -> None:
    """Lists come in id order and creation times never go down with the id (seed included)."""
    for entity, prefix in (("Persons", "Person"), ("Organisations", "Organisation")):
        records = sandbox.webcrm.records(entity)
        ids = [r[f"{prefix}Id"] for r in records]
        created = [datetime.fromisoformat(r[f"{prefix}CreatedAt"]) for r in records]
        assert ids == sorted(ids) and created == sorted(created)
