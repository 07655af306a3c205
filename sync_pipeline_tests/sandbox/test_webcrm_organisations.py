"""WebCRM `/Organisations` (vendor spec OrganisationDto), served from systems.yaml + the spec."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from sync_pipeline.core.systems import packaged_systems
from sync_pipeline.sandbox import CrmofficeState, RunningSandbox, WebcrmState
from sync_pipeline.sandbox.seed import seed_sandbox
from sync_pipeline.sandbox.webcrm_app import WebcrmApi, webcrm_routes
from sync_pipeline.sandbox.webcrm_dto import ENTITIES
from sync_pipeline_tests.sandbox.spec import assert_valid, response_validator


def test_every_declared_entity_is_served_with_the_spec_operations() -> None:
    """Routes come from systems.yaml and the vendored paths: DELETE only where the spec has it."""
    # why the ignore below: the test builds the app without the stats collector it never uses
    api = WebcrmApi(WebcrmState(), stats=None, auth_code="x", rate_limit=1, token_ttl=1)  # type: ignore[arg-type]
    methods = {
        # why the ignore below: Starlette types routes as BaseRoute; these are Route objects
        route.path: set(route.methods or ()) - {"HEAD"}  # type: ignore[attr-defined]
        for route in webcrm_routes(api)
    }
    for entity in packaged_systems().webcrm.entities:
        assert methods[f"/{entity}"] == {"GET", "POST", "PATCH"}
    assert methods["/Organisations/{id}"] == {"GET", "PUT"}
    assert methods["/Products/{id}"] == {"GET", "PUT", "DELETE"}


def test_seed_makes_a_few_nordic_organisations() -> None:
    """--seed 400 makes 20 organisations with Danish/Norwegian names, cities and phones,
    leaving the other entities' records as they were before organisations were seeded."""
    webcrm, crmoffice = WebcrmState(), CrmofficeState()
    seed_sandbox(webcrm, crmoffice, 400)
    organisations = webcrm.records("Organisations")
    assert len(organisations) == 20
    assert all(o["OrganisationName"].endswith((" A/S", " AS")) for o in organisations)
    assert {o["OrganisationCountry"] for o in organisations} == {"Danmark", "Norge"}
    assert all(o["OrganisationTelephone"] and o["OrganisationCity"] for o in organisations)
    assert len({o["OrganisationName"] for o in organisations}) > 10


def test_list_get_create_patch_and_put(webcrm: httpx.Client) -> None:
    """The five operations answer as the spec declares; a bulk PATCH updates only what it sends."""
    rows = webcrm.get("/Organisations", params={"Page": 1, "Size": 1000}).json()
    assert_valid(response_validator("/Organisations", "get"), rows)
    new_id = webcrm.post("/Organisations", json={"OrganisationName": "Fjordkraft AS"}).json()
    assert isinstance(new_id, int)
    patch = webcrm.patch(
        "/Organisations",
        json=[{"OrganisationId": new_id, "OrganisationCity": "Bergen"}, {"OrganisationName": "Ny"}],
    )
    assert_valid(response_validator("/Organisations", "patch"), patch.json())
    assert patch.json()[0] == str(new_id) and patch.json()[1].isdigit()
    record = webcrm.get(f"/Organisations/{new_id}").json()
    assert_valid(response_validator("/Organisations/{id}", "get"), record)
    assert (record["OrganisationName"], record["OrganisationCity"]) == ("Fjordkraft AS", "Bergen")
    assert webcrm.put(f"/Organisations/{new_id}", json={"OrganisationName": "X"}).status_code == 200
    assert webcrm.get(f"/Organisations/{new_id}").json()["OrganisationCity"] is None
    assert webcrm.delete(f"/Organisations/{new_id}").status_code == 405


def test_declared_limits_bound_page_and_bulk_sizes(webcrm: httpx.Client) -> None:
    """Size above the declared page_size and a PATCH above write_chunk are 400."""
    spec = packaged_systems().webcrm.entity("Organisations")
    too_big = webcrm.get("/Organisations", params={"Size": spec.page_size + 1})
    assert too_big.status_code == 400
    items = [{"OrganisationName": "Bulk"}] * (spec.write_chunk + 1)
    assert webcrm.patch("/Organisations", json=items).status_code == 400


def test_queries_read_the_organisation_table(sandbox: RunningSandbox, webcrm: httpx.Client) -> None:
    """`SELECT * FROM Organisation WHERE OrganisationUpdatedAt >= …` returns the rows changed
    since then (this module's writes), not the seeded ones."""
    first = ENTITIES["Organisations"]
    since = datetime.now(UTC).replace(microsecond=0)
    record_id = sandbox.webcrm.insert("Organisations", {"OrganisationName": "Nordlys ApS"})
    script = f"SELECT * FROM {first.query_table} WHERE {first.updated_at} >= '{since.isoformat()}'"
    rows = webcrm.get("/Queries", params={"script": script}).json()
    ids = [row["OrganisationId"] for row in rows]
    assert record_id in ids and not {1000, 1001} & set(ids)
